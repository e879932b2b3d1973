"""Ordered approximants of disordered structures, for descriptors and methods that need whole atoms.

Most OBELiX CIFs carry partial occupancies; SOAP (dscribe), the matminer structure featurizers
and BVSE (bvlain) need one species per site. :func:`majority_ordered` is the deterministic,
documented choice used throughout :mod:`sicnb.cluster` and :mod:`sicnb.bvse`: every site keeps
its majority species (ties → alphabetical), and sites whose total occupancy is below
``min_occupancy`` are dropped. It is an approximation — say so when reporting numbers from it.
Ordered structures are returned unchanged (as a copy).
"""
from __future__ import annotations

from pymatgen.core import Structure

from sicnb.errors import ParameterError, StructureError

__all__ = ["majority_ordered"]


def majority_ordered(structure: Structure, min_occupancy: float = 0.5) -> Structure:
    """Majority-species ordered approximant (sites with total occupancy < ``min_occupancy`` dropped).

    Oxidation-state decorations are kept. Raises :class:`StructureError` when no site survives.
    """
    if not 0.0 <= min_occupancy <= 1.0:
        raise ParameterError(f"min_occupancy must lie in [0, 1], got {min_occupancy}")
    if structure.is_ordered:
        return structure.copy()
    species, coords = [], []
    for site in structure:
        total = sum(site.species.values())
        if total + 1e-9 < min_occupancy:
            continue
        best = sorted(site.species.items(), key=lambda kv: (-kv[1], str(kv[0])))[0][0]
        species.append(best)
        coords.append(site.frac_coords)
    if not species:
        raise StructureError(
            f"{structure.composition.reduced_formula}: no site has total occupancy ≥ {min_occupancy}; "
            "lower min_occupancy or order the structure first (e.g. pymatgen's OrderDisorderedStructureTransformation)."
        )
    return Structure(structure.lattice, species, coords)
