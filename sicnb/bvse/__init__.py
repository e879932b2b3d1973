"""Bond-valence site-energy (BVSE) migration barriers with ``bvlain`` (thesis App. A.2; Adams & Rao).

>>> from sicnb.bvse import bvse_barriers
>>> bvse_barriers(lifepo4)                       # {'E_a_1D': 0.44, 'E_a_2D': 3.33, 'E_a_3D': 3.35, ...}
>>> table = pmap(bvse_barriers, dataset, {"mobile_ion": "Li"})   # cached per structure

``E_a_nD`` (eV) is the lowest energy at which the mobile-ion BVSE landscape percolates in n
dimensions (bvlain ``percolation_barriers``); ``E_a`` is the paper's single activation energy,
the 1D percolation barrier (the lowest barrier to long-range transport in any dimension).
Barriers above ``encut_eV`` are reported as ``inf`` by bvlain and become NaN here, with
``percolates_nD = False`` saying why (a NaN never comes without its reason). bvlain computes the
energy grid; the percolation bisection is :func:`sicnb.bvse.percolation.percolation_barriers`, bvlain's
algorithm returning bvlain's numbers without its quadratic relabelling (3–35× faster on OBELiX cells).

Disordered structures are replaced by their majority-species ordered approximant
(:func:`sicnb.cluster.approximant.majority_ordered`); oxidation states come from
:func:`sicnb.structure.assign_oxidation_states` with ``fractional=True`` (bond-valence analysis, else the
ICSD-statistics guess, else per-element states that neutralise the refined, non-integer composition —
``oxidation_method = "balance"``; a sign-only guess is refused). ``ordered_approximant`` in the result says when the approximation
was used.
"""
from __future__ import annotations

import contextlib
import io

import math
import warnings
from typing import Any

import numpy as np
from pymatgen.core import Element, Species, Structure

from sicnb.bvse.percolation import percolation_barriers
from sicnb.errors import ParameterError, StructureError, require

__all__ = ["bvse_barriers", "bvse_landscape", "BVSE_CITATION"]

BVSE_CITATION = ("Adams & Rao, Phys. Status Solidi A 208, 1746 (2011); bvlain (Fedotov et al.), "
                 "as used in Laskowski, McHaffie & See, EES 16, 1264 (2023), App. A.2")


def bvse_landscape(
    structure: Structure,
    mobile_ion: str = "Li",
    mobile_oxidation_state: int = 1,
    r_cut_angstrom: float = 10.0,
    resolution_angstrom: float = 0.2,
    min_occupancy: float = 0.5,
) -> tuple[Any, str]:
    """The bvlain calculator holding the BVSE energy grid of ``mobile_ion`` in ``structure``
    (``calc.data``, eV, one unit cell at ``resolution_angstrom`` spacing; App. A.2), and the
    oxidation-state method used. Raises :class:`StructureError` when the mobile ion is missing,
    oxidation states cannot be assigned or bvlain has no parameters for a pair of ions.
    """
    if resolution_angstrom <= 0 or r_cut_angstrom <= 0:
        raise ParameterError(f"r_cut_angstrom and resolution_angstrom must be positive, got {r_cut_angstrom}, {resolution_angstrom}")
    bvlain = require("bvlain", extra="methods")
    from sicnb.structure.approximant import majority_ordered
    from sicnb.structure import assign_oxidation_states
    if mobile_ion not in {e.symbol for e in structure.composition.elements}:
        raise StructureError(f"{structure.composition.reduced_formula} contains no {mobile_ion}; BVSE needs the mobile ion")
    decorated, method = assign_oxidation_states(structure, fractional=True)
    if method == "sign":
        raise StructureError(
            f"{structure.composition.reduced_formula}: oxidation states could only be guessed by sign "
            "(no bond-valence, ICSD-statistics or charge-balanced assignment within 2 %); "
            "BVSE needs formal charges — decorate the structure with oxidation states first"
        )
    ordered = majority_ordered(decorated, min_occupancy=min_occupancy)
    # integer formal charges, and the mobile ion at its stated charge
    species = []
    for site in ordered:
        sp = site.specie
        oxi = getattr(sp, "oxi_state", None)
        if sp.symbol == mobile_ion:
            oxi = mobile_oxidation_state
        if oxi is None or abs(oxi - round(oxi)) > 1e-6:
            raise StructureError(
                f"{structure.composition.reduced_formula}: non-integer oxidation state {oxi} on {sp.symbol}; "
                "BVSE needs integer formal charges"
            )
        species.append(Species(sp.symbol, int(round(oxi))))
    ordered = Structure(ordered.lattice, species, ordered.frac_coords)
    ion = f"{mobile_ion}{mobile_oxidation_state}{'+' if mobile_oxidation_state > 0 else '-'}"
    calc = bvlain.Lain(verbose=False)
    chatter = io.StringIO()  # bvlain prints its own complaints; they become the error message instead
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(chatter):
            warnings.simplefilter("ignore")
            calc.read_structure(ordered, oxi_check=False)
            calc.bvse_distribution(mobile_ion=ion, r_cut=float(r_cut_angstrom), resolution=float(resolution_angstrom))
    except KeyError as exc:
        charges = sorted({f"{sp.symbol}{sp.oxi_state:+d}" for sp in species if sp.symbol != mobile_ion})
        key = exc.args[0] if exc.args else None
        missing = Element.from_Z(int(key)).symbol if isinstance(key, (int, np.integer)) and 0 < int(key) < 119 else repr(key)
        raise StructureError(
            f"{structure.composition.reduced_formula}: bvlain has no BVSE parameters for {ion} against {missing} "
            f"at these oxidation states ({', '.join(charges)}); no barrier can be computed for this structure"
        ) from None
    return calc, method


def bvse_barriers(
    structure: Structure,
    mobile_ion: str = "Li",
    mobile_oxidation_state: int = 1,
    r_cut_angstrom: float = 10.0,
    resolution_angstrom: float = 0.2,
    encut_eV: float = 10.0,
    min_occupancy: float = 0.5,
) -> dict[str, Any]:
    """BVSE percolation barriers (eV) of ``mobile_ion`` in ``structure`` (App. A.2).

    Returns ``E_a_1D``, ``E_a_2D``, ``E_a_3D`` (NaN where the network does not percolate below
    ``encut_eV``), ``E_a`` (= ``E_a_1D``), ``percolates_1D/2D/3D``, ``ordered_approximant``,
    ``oxidation_method``. Raises :class:`StructureError` when the mobile ion is missing or oxidation
    states cannot be assigned (see :func:`bvse_landscape`).
    """
    calc, method = bvse_landscape(structure, mobile_ion, mobile_oxidation_state, r_cut_angstrom,
                                  resolution_angstrom, min_occupancy)
    energies = percolation_barriers(calc.data, encut_eV=float(encut_eV))  # bvlain's bisection and numbers, faster
    out: dict[str, Any] = {}
    for dim in ("1D", "2D", "3D"):
        e = float(energies[f"E_{dim}"])
        ok = math.isfinite(e) and e < encut_eV
        out[f"E_a_{dim}"] = e if ok else float("nan")
        out[f"percolates_{dim}"] = bool(ok)
    out["E_a"] = out["E_a_1D"]
    out["ordered_approximant"] = not structure.is_ordered
    out["oxidation_method"] = method
    return out


bvse_barriers.cache_version = 3  # 3: charge-balanced states for refined non-integer compositions  # type: ignore[attr-defined]
bvse_barriers.allow_nan = True  # type: ignore[attr-defined]  # E_a_nD is NaN exactly when percolates_nD is False (the reason)
