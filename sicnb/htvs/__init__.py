"""Substitution high-throughput virtual screening (Du & Wang; notebook 05).

>>> from sicnb.htvs import prototypes_from, pool_size, run_funnel, validate
>>> protos, skipped = prototypes_from(sicnb.data.embedded())      # Li ternaries/quaternaries
>>> pool_size(protos)                                              # exact, without generating
>>> result = run_funnel(protos[:5], n_candidates=300)              # stages 1-7, counts in result.funnel

Modules: :mod:`~sicnb.htvs.generate` (streaming substitution), :mod:`~sicnb.htvs.composition` (dedupe,
SMACT charge neutrality), :mod:`~sicnb.htvs.energy` / :mod:`~sicnb.htvs.properties` (ML-potential energies,
MEGNet band gap), :mod:`~sicnb.htvs.stability` (hull, E_f, E_hull, grand-potential windows),
:mod:`~sicnb.htvs.conductivity` (pluggable scorers), :mod:`~sicnb.htvs.screen` (the funnel and validation),
:mod:`~sicnb.htvs.pool` (the same stability screens on every structure of an existing pool; the ledger's ``htvs`` method).
"""
from sicnb.htvs.composition import ChargeNeutrality, dedupe_by_composition, key_to_formula, parse_key
from sicnb.htvs.conductivity import Scorer, available_scorers, bvse_scorer, default_scorer, psi_scorer, xi_scorer
from sicnb.htvs.generate import (
    PALETTE_28,
    Candidate,
    Prototype,
    candidate_chunks,
    iter_substitutions,
    pool_size,
    prototype_from_structure,
    prototypes_from,
    substituted_structure,
    substitution_count,
)
from sicnb.htvs.screen import PAPER_FIGURE5, FunnelResult, Thresholds, figure5_table, funnel_table, pick_finalists, run_funnel, sample_candidates, screen_compositions, screen_structures, validate
from sicnb.htvs.stability import ReferenceHull, decomposition_energy_profile, formation_and_hull, hull_points, stability_window
from sicnb.htvs.pool import pool_reference_hull, pool_stability, screen_pool

__all__ = [
    "PALETTE_28", "Prototype", "Candidate", "prototype_from_structure", "prototypes_from", "substitution_count", "pool_size",
    "iter_substitutions", "candidate_chunks", "substituted_structure", "ChargeNeutrality", "dedupe_by_composition", "parse_key",
    "key_to_formula", "ReferenceHull", "formation_and_hull", "hull_points", "stability_window", "decomposition_energy_profile", "Scorer",
    "psi_scorer", "bvse_scorer", "xi_scorer", "default_scorer", "available_scorers", "Thresholds", "FunnelResult", "sample_candidates",
    "screen_compositions", "screen_structures", "funnel_table", "run_funnel", "validate", "PAPER_FIGURE5", "pick_finalists", "figure5_table",
    "pool_reference_hull", "pool_stability", "screen_pool",
]
