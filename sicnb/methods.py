"""The public method contract: each method declares itself once, and its batch function, sklearn featurizer,
``sicnb <method>`` subcommand and ledger adapter follow from the declaration.

A :class:`Method` names

* ``function`` — the per-structure pure function ``function(structure, **params) -> dict`` (pmap-able, cached);
* ``params`` — a frozen dataclass of the function's parameters with their defaults (units in the field names);
* ``features`` — ``{key the function returns: canonical column}``, canonical columns from one
  vocabulary (:data:`VOCABULARY`: ``activation_energy_eV``, ``e_above_hull_eV_per_atom``, ``band_gap_eV``, …);
* ``score`` (a canonical column) and ``direction`` (+1: higher = more likely superionic; −1: lower is);
* ``citations`` and, optionally, a table-level ``screen`` step that adds pass flags.

From it, generically: :meth:`Method.batch` (through :func:`sicnb.parallel.pmap`, canonical column names),
:meth:`Method.featurizer` (a scikit-learn ``TransformerMixin`` with ``get_feature_names_out``),
:func:`sicnb.cli.add_method_commands` (``sicnb <name>``) and the ledger adapter
(:func:`sicnb.ledger.core.adapter_from_method`; the ledger reads this registry, this module imports neither). The function keeps returning its own keys, so pmap cache entries written before the contract
stay valid; only the tables the contract builds carry the canonical names.

A :class:`TableMethod` is the variant for methods whose score is table-level (a trained model, Ward clusters over
a pool, a pool-wide hull): the same declaration (params, features, score, direction, citations) plus a feature
step (a per-structure ``function`` through pmap, or a ``featurize`` step), ``fit(feature_table, labels, params)``
and ``predict(state, feature_table, params)``; batch, featurizer (``fit(X, y)`` fits), CLI (``--labels CSV``) and
ledger adapter (fitted with the ledger's labels) follow in the same way (``sicnb/classify/method.py``).

Adding a method: write ``sicnb/<pkg>/method.py`` with a :class:`Method` and ``register(...)`` it, and add the
module to :data:`BUILTIN_METHOD_MODULES` (or call :func:`register` at run time, as tests/test_methods.py does).
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from sicnb.errors import ParameterError

__all__ = ["Method", "TableMethod", "VOCABULARY", "DEPRECATED_COLUMNS", "register", "registered", "get", "unregister", "canonical_columns",
           "MethodFeaturizer", "params_from_signature", "BUILTIN_METHOD_MODULES"]

#: canonical column names (one name per quantity, unit in the name) and what they mean
VOCABULARY: dict[str, str] = {
    "activation_energy_eV": "migration / activation energy of the mobile ion (eV)",
    "activation_energy_2D_eV": "activation energy for 2-D percolation (eV)",
    "activation_energy_3D_eV": "activation energy for 3-D percolation (eV)",
    "e_above_hull_eV_per_atom": "energy above the convex hull (eV/atom)",
    "formation_energy_eV_per_atom": "formation energy from the elements (eV/atom)",
    "energy_eV_per_atom": "total energy (eV/atom)",
    "band_gap_eV": "electronic band gap (eV)",
    "r_connected_angstrom": "Li-only connection radius, MTL eq. 1 (Å)",
    "rho_cycles": "survival of H1 cycles of the Li-free cloud, MTL eq. 2 (dimensionless)",
    "beta1_at_r_connected": "Betti-1 of the Li-only cloud at r_connected (count)",
    "n_mobile_sites": "symmetry-distinct mobile-ion sites (count)",
    "mpe_eV": "minimum percolation energy of the PES (eV)",
    "xi": "Ξ, PES descriptor of eq. 4 of the PES paper (dimensionless)",
    "percolates_1D": "whether a 1-D percolation path exists (bool)",
    "percolates_3D": "whether a 3-D percolation path exists (bool)",
    "ordered_approximant": "whether an ordered approximant of a disordered cell was used (bool)",
    "reduction_limit_V": "reduction limit of the stability window (V vs Li/Li+)",
    "oxidation_limit_V": "oxidation limit of the stability window (V vs Li/Li+)",
}

#: old column names, accepted on input for one release (with a DeprecationWarning) -> canonical name
DEPRECATED_COLUMNS: dict[str, str] = {
    "E_a": "activation_energy_eV", "E_a_1D": "activation_energy_eV", "E_A_eV": "activation_energy_eV",
    "Ea_eV": "activation_energy_eV", "bvse_Ea_eV": "activation_energy_eV", "md_activation_energy_ev": "activation_energy_eV",
    "E_a_2D": "activation_energy_2D_eV", "E_a_3D": "activation_energy_3D_eV",
    "e_hull_eV_per_atom": "e_above_hull_eV_per_atom", "e_hull_ev_per_atom": "e_above_hull_eV_per_atom",
    "formation_energy_ev_per_atom": "formation_energy_eV_per_atom", "energy_ev_per_atom": "energy_eV_per_atom",
    "band_gap_ev": "band_gap_eV", "r_connected": "r_connected_angstrom", "MPE": "mpe_eV", "Xi": "xi",
    "reduction_limit_v": "reduction_limit_V", "oxidation_limit_v": "oxidation_limit_V",
}

#: modules that declare the built-in methods (imported on first use of the registry)
BUILTIN_METHOD_MODULES = ("sicnb.topology.method", "sicnb.bvse.method", "sicnb.pes.method", "sicnb.classify.method",
                          "sicnb.cluster.method")


def canonical_columns(table: pd.DataFrame, warn: bool = True) -> pd.DataFrame:
    """``table`` with old column names (:data:`DEPRECATED_COLUMNS`) renamed to the canonical ones, warning once
    (``DeprecationWarning``) naming them. A canonical column already present wins over its old spelling."""
    old = [c for c in table.columns if c in DEPRECATED_COLUMNS and DEPRECATED_COLUMNS[c] not in table.columns]
    if not old:
        return table
    rename: dict[str, str] = {}
    for c in old:  # two old spellings of one quantity: the first wins
        if DEPRECATED_COLUMNS[c] not in rename.values():
            rename[c] = DEPRECATED_COLUMNS[c]
    if warn:
        warnings.warn("deprecated column names " + ", ".join(f"{a!r} -> {b!r}" for a, b in rename.items())
                      + " (accepted for one release; use the canonical names of sicnb.methods.VOCABULARY)",
                      DeprecationWarning, stacklevel=2)
    return table.rename(columns=rename)


def _function_kwargs(function: Callable) -> list[str]:
    return [p.name for i, p in enumerate(inspect.signature(function).parameters.values())
            if i > 0 and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


@dataclass(frozen=True, kw_only=True)
class _Declaration:
    """What every declared method says about itself (:class:`Method` and :class:`TableMethod` add how it computes)."""

    name: str
    title: str
    params: type
    features: Mapping[str, str]
    score: str
    direction: int
    citations: tuple[str, ...] = ()
    description: str = ""
    pass_flags: tuple[str, ...] = ()
    #: the model the scores come from (name + version/path), or a function of the parameter mapping
    model: str | Callable[[Mapping[str, Any]], str] = ""
    requires: tuple[str, ...] = ()
    #: False: not scored by the ledger (e.g. a cascade or pool method with its own adapter)
    ledger: bool = True
    #: False: no generic ``sicnb <name>`` subcommand (the method has its own CLI module)
    cli: bool = True
    #: True: expensive per structure; the generic tests mark it slow
    slow: bool = False
    cli_help: str = ""
    #: settings of the generic tests (tests/test_methods.py): ``params`` (cheap), ``structures`` (pymatgen test
    #: structure names), ``atol`` (invariance tolerance in the features' units), ``nan_allowed`` (feature keys),
    #: ``slow`` (run the invariance suite only with the slow tests, e.g. when the method's own tests already do),
    #: ``keys`` (keys of the per-structure function the suites compare; default the feature keys; None: all of them)
    testing: Mapping[str, Any] = field(default_factory=dict)
    #: columns this method adds to the vocabulary: {canonical column: meaning with unit}
    new_columns: Mapping[str, str] = field(default_factory=dict)
    #: extra option spellings kept from an earlier hand-written command: {parameter: "--old-option"}
    cli_aliases: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ParameterError(f"method name {self.name!r} must be a Python identifier (it becomes a column prefix)")
        if self.direction not in (1, -1):
            raise ParameterError(f"method {self.name!r}: direction must be +1 or -1, got {self.direction!r}")
        if not (dataclasses.is_dataclass(self.params) and self.params.__dataclass_params__.frozen):
            raise ParameterError(f"method {self.name!r}: params must be a frozen dataclass type")
        if self.score not in self.features.values():
            raise ParameterError(f"method {self.name!r}: score {self.score!r} is not one of its features {sorted(self.features.values())}")
        bad = [c for c in self.features.values() if c not in VOCABULARY and c not in self.new_columns]
        if bad:
            warnings.warn(f"method {self.name!r}: feature columns {bad} are not in sicnb.methods.VOCABULARY", stacklevel=3)

    # --- parameters -----------------------------------------------------------------------------------
    def bind(self, params: Mapping[str, Any] | Any = None) -> Any:
        """The frozen parameter object: defaults applied, unknown names refused."""
        if isinstance(params, self.params):
            return params
        try:
            return self.params(**dict(params or {}))
        except TypeError as exc:
            names = [f.name for f in dataclasses.fields(self.params)]
            raise ParameterError(f"method {self.name!r}: {exc}; its parameters are {names}") from None

    def function_params(self, params: Any = None) -> dict[str, Any]:
        """The keyword arguments of the per-structure ``function`` from the bound parameters (all of them, defaults
        applied: the cache key is the same however the caller spelled them)."""
        p = self.bind(params)
        function = getattr(self, "function", None)
        kw = set(_function_kwargs(function)) if function is not None else set()
        return {f.name: getattr(p, f.name) for f in dataclasses.fields(p) if f.name in kw}

    @property
    def feature_names(self) -> list[str]:
        return list(self.features.values())

    def featurizer(self, **params) -> "MethodFeaturizer":
        return MethodFeaturizer(self.name, params=params or None)


@dataclass(frozen=True, kw_only=True)
class Method(_Declaration):
    """One per-structure screening method, declared once (see the module docstring): ``function`` gives every
    feature of a structure on its own; an optional table-level ``screen(table, params) -> table`` adds pass flags."""

    function: Callable[..., Mapping[str, Any]]
    screen: Callable[[pd.DataFrame, Any], pd.DataFrame] | None = None

    def __post_init__(self):
        super().__post_init__()
        unknown = [f.name for f in dataclasses.fields(self.params) if f.name not in _function_kwargs(self.function)
                   and self.screen is None]
        if unknown:
            raise ParameterError(f"method {self.name!r}: parameters {unknown} are not arguments of {self.function.__name__}")

    # --- generic batch function -------------------------------------------------------------------------
    def batch(self, items, params: Mapping[str, Any] | Any = None, **pmap_kw) -> pd.DataFrame:
        """``function`` over ``items`` through :func:`sicnb.parallel.pmap` (cached, parallel; failures are rows), with
        the canonical column names, then the ``screen`` step. ``pmap_kw``: cache_dir, n_workers, scheduler, timeout, ..."""
        from sicnb.parallel import pmap

        p = self.bind(params)
        pmap_kw.setdefault("desc", self.name)
        table = pmap(self.function, items, self.function_params(p), **pmap_kw)
        attrs = dict(table.attrs)
        table = table.rename(columns=dict(self.features))
        if self.screen is not None:
            table = self.screen(table, p)
        table.attrs.update(attrs)
        return table


@dataclass(frozen=True, kw_only=True)
class TableMethod(_Declaration):
    """A method whose score is table-level (a trained model, clusters over the pool, a pool-wide hull), declared once.

    Three steps, each a plain function of the bound parameters ``p``:

    * feature step — ``function(structure, **kw)`` per structure through :func:`sicnb.parallel.pmap` (cached,
      failures are rows), or ``featurize(items, p, **pmap_kw) -> table`` when the features need more than one pmap
      (e.g. blocks chosen by a model); ``function`` is then the per-structure function the invariance suites check;
    * ``fit(feature_table, labels, p) -> state`` — on the pool's feature table and, when given, a labelled table
      (indexed by id: ``log10_sigma``, ``y``, ...); a pre-trained model is a ``fit`` that loads it;
    * ``predict(state, feature_table, p) -> table`` indexed by id: the score columns (``features`` maps their keys to
      canonical columns), pass flags, ``error`` (rows that failed a step say why).

    :meth:`batch` chains them; :class:`MethodFeaturizer` fits on ``(X, y)`` and transforms; the CLI and the ledger
    adapter are generated as for :class:`Method` (the ledger passes its known-conductor labels to ``fit``).
    """

    fit: Callable[[pd.DataFrame, pd.DataFrame | None, Any], Any]
    predict: Callable[[Any, pd.DataFrame, Any], pd.DataFrame]
    function: Callable[..., Mapping[str, Any]] | None = None
    featurize: Callable[..., pd.DataFrame] | None = None
    #: the column holding the score's uncertainty (same units), if any
    uncertainty: str | None = None
    #: feature columns the ledger carries besides the score and uncertainty (None: all of them)
    ledger_extra: tuple[str, ...] | None = None
    #: "none": ``fit`` ignores labels; "optional"; "required": ``fit`` refuses to run without them
    labels: str = "optional"

    def __post_init__(self):
        super().__post_init__()
        if self.function is None and self.featurize is None:
            raise ParameterError(f"table method {self.name!r}: give a per-structure function or a featurize step")
        if self.labels not in ("none", "optional", "required"):
            raise ParameterError(f"table method {self.name!r}: labels must be 'none', 'optional' or 'required', not {self.labels!r}")

    def feature_table(self, items, params: Mapping[str, Any] | Any = None, **pmap_kw) -> pd.DataFrame:
        """The feature step on ``items`` (one row per id, ``error`` for failures)."""
        p = self.bind(params)
        pmap_kw.setdefault("desc", self.name)
        if self.featurize is not None:
            return self.featurize(items, p, **pmap_kw)
        from sicnb.parallel import pmap

        return pmap(self.function, items, self.function_params(p), **pmap_kw)

    def fit_table(self, table: pd.DataFrame, labels: pd.DataFrame | None = None, params: Mapping[str, Any] | Any = None) -> Any:
        """The fit step on a feature table (and labels)."""
        if labels is None and self.labels == "required":
            raise ParameterError(f"method {self.name!r} is fitted on labels (log10_sigma / y per id); none were given")
        return self.fit(table, labels if self.labels != "none" else None, self.bind(params))

    def score_table(self, state: Any, table: pd.DataFrame, params: Mapping[str, Any] | Any = None) -> pd.DataFrame:
        """The score step, with canonical column names and provenance (method, params, sicnb_version)."""
        from sicnb import __version__

        p = self.bind(params)
        out = self.predict(state, table, p)
        attrs = {**table.attrs, **out.attrs}
        out = out.rename(columns=dict(self.features))
        out["method"] = f"{self.predict.__module__}.{self.predict.__qualname__}"
        out["params"] = json.dumps(dataclasses.asdict(p), sort_keys=True, default=str)
        out["sicnb_version"] = __version__
        out.attrs = {"method": out["method"].iloc[0] if len(out) else "", **attrs}  # the feature function's id when pmap gave one
        return out

    def batch(self, items, params: Mapping[str, Any] | Any = None, labels: pd.DataFrame | None = None, **pmap_kw) -> pd.DataFrame:
        """Feature step over ``items`` (pmap: cached, parallel), fit on the feature table (+ ``labels``), score."""
        p = self.bind(params)
        table = self.feature_table(items, p, **pmap_kw)
        return self.score_table(self.fit_table(table, labels, p), table, p)


_METHODS: dict[str, Method | TableMethod] = {}
_LOADED = False


def _ensure_builtins() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for mod in BUILTIN_METHOD_MODULES:
        try:
            importlib.import_module(mod)
        except ImportError as exc:  # an optional method whose library is absent stays unregistered
            warnings.warn(f"method module {mod} not loaded ({exc})", stacklevel=2)


def register(method: Method | TableMethod, replace: bool = False) -> Method | TableMethod:
    """Add ``method`` to the registry; the ledger (:func:`sicnb.ledger.method_names`) and the CLI read it from here."""
    if method.name in _METHODS and not replace and _METHODS[method.name] is not method:
        raise ParameterError(f"a method named {method.name!r} is already registered; pass replace=True to override it")
    for col, meaning in method.new_columns.items():
        if VOCABULARY.get(col, meaning) != meaning:
            raise ParameterError(f"method {method.name!r}: column {col!r} already means {VOCABULARY[col]!r}")
        VOCABULARY[col] = meaning
    _METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method (the ledger stops seeing it too) — for tests that register toy methods."""
    _METHODS.pop(name, None)


def registered() -> list[Method | TableMethod]:
    """Every registered method, built-ins first."""
    _ensure_builtins()
    return list(_METHODS.values())


def get(name: str) -> Method | TableMethod:
    _ensure_builtins()
    try:
        return _METHODS[name]
    except KeyError:
        raise ParameterError(f"unknown method {name!r}; registered: {', '.join(_METHODS)}") from None


# --- scikit-learn featurizer --------------------------------------------------------------------------

try:
    from sklearn.base import BaseEstimator, TransformerMixin
except ImportError:  # pragma: no cover - scikit-learn is a core dependency
    BaseEstimator, TransformerMixin = object, object


class MethodFeaturizer(TransformerMixin, BaseEstimator):
    """A registered method as a scikit-learn transformer: ``X`` is a sequence of pymatgen Structures (or a
    Dataset / ``{id: Structure}``); ``transform`` returns one row per structure with the method's canonical feature
    columns (NaN for failed structures), in the order of :meth:`get_feature_names_out`. For a :class:`TableMethod`,
    ``fit(X, y)`` runs its fit step on the features of ``X`` with labels ``y`` (a table indexed by id, or one value
    per structure, passed as column ``y``), and ``transform`` scores with what was fitted."""

    def __init__(self, method: str, params: Mapping[str, Any] | None = None, n_workers: int = 1, cache_dir: Any = None):
        self.method = method
        self.params = params
        self.n_workers = n_workers
        self.cache_dir = cache_dir

    def _pmap_kw(self) -> dict[str, Any]:
        return {"n_workers": self.n_workers, "cache_dir": self.cache_dir, "progress": False}

    def fit(self, X=None, y=None):
        m = get(self.method)
        m.bind(self.params)  # parameter errors at fit time
        self.n_features_out_ = len(m.feature_names)
        if isinstance(m, TableMethod):
            table = m.feature_table(X, self.params, **self._pmap_kw())
            labels = y if (y is None or isinstance(y, pd.DataFrame)) else pd.DataFrame({"y": np.asarray(y)}, index=table.index)
            self.state_ = m.fit_table(table, labels, self.params)
        return self

    def transform(self, X) -> np.ndarray:
        m = get(self.method)
        if isinstance(m, TableMethod):
            table = m.score_table(self.state_, m.feature_table(X, self.params, **self._pmap_kw()), self.params)
        else:
            table = m.batch(X, self.params, **self._pmap_kw())
        cols = self.get_feature_names_out()
        out = np.full((len(table), len(cols)), np.nan)
        for j, c in enumerate(cols):
            if c in table:
                out[:, j] = pd.to_numeric(table[c], errors="coerce").astype(float).to_numpy()
        if "error" in table:
            out[table["error"].fillna("").ne("").to_numpy()] = np.nan
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(get(self.method).feature_names, dtype=object)


def params_from_signature(function: Callable, name: str, extra: Mapping[str, Any] | None = None) -> type:
    """A frozen parameter dataclass whose fields are ``function``'s keyword parameters with their defaults
    (plus ``extra`` ``{name: default}`` for a screen step): the declaration for functions whose signature already
    names the units (``radius_angstrom``, ``encut_eV``)."""
    fields = []
    for n in _function_kwargs(function):
        d = inspect.signature(function).parameters[n].default
        if d is inspect.Parameter.empty:
            raise ParameterError(f"{function.__name__}: parameter {n!r} has no default; a method's parameters need defaults")
        fields.append((n, Any, field(default=d)))
    fields += [(n, Any, field(default=d)) for n, d in (extra or {}).items()]
    return dataclasses.make_dataclass(name, fields, frozen=True)
