"""The topology method (MTL paper: Chen et al., persistent homology of the Li-only / Li-free clouds), declared once."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sicnb.methods import Method, register
from sicnb.topology.features import topology_features
from sicnb.topology.screening import R_CONNECTED_MAX_ANGSTROM, RHO_CYCLES_MAX, topological_screen

__all__ = ["TOPOLOGY", "TopologyParams"]


@dataclass(frozen=True)
class TopologyParams:
    """Parameters of :func:`topology_features` (sphere radius in Å, ...) and of the Sec. 2.2 screen."""

    radius_angstrom: float = 10.0
    mobile_ion: str = "Li"
    symprec: float = 0.01
    collapse: bool | None = None
    li_only_features: bool = False
    cutoff_angstrom: float | None = None
    r_connected_max_angstrom: float = R_CONNECTED_MAX_ANGSTROM  #: screen: r_connected < this (Å)
    rho_cycles_max: float = RHO_CYCLES_MAX  #: screen: rho_cycles < this


def _screen(table: pd.DataFrame, p: TopologyParams) -> pd.DataFrame:
    """Sec. 2.2 pass flags (:func:`topological_screen`) on the canonical table."""
    out = topological_screen(table.rename(columns={"r_connected_angstrom": "r_connected"}), p.r_connected_max_angstrom, p.rho_cycles_max)
    return out.rename(columns={"r_connected": "r_connected_angstrom"})


TOPOLOGY = register(Method(
    name="topology", title="Topology (MTL)", function=topology_features, params=TopologyParams,
    features={"r_connected": "r_connected_angstrom", "rho_cycles": "rho_cycles", "beta1_at_r_connected": "beta1_at_r_connected",
              "n_mobile_sites": "n_mobile_sites"},
    score="r_connected_angstrom", direction=-1, screen=_screen, pass_flags=("pass_r_connected", "pass_rho_cycles", "pass_topology"),
    citations=("Chen et al., MTL paper, Sec. 2.2, eqs. 1-2 (persistent homology screen of Li conductors)",),
    model="exact Vietoris-Rips persistent homology (no trained model)",
    description="r_connected (Å), MTL eq. 1: the Li-only sphere's connection radius; smaller = better connected Li sublattice",
    testing={"params": {"radius_angstrom": 6.0}, "structures": ("Li2O", "LiFePO4"), "atol": 1e-6},
    cli=False,  # `sicnb topology` has its own command module (sicnb/topology/cli.py)
))
