"""Semi-supervised clustering and descriptor screening (Laskowski, McHaffie & See, EES 16, 1264 (2023);
McHaffie thesis Ch. 2 and App. A).

Descriptors (Table 2.1) → Ward clustering at depths 2–300 → W_σ with the frozen-state strategy
(App. A.1) against a random control → descriptor screening (Fig. 2.2), SOAP grid (Table A.1),
second-order unions (App. A.3) → candidate selection at a chosen depth (Table 2.2).

18 of the 20 descriptors are implemented; CAVD and JARVIS-CFID are not
(:data:`sicnb.cluster.descriptors.NOT_IMPLEMENTED` says why).
"""
from sicnb.structure.approximant import majority_ordered
from sicnb.cluster.candidates import filter_candidates, megnet_band_gap, select_candidates
from sicnb.cluster.descriptors import DESCRIPTORS, NOT_IMPLEMENTED, PAPER_SIMPLIFICATIONS, descriptor_row
from sicnb.cluster.labels import conductivity_labels
from sicnb.cluster.screening import (
    Combination, alpha_scan, paper_combinations, rank_combinations, screen_combinations, soap_grid, union_table,
)
from sicnb.cluster.transformers import SOAPDescriptor, StructureDescriptor, descriptor_table
from sicnb.cluster.ward import (
    DEFAULT_DEPTHS, WardTree, cluster_assignments, frozen_ward_variance, random_control, w_sigma_curve, ward_tree,
)

__all__ = [
    "DESCRIPTORS", "NOT_IMPLEMENTED", "PAPER_SIMPLIFICATIONS", "descriptor_row", "descriptor_table",
    "StructureDescriptor", "SOAPDescriptor", "majority_ordered", "WardTree", "ward_tree", "cluster_assignments",
    "frozen_ward_variance", "random_control", "w_sigma_curve", "DEFAULT_DEPTHS", "Combination",
    "screen_combinations", "rank_combinations", "soap_grid", "paper_combinations", "union_table", "alpha_scan",
    "select_candidates", "filter_candidates", "megnet_band_gap", "conductivity_labels",
]
