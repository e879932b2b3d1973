"""The BVSE method (Adams & Rao; bvlain), declared once: ``sicnb bvse``, its featurizer and ledger entry follow."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sicnb.bvse import BVSE_CITATION, bvse_barriers
from sicnb.methods import Method, register

__all__ = ["BVSE", "BvseParams", "PASS_ACTIVATION_ENERGY_EV"]

#: thesis §2.3 filter: a BVSE activation energy below this passes (eV)
PASS_ACTIVATION_ENERGY_EV = 0.6


@dataclass(frozen=True)
class BvseParams:
    """Parameters of :func:`sicnb.bvse.bvse_barriers` (units in the names)."""

    mobile_ion: str = "Li"
    mobile_oxidation_state: int = 1
    r_cut_angstrom: float = 10.0
    resolution_angstrom: float = 0.2
    encut_eV: float = 10.0
    min_occupancy: float = 0.5


def _screen(table: pd.DataFrame, p: BvseParams) -> pd.DataFrame:
    if "activation_energy_eV" in table:
        table["pass_Ea"] = pd.to_numeric(table["activation_energy_eV"], errors="coerce") < PASS_ACTIVATION_ENERGY_EV
    return table


BVSE = register(Method(
    name="bvse", title="BVSE E_a", function=bvse_barriers, params=BvseParams,
    features={"E_a": "activation_energy_eV", "E_a_3D": "activation_energy_3D_eV", "percolates_1D": "percolates_1D",
              "percolates_3D": "percolates_3D", "ordered_approximant": "ordered_approximant"},
    score="activation_energy_eV", direction=-1, screen=_screen, pass_flags=("pass_Ea",), citations=(BVSE_CITATION,),
    requires=("sicnb.bvse:bvse_barriers", "bvlain"), model="bvlain bond-valence site energies (softBV parameters)",
    description="BVSE 1D percolation barrier E_a (eV); pass_Ea: E_a < 0.6 eV (thesis §2.3 filter)",
    cli_help="BVSE percolation barriers per structure (bvlain; activation_energy_eV = 1D barrier)",
    # the registry-wide invariance run is slow-marked: tests/test_bvse.py runs the same suite on Li2O in CI
    testing={"params": {}, "structures": ("Li2O", "LiFePO4"), "atol": 0.03, "nan_allowed": ("E_a_3D",), "slow": True},
    cli_aliases={"r_cut_angstrom": "--r-cut", "resolution_angstrom": "--resolution"},
))
