"""All agreement statistics of a ledger in one call: what notebook 06 and ``sicnb ledger`` report."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd

from sicnb.errors import ParameterError
from sicnb.ledger.core import Ledger
from sicnb.ledger.stats import (
    DEFAULT_KS, ConsensusVerdict, consensus_verdict, enrichment, paired_enrichment, rank_correlations, topk_overlap,
)

__all__ = ["Agreement", "agreement"]


@dataclass
class Agreement:
    """Numbers comparing the methods of one ledger (tables as DataFrames; see :mod:`sicnb.ledger.stats`)."""

    correlations: pd.DataFrame
    overlap: pd.DataFrame
    enrichment: pd.DataFrame
    paired: pd.DataFrame
    verdicts: list[ConsensusVerdict]
    n_known: int
    n_pool: int
    settings: dict = field(default_factory=dict)

    def verdict_table(self) -> pd.DataFrame:
        """One row per k: consensus vs the best single method, with intervals and the outcome."""
        return pd.DataFrame([{
            "k": v.k, "best_method": v.best_method, "ef_consensus": v.ef_consensus, "ef_consensus_lo": v.ef_consensus_ci[0],
            "ef_consensus_hi": v.ef_consensus_ci[1], "ef_best": v.ef_best, "ef_best_lo": v.ef_best_ci[0], "ef_best_hi": v.ef_best_ci[1],
            "diff": v.diff, "diff_lo": v.diff_ci[0], "diff_hi": v.diff_ci[1], "p_consensus_better": v.p_consensus_better,
            "outcome": v.outcome} for v in self.verdicts])


def agreement(ledger: Ledger, ks: Sequence[int] = DEFAULT_KS, n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> Agreement:
    """Rank correlations, top-k overlap (incl. consensus), enrichment of known conductors with bootstrap
    intervals, and the paired comparison of the consensus with every single method."""
    scores = ledger.scores(include_consensus=True)
    if scores.shape[1] < 2:
        raise ParameterError(f"the ledger has {len(ledger.present)} present method(s) ({ledger.present}); agreement needs at least one "
                             "method plus the consensus — check ledger.summary() for why the others are absent")
    known = ledger.known()
    methods_only = scores.drop(columns="consensus")
    corr = rank_correlations(methods_only)
    over = topk_overlap(scores, ks)
    n_known = int(known.sum())
    if n_known == 0:
        enr = pd.DataFrame(columns=["method", "k", "ef", "ef_lo", "ef_hi"])
        paired = pd.DataFrame(columns=["reference", "method", "k", "diff", "diff_lo", "diff_hi"])
        verdicts: list[ConsensusVerdict] = []
    else:
        enr = enrichment(scores, known, ks, n_boot=n_boot, ci=ci, seed=seed)
        paired = paired_enrichment(scores, known, "consensus", ks, n_boot=n_boot, ci=ci, seed=seed)
        verdicts = consensus_verdict(enr, paired)
    return Agreement(corr, over, enr, paired, verdicts, n_known, len(scores),
                     {"ks": list(ks), "n_boot": n_boot, "ci": ci, "seed": seed, "consensus": ledger.consensus_settings})
