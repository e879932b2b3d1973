"""ML-potential energies for the HTVS: substituted candidates, reference phases, elemental references, relaxation.

The paper predicts E_f from the composition with Roost (trained on MP, not available here). sicnb uses an
offline universal potential instead (default CHGNet 0.3.0, whose weights ship in its wheel and which was
trained on Materials Project relaxation trajectories, so its energies sit on the MP scale):

* candidates: a single-point energy of the substituted prototype after isotropic rescaling to the volume
  predicted by pymatgen's data-mined bond-length model (``DLSVolumePredictor``; falls back to the
  prototype volume) — an *upper bound* to the relaxed energy, hence the paper's generous E_hull ≤ 0.2 eV/atom;
* reference phases: single points on real, DFT-relaxed Materials Project structures;
* elemental references: the element's structure relaxed with the same potential (see :func:`element_structure`);
* validation: full relaxation (positions + cell, FIRE, ``FrechetCellFilter``).

All functions here are per-structure functions for :func:`sicnb.parallel.pmap`: the potential is loaded once
per process and cached.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
from pymatgen.core import Element, Lattice, Structure

from sicnb.errors import ParameterError, StructureError

__all__ = [
    "potential",
    "rescale_volume",
    "single_point",
    "relax_structure",
    "element_structure",
    "GAS_ELEMENTS",
]

#: elements whose standard state is a diatomic gas (bond length, Å): a molecule in a box when no real crystal is available
GAS_ELEMENTS = {"H": 0.74, "N": 1.10, "O": 1.21, "F": 1.42, "Cl": 1.99}
_BOX = 9.0

#: ground-state crystals that neither the embedded pool nor ``ase.build.bulk`` provides (published structures)
_CRYSTALS = {
    "B": (166, [4.9179, 4.9179, 12.5805, 90, 90, 120], [(0.11886, -0.11886, 0.89133), (0.19686, -0.19686, 0.02432)],
          "alpha-boron, R-3m (Decker & Kasper, Acta Cryst. 12, 503 (1959))"),
    "Ga": (64, [4.5192, 7.6586, 4.5258, 90, 90, 90], [(0.0, 0.1549, 0.0810)], "alpha-gallium, Cmce (Sharma & Donohue, Z. Kristallogr. 117, 293 (1962))"),
}


def potential(name: str = "chgnet"):
    """The potential, loaded once per process (the one per-process cache, :func:`sicnb.potentials.as_potential`)."""
    from sicnb.potentials import as_potential

    return as_potential(name)


@lru_cache(maxsize=1)
def _dls():
    from pymatgen.analysis.structure_prediction.volume_predictor import DLSVolumePredictor

    return DLSVolumePredictor()


def rescale_volume(structure: Structure) -> tuple[Structure, str]:
    """Isotropically rescale to the DLS-predicted volume (pymatgen ``DLSVolumePredictor``); returns (structure, method)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vol = float(_dls().predict(structure))
        if not np.isfinite(vol) or vol <= 0 or not (0.3 < vol / structure.volume < 3.0):
            raise ValueError(f"implausible DLS volume {vol:.1f}")
        s = structure.copy()
        s.scale_lattice(vol)
        return s, "dls"
    except Exception:  # noqa: BLE001 - no bond-length data for this chemistry: keep the prototype volume
        return structure.copy(), "prototype"


def single_point(structure: Structure, potential_name: str = "chgnet", rescale: bool = True) -> dict[str, Any]:
    """Per-structure: potential energy (eV/atom) of ``structure`` (optionally DLS-rescaled first); pmap-able."""
    s, how = rescale_volume(structure) if rescale else (structure, "none")
    pot = potential(potential_name)
    e = float(pot.energies([s], batch_size=1)[0])
    return {"energy_ev_per_atom": e / len(s), "n_atoms": len(s), "volume_method": how, "volume_a3_per_atom": s.volume / len(s), **pot.provenance}


single_point.cache_version = 1


def relax_structure(
    structure: Structure,
    potential_name: str = "chgnet",
    fmax_ev_per_a: float = 0.05,
    max_steps: int = 300,
    relax_cell: bool = True,
    rescale: bool = False,
) -> dict[str, Any]:
    """Per-structure: FIRE relaxation (positions, and cell via ``FrechetCellFilter``) with the potential.

    Returns the final energy (eV/atom), whether ``fmax`` was reached, the step count and the relaxed structure
    as JSON (``structure_json``), so :func:`sicnb.parallel.pmap` can cache it.
    """
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE
    from pymatgen.io.ase import AseAtomsAdaptor

    if not structure.is_ordered:
        raise StructureError(f"{structure.composition.reduced_formula}: partial occupancies; order it before relaxing")
    s = rescale_volume(structure)[0] if rescale else structure.copy()
    s.remove_oxidation_states()
    pot = potential(potential_name)
    atoms = AseAtomsAdaptor.get_atoms(s)
    with contextlib.redirect_stdout(io.StringIO()):  # CHGNet prints its device on every calculator
        atoms.calc = pot.calculator()
    target = FrechetCellFilter(atoms) if relax_cell else atoms
    opt = FIRE(target, logfile=None)
    converged = bool(opt.run(fmax=fmax_ev_per_a, steps=max_steps))
    e = float(atoms.get_potential_energy())
    out = Structure(atoms.cell[:], [a.symbol for a in atoms], atoms.get_scaled_positions(), coords_are_cartesian=False)
    return {
        "energy_ev_per_atom": e / len(out),
        "converged": converged,
        "n_steps": int(opt.nsteps),
        "volume_change": out.volume / s.volume - 1.0,
        "structure_json": json.dumps(out.as_dict()),
        **pot.provenance,
    }


relax_structure.cache_version = 1


@lru_cache(maxsize=1)
def _matbench_elements() -> dict[str, tuple[str, dict]]:
    """Smallest real elemental crystal per element in the embedded Materials Project pool."""
    from sicnb.data.embedded import matbench_dielectric_path

    with gzip.open(matbench_dielectric_path(), "rt") as fh:
        table = json.load(fh)
    best: dict[str, tuple[int, str, dict]] = {}
    for key, d in table["structure"].items():
        els = {sp["element"] for site in d["sites"] for sp in site["species"]}
        if len(els) == 1:
            el = els.pop()
            if el not in best or len(d["sites"]) < best[el][0]:
                best[el] = (len(d["sites"]), f"mbdiel-{int(key):04d}", d)
    return {el: (rid, d) for el, (_, rid, d) in best.items()}


def element_structure(symbol: str) -> tuple[Structure, str]:
    """A starting structure for the elemental reference of ``symbol`` and where it came from.

    Order of preference: (1) a real Materials Project crystal of the element in the embedded pool
    (S, Se, Te, P, Si, Ge, C, N₂, Cl₂, I, Hg, ...); (2) ASE's reference crystal structure and lattice
    constant (``ase.build.bulk``: the alkali, alkaline-earth and most p-block metals); (3) alpha-B and alpha-Ga from their
    published structures; (4) for diatomic gases, one molecule in a 9 Å box; (5) otherwise an fcc guess (stated: ``"fcc guess"``), which the
    relaxation lowers but may leave above the true ground state (B, Ga), making E_f of their compounds too
    negative by at most that difference.
    """
    if not Element.is_valid_symbol(symbol):
        raise ParameterError(f"{symbol!r} is not an element symbol")
    mb = _matbench_elements()
    if symbol in mb:
        rid, d = mb[symbol]
        return Structure.from_dict(d), f"Materials Project structure {rid} (embedded pool)"
    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        return AseAtomsAdaptor.get_structure(bulk(symbol)), "ase.build.bulk reference structure"
    except Exception:  # noqa: BLE001 - ASE has no simple reference crystal for this element
        pass
    if symbol in _CRYSTALS:
        from ase.spacegroup import crystal

        spg, cellpar, basis, ref = _CRYSTALS[symbol]
        atoms = crystal([symbol] * len(basis), basis=basis, spacegroup=spg, cellpar=cellpar, primitive_cell=True)
        return AseAtomsAdaptor.get_structure(atoms), ref
    if symbol in GAS_ELEMENTS:
        d = GAS_ELEMENTS[symbol]
        return Structure(Lattice.cubic(_BOX), [symbol, symbol], [[0, 0, 0], [d / _BOX, 0, 0]]), f"{symbol}2 molecule in a {_BOX:.0f} Å box"
    r = Element(symbol).atomic_radius or 1.5
    return AseAtomsAdaptor.get_structure(bulk(symbol, "fcc", a=2 * np.sqrt(2) * float(r))), "fcc guess (no reference crystal available)"
