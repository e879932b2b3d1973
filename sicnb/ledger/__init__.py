"""One candidate ledger across all of sicnb's methods (notebook 06).

>>> from sicnb.data import load
>>> from sicnb.ledger import build_ledger, agreement
>>> ledger = build_ledger(load("embedded"))          # runs or reads from cache every method
>>> ledger.summary()                                  # which methods are present / absent, and why
>>> result = agreement(ledger)                        # correlations, top-k overlap, enrichment, verdict

* :mod:`sicnb.ledger.core` — :class:`MethodAdapter` registry, :func:`build_ledger`, :class:`Ledger`.
* :mod:`sicnb.ledger.methods` — the built-in adapters (topology, cluster, pes, classify, bvse, htvs). PES is a
  *cascade*: scanned only for the top structures of the consensus of the whole-pool methods (plus whatever is
  cached), kept out of the consensus, and analysed within its scored subset.
* :mod:`sicnb.ledger.labels` — which structures are known conductors (records, OBELiX, literature table).
* :mod:`sicnb.ledger.stats` — rank correlations, top-k overlap, enrichment with bootstrap intervals,
  the consensus rank and its paired comparison with each single method.
* :mod:`sicnb.ledger.consensus` — the learned (stacked) consensus, its shipped weights and each method's repeated-LOCO
  evidence on OBELiX train; :mod:`sicnb.ledger.oof` — out-of-fold scores of the supervised methods (classify, cluster).
* :mod:`sicnb.ledger.report` — per-structure report cards (figures in :mod:`sicnb.viz.ledger`);
  :mod:`sicnb.ledger.levelgrid` — the cached PES energy grid behind a card's level-map isosurface.
"""
from sicnb.ledger.analysis import Agreement, agreement
from sicnb.ledger.consensus import LearnedConsensus, load_learned_consensus, method_evidence
from sicnb.ledger.core import Ledger, MethodAdapter, build_ledger, get_method, method_names, register_method
from sicnb.ledger.labels import known_conductor_labels, obelix_reference
from sicnb.ledger.stats import (
    DEFAULT_KS, ConsensusVerdict, consensus_scores, consensus_verdict, enrichment, expected_hits, paired_enrichment,
    percentile_ranks, rank_correlations, rank_order, top_k, topk_overlap,
)

__all__ = [
    "Ledger", "MethodAdapter", "build_ledger", "get_method", "method_names", "register_method", "known_conductor_labels",
    "obelix_reference", "Agreement", "agreement", "DEFAULT_KS", "ConsensusVerdict", "consensus_scores", "consensus_verdict",
    "enrichment", "expected_hits", "paired_enrichment", "percentile_ranks", "rank_correlations", "rank_order", "top_k",
    "topk_overlap", "LearnedConsensus", "load_learned_consensus", "method_evidence",
]
