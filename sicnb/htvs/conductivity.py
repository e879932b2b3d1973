"""The pluggable structure-level conductivity screen (paper: DenseGNN classifier — not available).

A :class:`Scorer` turns ``{id: Structure}`` into a table with one numeric ``score`` column and a
``pass`` flag (``score >= threshold`` or ``<=``, by ``higher_is_better``). Any per-structure function
``f(structure, **params) -> dict`` becomes a scorer with :meth:`Scorer.per_structure` (run through
:func:`sicnb.parallel.pmap`, so cached and parallel); a whole-set predictor ``f(items, **kw) -> DataFrame``
with :meth:`Scorer.batch`. Ready-made:

* :func:`psi_scorer` — P_SI of notebook 04 (``sicnb.classify.predict``; superionic when P_SI ≥ 0.5);
* :func:`bvse_scorer` — BVSE percolation barrier (``sicnb.bvse.bvse_barriers``; bvlain);
* :func:`xi_scorer` — Ξ of notebook 03 (``sicnb.pes.pes_descriptors``; a PES grid scan per structure);
* :func:`default_scorer` — P_SI when ``sicnb.classify`` can load its model, else BVSE.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import pandas as pd
from pymatgen.core import Structure

from sicnb.errors import ModelUnavailableError, ParameterError

__all__ = ["Scorer", "psi_scorer", "bvse_scorer", "xi_scorer", "default_scorer", "available_scorers"]


@dataclass
class Scorer:
    """A conductivity screen: name, the column that is the score, its threshold and direction."""

    name: str
    score_column: str
    threshold: float
    higher_is_better: bool
    run: Callable[..., pd.DataFrame] = field(repr=False)
    description: str = ""

    @classmethod
    def per_structure(cls, name: str, func: Callable[..., Mapping[str, Any]], score_column: str, threshold: float,
                      higher_is_better: bool, params: Mapping[str, Any] | None = None, description: str = "") -> "Scorer":
        """Wrap a module-level per-structure function (run with :func:`sicnb.parallel.pmap`)."""
        params = dict(params or {})

        def run(structures, cache_dir=None, n_workers=1, progress=False):
            from sicnb.parallel import pmap

            return pmap(func, structures, params, cache_dir=cache_dir, n_workers=n_workers, progress=progress, desc=name)

        return cls(name, score_column, float(threshold), bool(higher_is_better), run, description)

    @classmethod
    def batch(cls, name: str, func: Callable[..., pd.DataFrame], score_column: str, threshold: float,
              higher_is_better: bool, description: str = "", **kwargs) -> "Scorer":
        """Wrap a whole-set predictor ``func(items, cache_dir=..., n_workers=..., progress=..., **kwargs) -> DataFrame``."""

        def run(structures, cache_dir=None, n_workers=1, progress=False):
            return func(structures, cache_dir=cache_dir, n_workers=n_workers, progress=progress, **kwargs)

        return cls(name, score_column, float(threshold), bool(higher_is_better), run, description)

    def score(self, structures: Mapping[str, Structure], cache_dir: Any = None, n_workers: int = 1, progress: bool = False) -> pd.DataFrame:
        """Table indexed by id: ``score``, ``pass``, ``scorer``, ``error`` plus the scorer's own columns."""
        if not structures:
            return pd.DataFrame(columns=["score", "pass", "scorer", "error"])
        raw = self.run(dict(structures), cache_dir=cache_dir, n_workers=n_workers, progress=progress)
        if self.score_column not in raw.columns:
            raise ParameterError(f"scorer {self.name!r} returned no {self.score_column!r} column (got {list(raw.columns)[:12]})")
        out = raw.copy()
        out["score"] = pd.to_numeric(out[self.score_column], errors="coerce")
        ok = out["score"].notna()
        out["pass"] = ok & ((out["score"] >= self.threshold) if self.higher_is_better else (out["score"] <= self.threshold))
        out["scorer"] = self.name
        if "error" not in out.columns:
            out["error"] = ""
        out["error"] = out["error"].fillna("")
        return out


def _psi_predict(items, cache_dir=None, n_workers=1, progress=False, model=None):
    from sicnb.classify.screening import predict

    return predict(items, model=model, n_workers=n_workers, cache_dir=cache_dir, progress=progress)


def psi_scorer(threshold: float = 0.5, model: Any = None) -> Scorer:
    """P_SI (probability of σ_RT ≥ 10⁻⁴ S/cm) from notebook 04's ensemble; pass when P_SI ≥ ``threshold``."""
    try:
        from sicnb.classify.ensemble import SuperionicEnsemble, load_model

        if not isinstance(model, SuperionicEnsemble):
            load_model(model)
    except ImportError as exc:
        raise ModelUnavailableError(f"sicnb.classify is not available ({exc}); use bvse_scorer() instead") from exc
    except Exception as exc:  # noqa: BLE001
        raise ModelUnavailableError(f"the P_SI ensemble could not be loaded ({type(exc).__name__}: {exc}); train one in notebook 04 or use bvse_scorer()") from exc
    return Scorer.batch("P_SI (sicnb.classify)", _psi_predict, "p_si", threshold, True,
                        description=f"superionic-classifier probability P_SI ≥ {threshold} (notebook 04)", model=model)


def bvse_scorer(threshold_ev: float = 0.5, barrier: str = "E_a_3D") -> Scorer:
    """BVSE percolation barrier (eV; ``E_a`` = 1D, or ``E_a_2D``/``E_a_3D``) from ``sicnb.bvse``; pass when ≤ ``threshold_ev``.

    The threshold is a parameter, not a paper number: the paper's DenseGNN classifier is not available.
    """
    from sicnb.bvse import bvse_barriers

    if barrier not in ("E_a", "E_a_1D", "E_a_2D", "E_a_3D"):
        raise ParameterError(f"barrier must be one of E_a, E_a_1D, E_a_2D, E_a_3D; got {barrier!r}")
    return Scorer.per_structure("BVSE barrier (sicnb.bvse)", bvse_barriers, barrier, threshold_ev, False,
                                description=f"BVSE {barrier} ≤ {threshold_ev} eV (bvlain)")


def xi_scorer(threshold: float = 0.5, potential: str | None = None, **pes_params: Any) -> Scorer:
    """Ξ of notebook 03 (Maevskiy et al. eq. 4; ``sicnb.pes.pes_descriptors``, an M3GNet/ML-PES grid scan per
    structure, minutes each); pass when Ξ ≥ ``threshold`` (Ξ ∈ [0, 1], larger = more connected low-energy volume;
    the paper ranks by Ξ rather than thresholding it, so the threshold is a parameter)."""
    try:
        from sicnb.pes import pes_descriptors
    except ImportError as exc:
        raise ModelUnavailableError(f"sicnb.pes is not available ({exc}); use bvse_scorer() instead") from exc
    params = dict(pes_params)
    if potential is not None:
        params["potential"] = potential
    return Scorer.per_structure("Xi (sicnb.pes)", pes_descriptors, "Xi", threshold, True, params,
                                description=f"PES descriptor Xi >= {threshold} (notebook 03)")


def available_scorers() -> dict[str, bool]:
    """Which of the project's conductivity models can be imported now."""
    out = {}
    for name, mod in (("psi", "sicnb.classify.screening"), ("xi", "sicnb.pes"), ("bvse", "sicnb.bvse")):
        try:
            importlib.import_module(mod)
            out[name] = True
        except ImportError:
            out[name] = False
    return out


def default_scorer() -> Scorer:
    """P_SI when its ensemble loads, otherwise the BVSE barrier."""
    try:
        return psi_scorer()
    except ModelUnavailableError:
        return bvse_scorer()

