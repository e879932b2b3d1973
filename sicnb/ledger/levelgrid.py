"""The PES energy grid behind a report card's level-map isosurface (computed, cached; never drawn here).

:func:`sicnb.pes.pes_descriptors` (what notebook 03, ``sicnb pes`` and the ledger's PES cascade cache)
returns descriptors only, not the grid. :func:`pes_level_grid` runs the public
:func:`sicnb.pes.pes_scan` for one structure and keeps the unit-cell energy grid of its
lowest-MPE mobile site, compressed (float16, zlib, base64: ~0.1–0.5 MB per structure), plus the
scanned (ordered, symmetrized) structure the grid is aligned with. It is a per-structure function for
:func:`sicnb.parallel.pmap`, so a card's grid is computed once and then read from the cache.
:func:`decode_level_grid` turns a cached row back into arrays and :func:`level_map_arrays` builds the
level map (:func:`sicnb.pes.level_map` on the centred 2×2×2 supercell) that
:func:`sicnb.viz.levelmap.levelmap_figure` draws.
"""
from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Mapping

import numpy as np
from pymatgen.core import Structure

__all__ = ["pes_level_grid", "encode_grid", "decode_grid", "decode_level_grid", "level_map_arrays"]


def encode_grid(energy_ev: np.ndarray) -> str:
    """float16 + zlib + base64 of a 3-D grid (+inf, the excluded region, survives float16)."""
    a = np.ascontiguousarray(np.asarray(energy_ev, dtype=np.float16))
    return base64.b64encode(zlib.compress(a.tobytes(), 6)).decode("ascii")


def decode_grid(text: str, shape: tuple[int, int, int] | list[int]) -> np.ndarray:
    """Inverse of :func:`encode_grid` (float32 array of ``shape``)."""
    raw = zlib.decompress(base64.b64decode(text.encode("ascii")))
    return np.frombuffer(raw, dtype=np.float16).astype(np.float32).reshape(tuple(int(s) for s in shape))


def pes_level_grid(structure: Structure, potential: str = "m3gnet", step: float = 0.25, mobile_ion: str = "Li") -> dict[str, Any]:
    """Per structure: PES scan (:func:`sicnb.pes.pes_scan`) and the energy grid of the mobile site with the lowest MPE.

    Returns ``energy_grid`` (encoded, eV relative to that site's minimum, +inf inside R_min), ``grid_shape``,
    ``site_index``, ``site_MPE`` (eV), the structure's ``MPE`` and ``Xi``, ``structure_json`` (the scanned
    structure), ``seconds`` and the potential's provenance.
    """
    from sicnb.pes import centred_supercell, level_map, minimal_percolation_energy, pes_scan

    res = pes_scan(structure, potential, mobile_ion=mobile_ion, step=step)
    conn = int(res.descriptors["connectivity"])
    best, best_mpe = None, np.inf
    for sc in res.scans:
        mpe = float(minimal_percolation_energy(level_map(centred_supercell(sc.energy_ev)[0], connectivity=conn)))
        if best is None or mpe < best_mpe:
            best, best_mpe = sc, mpe
    assert best is not None  # pes_scan raises when there is no mobile ion
    d = res.descriptors
    return {"energy_grid": encode_grid(best.energy_ev), "grid_shape": "x".join(map(str, best.energy_ev.shape)),
            "site_index": int(best.site_index), "site_MPE": best_mpe, "MPE": float(d.get("MPE", np.nan)), "Xi": float(d.get("Xi", np.nan)),
            "formula": str(d.get("formula", structure.composition.reduced_formula)), "structure_json": json.dumps(res.structure.as_dict()),
            "seconds": float(d.get("seconds", np.nan)), "potential": str(d.get("potential", potential)),
            "potential_model": str(d.get("potential_model", ""))}


pes_level_grid.cache_version = 2  # type: ignore[attr-defined]  # 2: M3GNet default, the scan's 26-neighbour level map
pes_level_grid.allow_nan = True  # type: ignore[attr-defined]  # MPE is +inf when nothing percolates below the cap


def decode_level_grid(row: Mapping[str, Any]) -> tuple[Structure, np.ndarray]:
    """(scanned structure, unit-cell energy grid in eV) from a :func:`pes_level_grid` result row."""
    shape = [int(x) for x in str(row["grid_shape"]).split("x")]
    return Structure.from_dict(json.loads(row["structure_json"])), decode_grid(str(row["energy_grid"]), shape)


def level_map_arrays(energy_ev: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Level map on the centred 2×2×2 supercell and the supercell's origin index (as notebook 03 draws it; the PES
    scan's default neighbour rule)."""
    from sicnb.pes import DEFAULT_CONNECTIVITY, centred_supercell, level_map

    e_sc, origin = centred_supercell(np.asarray(energy_ev, dtype=float))
    return level_map(e_sc, connectivity=DEFAULT_CONNECTIVITY), tuple(int(i) for i in origin)  # type: ignore[return-value]
