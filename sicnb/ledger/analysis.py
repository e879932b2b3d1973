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
    #: cascade methods (PES) analysed within the structures they scored: one row per (method, k) for the
    #: method and for the consensus restricted to the same subset, with ``subset_n`` and ``subset_n_pos``
    subset_enrichment: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: one line per cascade method saying what its subset analysis can and cannot show
    subset_notes: list[str] = field(default_factory=list)

    def verdict_table(self) -> pd.DataFrame:
        """One row per k: consensus vs the best single method, with intervals and the outcome."""
        return pd.DataFrame([{
            "k": v.k, "best_method": v.best_method, "ef_consensus": v.ef_consensus, "ef_consensus_lo": v.ef_consensus_ci[0],
            "ef_consensus_hi": v.ef_consensus_ci[1], "ef_best": v.ef_best, "ef_best_lo": v.ef_best_ci[0], "ef_best_hi": v.ef_best_ci[1],
            "diff": v.diff, "diff_lo": v.diff_ci[0], "diff_hi": v.diff_ci[1], "p_consensus_better": v.p_consensus_better,
            "outcome": v.outcome} for v in self.verdicts])


def _subset_analysis(ledger: Ledger, n_boot: int, ci: float, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """Enrichment of each cascade method and of the consensus *within the cascade method's scored subset*."""
    rows, notes = [], []
    known = ledger.known()
    allscores = ledger.scores(include_consensus=True)
    for m in ledger.cascade_methods:
        sub = allscores.loc[allscores[m].notna(), [m, "consensus"]]
        n, n_pos = len(sub), int(known.reindex(sub.index).sum())
        if n < 2:
            notes.append(f"{m}: {n} structure(s) scored — no subset analysis")
            continue
        ks = sorted({max(1, round(n * f)) for f in (0.2, 0.5)})
        if n_pos == 0:
            notes.append(f"{m}: none of its {n} scored structures is a known conductor, so its enrichment is undefined; "
                         "its Ξ ranks only the cascade shortlist and is not comparable with the whole-pool methods")
            continue
        enr = enrichment(sub, known.reindex(sub.index), ks, n_boot=n_boot, ci=ci, seed=seed)
        pair = paired_enrichment(sub, known.reindex(sub.index), "consensus", ks, n_boot=n_boot, ci=ci, seed=seed)
        enr = enr.merge(pair[["k", "diff", "diff_lo", "diff_hi"]].rename(columns={"diff": "consensus_minus_method",
                        "diff_lo": "consensus_minus_method_lo", "diff_hi": "consensus_minus_method_hi"}), on="k", how="left")
        enr.insert(0, "subset_of", m)
        rows.append(enr)
        notes.append(f"{m}: scored {n} structures ({n_pos} known conductors among them); enrichment at k = {', '.join(map(str, ks))} "
                     "within that subset only, against the consensus restricted to the same structures — the subset was chosen by "
                     "the consensus of the other methods, so neither number is comparable with whole-pool enrichment")
    return (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()), notes


def agreement(ledger: Ledger, ks: Sequence[int] = DEFAULT_KS, n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> Agreement:
    """Rank correlations, top-k overlap (incl. consensus), enrichment of known conductors with bootstrap
    intervals, and the paired comparison of the consensus with every single method.

    Whole-pool statistics (overlap, enrichment, verdict) use the methods in the consensus
    (:attr:`Ledger.consensus_methods`); rank correlations include the cascade methods on their common
    structures (``n`` says how many). Cascade methods (PES) get their own enrichment within the
    structures they scored (:attr:`Agreement.subset_enrichment`, explained in ``subset_notes``).
    """
    scores = ledger.scores(include_consensus=True, methods=ledger.consensus_methods)
    if scores.shape[1] < 2:
        raise ParameterError(f"the ledger has {len(ledger.present)} present method(s) ({ledger.present}); agreement needs at least one "
                             "method plus the consensus — check ledger.summary() for why the others are absent")
    known = ledger.known()
    corr = rank_correlations(ledger.scores())
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
    sub, notes = _subset_analysis(ledger, n_boot, ci, seed) if n_known else (pd.DataFrame(), [])
    return Agreement(corr, over, enr, paired, verdicts, n_known, len(scores),
                     {"ks": list(ks), "n_boot": n_boot, "ci": ci, "seed": seed, "consensus": ledger.consensus_settings},
                     sub, notes)
