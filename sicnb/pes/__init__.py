"""PES descriptors from a universal ML potential (Maevskiy et al.): frozen-framework scans, level map,
MPE, free volumes, Ξ, and the partial-ROC-AUC scoring of Sec. II B.

>>> from sicnb.pes import pes_descriptors
>>> pes_descriptors(structure)            # flat dict: MPE, FV_connected_0.5, ..., Xi, n_potential_calls
"""
from sicnb.pes.levelmap import (
    DEFAULT_THRESHOLDS_EV,
    centred_supercell,
    free_volume,
    level_map,
    minimal_percolation_energy,
    percolation_path,
    xi_descriptor,
)
from sicnb.pes.scan import DEFAULT_CONNECTIVITY, DEFAULT_FV_SMEARING_EV, DEFAULT_MARGINS_EV, DEFAULT_POTENTIAL, DEFAULT_STRIDES, PESResult, SiteScan, order_structure, pes_descriptors, pes_scan, scan_site

__all__ = [
    "DEFAULT_THRESHOLDS_EV", "DEFAULT_POTENTIAL", "DEFAULT_CONNECTIVITY", "DEFAULT_FV_SMEARING_EV", "DEFAULT_STRIDES", "DEFAULT_MARGINS_EV", "centred_supercell", "free_volume", "level_map",
    "minimal_percolation_energy", "percolation_path", "xi_descriptor", "PESResult", "SiteScan", "order_structure", "pes_descriptors",
    "pes_scan", "scan_site",
]
