"""Ordered approximants of disordered structures, for descriptors and methods that need whole atoms.

Most OBELiX CIFs carry partial occupancies; SOAP (dscribe), the matminer structure featurizers
and BVSE (bvlain) need one species per site. :func:`majority_ordered` is the deterministic,
documented choice used throughout :mod:`sicnb.cluster` and :mod:`sicnb.bvse`: every site keeps
its majority species (ties → alphabetical), and sites whose total occupancy is below
``min_occupancy`` are dropped. It is an approximation — say so when reporting numbers from it.
Ordered structures are returned unchanged (as a copy).

:func:`order_structure` is the other rule, for ML potentials that need whole atoms *and* the composition:
the lowest-Ewald-energy ordering of the given cell (pymatgen), used by the PES scan and MD.
"""
from __future__ import annotations

from pymatgen.core import Structure

from sicnb.errors import ParameterError, StructureError

__all__ = ["majority_ordered", "order_structure"]


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


def order_structure(structure: Structure, max_enumerations: int = 1) -> tuple[Structure, str]:
    """Return an ordered structure and the rule used.

    Rule: ordered inputs are returned unchanged. Disordered ones get oxidation states (:func:`sicnb.structure.assign_oxidation_states`)
    and pymatgen's ``OrderDisorderedStructureTransformation`` (fast algorithm, lowest Ewald energy
    configuration in the given cell); if that fails, :class:`StructureError`.
    """
    if structure.is_ordered:
        return structure, "ordered"
    from pymatgen.transformations.standard_transformations import OrderDisorderedStructureTransformation

    from sicnb.structure import assign_oxidation_states

    try:
        decorated, _ = assign_oxidation_states(structure)
        out = OrderDisorderedStructureTransformation(algo=2).apply_transformation(decorated, return_ranked_list=False)
        out.remove_oxidation_states()
    except Exception as exc:  # noqa: BLE001
        raise StructureError(
            f"{structure.composition.reduced_formula}: could not order the partial occupancies for the potential "
            f"({type(exc).__name__}: {exc}); give an ordered structure (e.g. a Materials Project entry)"
        ) from exc
    return out, "ewald-lowest (pymatgen OrderDisorderedStructureTransformation, fast algorithm)"
