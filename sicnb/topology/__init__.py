"""Topological screening by persistent homology (Chen et al., MTL paper): Li-only / Li-free point clouds,
exact Vietoris–Rips barcodes, r_connected (eq. 1), rho_cycles (eq. 2), the 22 features (Sec. 2.3),
affinity propagation, and the chemical rules (1)–(8) of Sec. 2.4.

>>> from sicnb.parallel import pmap
>>> from sicnb.topology import topology_features, topological_screen
>>> table = topological_screen(pmap(topology_features, dataset, {"radius_angstrom": 10.0}))
"""
from sicnb.topology.barcodes import (
    Barcode, SiteClouds, betti_at, h0_deaths, rips_barcode, site_clouds, structure_clouds,
)
from sicnb.topology.chemistry import ChemicalRule, apply_chemical_rules, chemical_rules, default_rules
from sicnb.topology.features import (
    AUTHORS_CODE_FEATURE_NAMES, FEATURE_NAMES, MTL_FEATURE_NAMES, MTL_LI_ONLY_FEATURE_NAMES, SiteTopology,
    barcode_statistics, cell_mobile_beta1, mtl_feature_names, r_connected, site_topology, structure_site_topologies, topology_features,
)
from sicnb.topology.screening import (
    RHO_CYCLES_MAX, R_CONNECTED_MAX_ANGSTROM, TopologicalFeaturizer, affinity_clusters, cluster_enrichment, funnel,
    known_conductor_flags, topological_screen,
)

__all__ = [
    "Barcode", "SiteClouds", "betti_at", "h0_deaths", "rips_barcode", "site_clouds", "structure_clouds", "ChemicalRule", "apply_chemical_rules",
    "chemical_rules", "default_rules", "AUTHORS_CODE_FEATURE_NAMES", "FEATURE_NAMES", "MTL_FEATURE_NAMES", "MTL_LI_ONLY_FEATURE_NAMES",
    "barcode_statistics", "cell_mobile_beta1", "mtl_feature_names", "SiteTopology", "r_connected",
    "site_topology", "structure_site_topologies", "topology_features", "RHO_CYCLES_MAX", "R_CONNECTED_MAX_ANGSTROM",
    "TopologicalFeaturizer", "affinity_clusters", "cluster_enrichment", "funnel", "known_conductor_flags", "topological_screen",
]
