"""Structure simplifications of Laskowski, McHaffie & See (thesis Ch. 2) and McHaffie et al. (Ch. 4).

Representative species (thesis §2.2): cations → Al, anions → S, mobile ions → Li, neutral → Mg.
Categories come from oxidation states (:func:`sicnb.structure.oxidation.assign_oxidation_states`):
positive → cation, negative → anion, zero → neutral; the mobile element is always "mobile".

=============  ==============================================  ===========================
scheme         what is kept                                    paper name
=============  ==============================================  ===========================
``none``       the structure as it is                          Ch. 2 "none", Ch. 4 "CAMN"
``no_mobile``  all but the mobile ion, species unchanged        Ch. 4 "CAN"
``CAMN``       C→Al, A→S, M→Li, N→Mg, all retained             Ch. 2 CAMN = Ch. 4 CAMNS
``CAN``        as CAMN, mobile ions removed                    Ch. 2 CAN  = Ch. 4 CANS
``AM``         anions (S) and mobile ions (Li) only            Ch. 2 AM
``A``          anions (S) only                                 Ch. 2 A
``X-40``       any of the above rescaled to 40 Å³ per anion    Ch. 2 CAMN-40, ..., A-40
=============  ==============================================  ===========================

Partial occupancies are kept: each species on a site is mapped to its representative and
occupancies of species mapped to the same representative are summed.
"""
from __future__ import annotations

from collections import defaultdict

from pymatgen.core import Structure

from sicnb.errors import ParameterError, StructureError
from sicnb.structure.oxidation import assign_oxidation_states

__all__ = ["simplify", "SCHEMES", "ALIASES", "REPRESENTATIVES", "categorize_species"]

REPRESENTATIVES = {"cation": "Al", "anion": "S", "mobile": "Li", "neutral": "Mg"}
_KEEP = {
    "CAMN": {"cation", "anion", "mobile", "neutral"},
    "CAN": {"cation", "anion", "neutral"},
    "AM": {"anion", "mobile"},
    "A": {"anion"},
}
SCHEMES = ("none", "no_mobile", "CAMN", "CAN", "AM", "A", "CAMN-40", "CAN-40", "AM-40", "A-40")
ALIASES = {"CAMNS": "CAMN", "CANS": "CAN", "CAMNS-40": "CAMN-40", "CANS-40": "CAN-40"}


def categorize_species(sp, mobile_ion: str) -> str:
    """cation / anion / neutral / mobile for one (oxidation-decorated) species."""
    sym = getattr(sp, "symbol", str(sp))
    if sym == mobile_ion:
        return "mobile"
    oxi = getattr(sp, "oxi_state", None) or 0
    if oxi > 0:
        return "cation"
    if oxi < 0:
        return "anion"
    return "neutral"


def simplify(structure: Structure, scheme: str = "CAMN", mobile_ion: str = "Li", volume_per_anion: float = 40.0,
             oxidation: str = "bv") -> Structure:
    """Return the simplified structure for ``scheme`` (see the module table; ``CAMNS``/``CANS`` are aliases).

    ``oxidation``: which assignment :func:`assign_oxidation_states` tries first for the categories,
    ``"bv"`` (bond valence, per site) or ``"guess"`` (composition statistics, ~25× cheaper).

    ``X-40`` schemes scale the lattice isotropically so that volume / (number of anions,
    occupancy-weighted, counted before removal) = ``volume_per_anion`` Å³ (thesis §2.2: 40 Å³).
    The input is not modified.
    """
    scheme = ALIASES.get(scheme, scheme)
    if scheme not in SCHEMES:
        raise ParameterError(f"unknown simplification {scheme!r}; choose from {SCHEMES} or aliases {tuple(ALIASES)}")
    if scheme == "none":
        return structure.copy()
    if scheme == "no_mobile":
        from sicnb.structure.sublattices import framework

        return framework(structure, mobile_ion)
    base, _, rescale = scheme.partition("-")
    decorated, _method = assign_oxidation_states(structure, prefer=oxidation)
    keep = _KEEP[base]
    species, coords = [], []
    n_anion = 0.0
    for site in decorated:
        occ: dict[str, float] = defaultdict(float)
        for sp, x in site.species.items():
            cat = categorize_species(sp, mobile_ion)
            if cat == "anion":
                n_anion += x
            if cat in keep:
                occ[REPRESENTATIVES[cat]] += x
        if occ:
            species.append({k: min(v, 1.0) for k, v in occ.items()})
            coords.append(site.frac_coords)
    if not species:
        raise StructureError(f"{structure.composition.reduced_formula}: simplification {scheme} leaves no atoms")
    out = Structure(structure.lattice, species, coords)
    if rescale:
        if n_anion <= 0:
            raise StructureError(f"{structure.composition.reduced_formula}: no anions, cannot rescale to {volume_per_anion} Å³ per anion")
        out.scale_lattice(volume_per_anion * n_anion)
    return out
