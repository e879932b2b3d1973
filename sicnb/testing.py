"""Shared invariance checks every per-structure descriptor must pass (used by ``tests/conftest.py``).

A descriptor is a per-structure function ``f(structure, **params) -> dict``. It must give the same
numbers for the same crystal, whatever the frame, origin, site order and cell choice, must not
modify its input, and must give the same table through ``pmap`` with 1 and N workers.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from pymatgen.core import Structure
from pymatgen.core.operations import SymmOp

__all__ = ["transformed_copies", "assert_same_result", "assert_descriptor_invariant", "assert_same_for_workers", "PairPotential", "no_browser_env",
           "NO_BROWSER_SITECUSTOMIZE"]


def _rotation(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


#: the default other cell choice: same cell, basis (a + b, b, c)
DEFAULT_CELL_CHOICE = ((1, 1, 0), (0, 1, 0), (0, 0, 1))


def transformed_copies(structure: Structure, cell_choice: bool = True, supercell: bool = False, seed: int = 0,
                       cell_choice_matrix: Sequence[Sequence[int]] = DEFAULT_CELL_CHOICE) -> dict[str, Structure]:
    """Copies of ``structure`` describing the same crystal: rotated, translated, permuted, other cell choice
    (``cell_choice_matrix``, integer with determinant 1), supercell."""
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
        m = np.asarray(cell_choice_matrix, dtype=int)
        if round(abs(np.linalg.det(m))) != 1:
            raise ValueError(f"cell_choice_matrix must be unimodular (det ±1), got {m.tolist()}")
        s.make_supercell(m.tolist())  # unimodular: same cell, other basis
        out["cell_choice"] = s
    if supercell:
        s = structure.copy()
        s.make_supercell([2, 1, 1])
        out["supercell"] = s
    return out


def _numeric_items(result: dict, keys: Iterable[str] | None) -> dict[str, Any]:
    ks = list(keys) if keys is not None else sorted(result)
    missing = [k for k in ks if k not in result] if keys is not None else []
    assert not missing, f"descriptor result lacks the requested keys {missing}"
    return {k: result[k] for k in ks if k in result and not isinstance(result[k], str)}


def _as_float_array(key: str, value: Any, label: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{label}: {key} is not numeric ({value!r})") from exc


def assert_same_result(
    a: dict,
    b: dict,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    keys: Iterable[str] | None = None,
    label: str = "",
    nan_allowed: Iterable[str] = (),
) -> None:
    """Assert two descriptor dicts agree on every numeric key.

    NaN is a failure, not an agreement: a key may be NaN (in both results, at the same positions)
    only when it is listed in ``nan_allowed`` — the keys whose documented answer can be NaN.
    """
    allowed = set(nan_allowed)
    na, nb = _numeric_items(a, keys), _numeric_items(b, keys)
    assert set(na) == set(nb), f"{label}: different keys {set(na) ^ set(nb)}"
    for k in na:
        x, y = _as_float_array(k, na[k], label), _as_float_array(k, nb[k], label)
        assert x.shape == y.shape, f"{label}: {k} shape {x.shape} vs {y.shape}"
        nan_x, nan_y = np.isnan(x), np.isnan(y)
        if k not in allowed:
            assert not (nan_x.any() or nan_y.any()), (
                f"{label}: {k} is NaN ({x} vs {y}); list it in nan_allowed only if NaN is its documented answer"
            )
        assert (nan_x == nan_y).all(), f"{label}: {k} is NaN in one result only: {x} vs {y}"
        ok = nan_x | np.isclose(x, y, rtol=rtol, atol=atol)
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
    nan_allowed: Iterable[str] = (),
    cell_choice_matrix: Sequence[Sequence[int]] = DEFAULT_CELL_CHOICE,
) -> dict:
    """Run the invariance suite: rotation, translation, permutation, cell choice (and supercell for
    intensive descriptors), input not modified. Returns the reference result. ``cell_choice_matrix`` picks the other
    basis (grid-based descriptors: one whose axes keep their lengths, so the grid is the same point set).

    Every numeric key of the reference must be finite-or-inf (no NaN) for this valid structure, except
    the keys in ``nan_allowed`` (documented NaN answers, e.g. "no 3D path" → NaN barrier).
    """
    params = dict(params or {})
    allowed = set(nan_allowed)
    before = structure.as_dict()
    ref = func(structure, **params)
    assert structure.as_dict() == before, "descriptor modified its input structure"
    assert isinstance(ref, dict) and ref, "descriptor must return a non-empty dict"
    numeric = _numeric_items(ref, keys)
    assert numeric, "descriptor returned no numeric key to check"
    for k, v in numeric.items():
        if k not in allowed:
            arr = _as_float_array(k, v, "reference")
            assert not np.isnan(arr).any(), f"{k} is NaN for a valid structure ({arr}); list it in nan_allowed only if NaN is its documented answer"
    for name, s in transformed_copies(structure, cell_choice=cell_choice, supercell=supercell, cell_choice_matrix=cell_choice_matrix).items():
        assert_same_result(ref, func(s, **params), rtol=rtol, atol=atol, keys=keys, label=name, nan_allowed=allowed)
    return ref


def assert_same_for_workers(
    func: Callable[..., dict],
    structures: list[Structure],
    params: dict | None = None,
    n_workers: int = 2,
    rtol: float = 1e-9,
    keys=None,
    nan_allowed: Iterable[str] = (),
) -> None:
    """Same table through ``pmap`` with 1 and ``n_workers`` workers (no cache).

    At least one item must succeed (a table of error rows is not evidence); error rows must carry the
    same error text in both runs; numeric keys of successful rows obey the NaN rule of
    :func:`assert_same_result`."""
    from sicnb.parallel import pmap

    a = pmap(func, structures, params, cache_dir=False, n_workers=1, progress=False)
    b = pmap(func, structures, params, cache_dir=False, n_workers=n_workers, progress=False)
    assert list(a.index) == list(b.index)
    assert (a["error"] == b["error"]).all(), f"errors differ: {a['error'].tolist()} vs {b['error'].tolist()}"
    ok_rows = [i for i in a.index if not a.loc[i, "error"]]
    assert ok_rows, f"every item failed, nothing to compare: {a['error'].tolist()}"
    for i in ok_rows:
        assert_same_result(a.loc[i].to_dict(), b.loc[i].to_dict(), rtol=rtol, atol=1e-12, keys=keys, label=f"workers item {i}", nan_allowed=nan_allowed)


class PairPotential:
    """A cheap, real potential for tests of potential-driven descriptors (PES scans): ASE's Lennard-Jones calculator
    (one ``sigma``/``epsilon`` for every pair, smooth cut-off at ``rc`` Å) behind the interface of
    :class:`sicnb.potentials.Potential` (``energies(structures, batch_size)``, ``calculator()``, ``provenance``).

    Energies are invariant under rotation, translation, site order and cell choice, as a potential's must be, and
    cost ~1 ms per small cell instead of an ML potential's ~50 ms. Picklable, so it travels to Dask workers.
    Not a model of any material: its numbers are for invariance checks only."""

    def __init__(self, sigma_A: float = 2.0, epsilon_eV: float = 0.05, cutoff_A: float = 6.0):
        self.sigma_A, self.epsilon_eV, self.cutoff_A = float(sigma_A), float(epsilon_eV), float(cutoff_A)

    @property
    def provenance(self) -> dict[str, str]:
        return {"potential": "lennard-jones", "potential_model": f"sigma={self.sigma_A:g} A, epsilon={self.epsilon_eV:g} eV, rc={self.cutoff_A:g} A",
                "potential_source": "ase.calculators.lj.LennardJones (test potential)"}

    def calculator(self):
        from ase.calculators.lj import LennardJones

        return LennardJones(sigma=self.sigma_A, epsilon=self.epsilon_eV, rc=self.cutoff_A, smooth=True)

    def energies(self, structures: Iterable[Structure], batch_size: int = 16) -> np.ndarray:
        """Total energies (eV per cell); ``batch_size`` is accepted for the interface and unused."""
        from sicnb.potentials import calculator_energies

        return calculator_energies(self.calculator(), structures)


#: a ``sitecustomize`` that makes kaleido's own browser lookup (choreographer's ``Chromium.find_browser``) find nothing
NO_BROWSER_SITECUSTOMIZE = """
try:
    from choreographer.browsers.chromium import Chromium
    Chromium.find_browser = classmethod(lambda cls, **kw: None)
except Exception:
    pass
"""


def no_browser_env(folder: str | os.PathLike, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a child process that sees a machine without a browser (a fresh machine after the README's
    set-up command): PATH holds only this Python's scripts, no ``BROWSER_PATH``, and a ``sitecustomize`` written to
    ``folder/nobrowser_site`` (put first on ``PYTHONPATH``) disables choreographer's lookup of the usual install
    locations. ``base``: the environment to start from (default: this process's)."""
    site = Path(folder) / "nobrowser_site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(NO_BROWSER_SITECUSTOMIZE)
    env = dict(os.environ if base is None else base)
    env.pop("BROWSER_PATH", None)
    env["PATH"] = str(Path(sys.executable).parent)
    env["PYTHONPATH"] = os.pathsep.join([str(site)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env
