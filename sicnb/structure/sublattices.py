"""Mobile-ion sublattice and framework extraction, and symmetry-distinct mobile sites.

Partial-occupancy rule (stated once, used everywhere):

* A site is a **mobile site** when any of its species is the mobile element, whatever the
  occupancy (the rule of Chen et al.'s MTL paper: "a site with any Li is a Li site").
* The **mobile sublattice** ("Li-only") holds every mobile site, as the pure mobile element at
  occupancy 1 (a point in a point cloud; occupancy is recorded in the ``mobile_occupancy`` site
  property).
* The **framework** ("Li-free") holds every site with any non-mobile species, the mobile species
  stripped and the remaining occupancies kept as they were. A mixed Li/Ge site therefore appears
  in both sublattices.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Element, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from sicnb.errors import ParameterError, StructureError

__all__ = ["MobileSite", "mobile_sublattice", "framework", "mobile_sites", "check_mobile_ion", "has_mobile_ion"]


def check_mobile_ion(mobile_ion: str) -> str:
    """Validate an element symbol used as mobile ion (``"Li"``, ``"Na"``, ...)."""
    try:
        Element(mobile_ion)
    except (ValueError, KeyError) as exc:
        raise ParameterError(f"mobile_ion={mobile_ion!r} is not an element symbol (e.g. 'Li', 'Na', 'K', 'Mg')") from exc
    return mobile_ion


def _site_has(site, mobile_ion: str) -> bool:
    return any(getattr(sp, "symbol", str(sp)) == mobile_ion for sp in site.species)


def has_mobile_ion(structure: Structure, mobile_ion: str = "Li") -> bool:
    return any(_site_has(s, mobile_ion) for s in structure)


def mobile_sublattice(structure: Structure, mobile_ion: str = "Li") -> Structure:
    """The "Li-only" sublattice: every site carrying any ``mobile_ion``, as pure ``mobile_ion``.

    The occupancy of the mobile element on each site is kept in the ``mobile_occupancy`` site property.
    Raises :class:`StructureError` if the structure has no mobile-ion site.
    """
    check_mobile_ion(mobile_ion)
    species, coords, occ = [], [], []
    for site in structure:
        if _site_has(site, mobile_ion):
            species.append(mobile_ion)
            coords.append(site.frac_coords)
            occ.append(float(sum(v for k, v in site.species.items() if getattr(k, "symbol", str(k)) == mobile_ion)))
    if not species:
        raise StructureError(f"{structure.composition.reduced_formula}: no {mobile_ion} site; this analysis needs the mobile ion")
    return Structure(structure.lattice, species, coords, site_properties={"mobile_occupancy": occ})


def framework(structure: Structure, mobile_ion: str = "Li") -> Structure:
    """The "Li-free" framework: the structure with the mobile species stripped from every site.

    Sites that held only the mobile ion are removed; mixed sites keep their other species with
    their original occupancies. Raises :class:`StructureError` if nothing is left.
    """
    check_mobile_ion(mobile_ion)
    species, coords = [], []
    for site in structure:
        rest = {k: v for k, v in site.species.items() if getattr(k, "symbol", str(k)) != mobile_ion}
        if rest:
            species.append(rest)
            coords.append(site.frac_coords)
    if not species:
        raise StructureError(f"{structure.composition.reduced_formula}: nothing but {mobile_ion}; there is no framework")
    return Structure(structure.lattice, species, coords)


@dataclass(frozen=True)
class MobileSite:
    """A symmetry-distinct mobile-ion site: an index into the structure, its Wyckoff multiplicity and occupancy."""

    index: int
    multiplicity: int
    occupancy: float
    wyckoff: str
    equivalent_indices: tuple[int, ...]
    symmetry_fallback: str = ""  #: why the symmetry search failed ("" when it did not): then every site is its own class


def mobile_sites(structure: Structure, mobile_ion: str = "Li", symprec: float = 0.01, angle_tolerance: float = 5.0) -> list[MobileSite]:
    """Symmetry-distinct mobile-ion sites with their multiplicities (spglib via pymatgen).

    Disordered sites are distinguished by their full species/occupancy dict. If the symmetry
    search fails (e.g. very noisy positions), every mobile site is its own class (multiplicity 1),
    which is correct though slower.
    """
    check_mobile_ion(mobile_ion)
    if not has_mobile_ion(structure, mobile_ion):
        raise StructureError(f"{structure.composition.reduced_formula}: no {mobile_ion} site")
    try:
        sym = SpacegroupAnalyzer(structure, symprec=symprec, angle_tolerance=angle_tolerance).get_symmetrized_structure()
        groups = [(eq, wy) for eq, wy in zip(sym.equivalent_indices, sym.wyckoff_symbols)]
    except Exception as exc:  # noqa: BLE001 - fall back to no symmetry, said in every site and a warning
        fallback = f"symmetry search failed ({type(exc).__name__}: {exc}); every site its own class"
        warnings.warn(f"{structure.composition.reduced_formula}: {fallback}", stacklevel=2)
        groups = [([i], "1a") for i in range(len(structure))]
    else:
        fallback = ""
    out = []
    for eq, wy in groups:
        i0 = eq[0]
        if _site_has(structure[i0], mobile_ion):
            occ = float(sum(v for k, v in structure[i0].species.items() if getattr(k, "symbol", str(k)) == mobile_ion))
            out.append(MobileSite(i0, len(eq), occ, wy, tuple(int(i) for i in eq), fallback))
    return out


def min_interatomic_distance(structure: Structure) -> float:
    """Smallest distance (Å) between two distinct sites, periodic images included."""
    if len(structure) < 2:
        lat = structure.lattice
        return float(min(lat.abc))
    dm = structure.distance_matrix
    np.fill_diagonal(dm, np.inf)
    return float(dm.min())
