"""Shared invariance checks every per-structure descriptor must pass (used by ``tests/conftest.py``).

A descriptor is a per-structure function ``f(structure, **params) -> dict``. It must give the same
numbers for the same crystal, whatever the frame, origin, site order and cell choice, must not
modify its input, and must give the same table through ``pmap`` with 1 and N workers.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np
from pymatgen.core import Structure
from pymatgen.core.operations import SymmOp

__all__ = ["transformed_copies", "assert_same_result", "assert_descriptor_invariant", "assert_same_for_workers"]


def _rotation(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def transformed_copies(structure: Structure, cell_choice: bool = True, supercell: bool = False, seed: int = 0) -> dict[str, Structure]:
    """Copies of ``structure`` describing the same crystal: rotated, translated, permuted, other cell choice, supercell."""
    out = {}
    s = structure.copy()
    s.apply_operation(SymmOp.from_rotation_and_translation(_rotation(seed), [0, 0, 0]), fractional=False)
    out["rotation"] = s
    s = structure.copy()
    s.translate_sites(list(range(len(s))), [0.137, -0.291, 0.443], frac_coords=True, to_unit_cell=True)
    out["translation"] = s
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(structure))
    out["permutation"] = Structure.from_sites([structure[int(i)] for i in order])
    if cell_choice:
        s = structure.copy()
        s.make_supercell([[1, 1, 0], [0, 1, 0], [0, 0, 1]])  # unimodular: same cell, other basis
        out["cell_choice"] = s
    if supercell:
        s = structure.copy()
        s.make_supercell([2, 1, 1])
        out["supercell"] = s
    return out


def _numeric_items(result: dict, keys: Iterable[str] | None) -> dict[str, Any]:
    ks = list(keys) if keys is not None else sorted(result)
    return {k: result[k] for k in ks if k in result and not isinstance(result[k], str)}


def assert_same_result(a: dict, b: dict, rtol: float = 1e-6, atol: float = 1e-6, keys: Iterable[str] | None = None, label: str = "") -> None:
    """Assert two descriptor dicts agree on every numeric key (NaN == NaN)."""
    na, nb = _numeric_items(a, keys), _numeric_items(b, keys)
    assert set(na) == set(nb), f"{label}: different keys {set(na) ^ set(nb)}"
    for k in na:
        x, y = np.asarray(na[k], dtype=float), np.asarray(nb[k], dtype=float)
        assert x.shape == y.shape, f"{label}: {k} shape {x.shape} vs {y.shape}"
        both_nan = np.isnan(x) & np.isnan(y)
        ok = both_nan | np.isclose(x, y, rtol=rtol, atol=atol)
        assert ok.all(), f"{label}: {k} differs: {x} vs {y}"


def assert_descriptor_invariant(
    func: Callable[..., dict],
    structure: Structure,
    params: dict | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    keys: Iterable[str] | None = None,
    cell_choice: bool = True,
    supercell: bool = False,
) -> dict:
    """Run the invariance suite: rotation, translation, permutation, cell choice (and supercell for
    intensive descriptors), input not modified. Returns the reference result."""
    params = dict(params or {})
    before = structure.as_dict()
    ref = func(structure, **params)
    assert structure.as_dict() == before, "descriptor modified its input structure"
    assert isinstance(ref, dict) and ref, "descriptor must return a non-empty dict"
    for name, s in transformed_copies(structure, cell_choice=cell_choice, supercell=supercell).items():
        assert_same_result(ref, func(s, **params), rtol=rtol, atol=atol, keys=keys, label=name)
    for k, v in _numeric_items(ref, keys).items():
        arr = np.asarray(v, dtype=float)
        assert not np.isnan(arr).all() or math.isnan(float(arr.flat[0])), f"{k} is NaN"
    return ref


def assert_same_for_workers(func: Callable[..., dict], structures: list[Structure], params: dict | None = None, n_workers: int = 2, rtol: float = 1e-9, keys=None) -> None:
    """Same table through ``pmap`` with 1 and ``n_workers`` workers (no cache)."""
    from sicnb.parallel import pmap

    a = pmap(func, structures, params, cache_dir=False, n_workers=1, progress=False)
    b = pmap(func, structures, params, cache_dir=False, n_workers=n_workers, progress=False)
    assert list(a.index) == list(b.index)
    assert (a["error"] == b["error"]).all(), f"errors differ: {a['error'].tolist()} vs {b['error'].tolist()}"
    for i in a.index:
        assert_same_result(a.loc[i].to_dict(), b.loc[i].to_dict(), rtol=rtol, atol=1e-12, keys=keys, label=f"workers item {i}")
