"""The ledger: every method's per-structure score, pass flags, uncertainty and provenance in one table.

A :class:`MethodAdapter` says how to get one method's per-structure table for a Dataset (through
:func:`sicnb.parallel.pmap`, so a method already run by its own notebook with the same parameters
is read from the cache), which column is its score and which way is better. :func:`build_ledger`
runs the registered adapters and joins their tables by id. A method whose code is not installed
or fails as a whole is kept in the ledger as *absent*/*failed*, with the reason in every row's
``<method>.error`` and in :attr:`Ledger.methods` — never dropped silently.

Column layout of :attr:`Ledger.table` (indexed by id): ``formula``, the known-conductor label
columns (:mod:`sicnb.ledger.labels`), then per method ``<m>.score`` (in the method's own units),
``<m>.percentile`` (0–1, 1 = most promising among the structures it scored), its pass flags
``<m>.<flag>``, uncertainty ``<m>.<column>``, extra columns, ``<m>.error``, and the provenance
``<m>.method`` (function id) / ``<m>.params`` (JSON) / ``<m>.sicnb_version``; finally ``consensus``,
``consensus_n_methods`` and ``consensus_rank``.
"""
from __future__ import annotations

import importlib
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from sicnb import __version__
from sicnb.data import Dataset
from sicnb.errors import ParameterError, SicnbError
from sicnb.ledger.stats import consensus_scores, percentile_ranks

__all__ = ["MethodAdapter", "Ledger", "register_method", "get_method", "method_names", "build_ledger", "PROVENANCE_COLUMNS"]

PROVENANCE_COLUMNS = ("method", "params", "sicnb_version")

#: compute(dataset, params, run) -> table indexed by id; ``run`` holds cache_dir/n_workers/scheduler/timeout/progress
ComputeFn = Callable[[Dataset, Mapping[str, Any], Mapping[str, Any]], pd.DataFrame]


@dataclass(frozen=True)
class MethodAdapter:
    """How the ledger obtains and reads one method's per-structure results.

    Attributes
    ----------
    name: short key used in column names (``topology``, ``bvse``, ...).
    title: human-readable name for figures.
    score: the column of the method's table that ranks candidates.
    direction: +1 when a higher score is more promising, −1 when lower is (e.g. a barrier in eV).
    compute: ``compute(dataset, params, run)`` → the method's table indexed by id (via ``pmap``).
    requires: ``"module:attribute"`` names that must import for the method to be present.
    pass_flags: boolean columns of the method's own pass/fail screen.
    uncertainty: the column holding the score's uncertainty (same units), if any.
    extra: further columns worth carrying (e.g. ``d_training``, ``E_hull``).
    defaults: default parameters (match those of the method's notebook to reuse its cache).
    model: the model the scores come from (name + version/path), or a function of the parameters.
    description: what the score is, with units.
    stage, in_consensus, coverage: cascade settings. A stage-1 method (PES) scores only a shortlist chosen
        from the consensus of the stage-0 methods, so its percentiles and enrichment are not comparable with
        whole-pool methods: it is kept out of the consensus (``in_consensus=False``) and analysed within its
        scored subset (:func:`sicnb.ledger.agreement`).
    """

    name: str
    title: str
    score: str
    direction: int
    compute: ComputeFn
    requires: tuple[str, ...] = ()
    pass_flags: tuple[str, ...] = ()
    uncertainty: str | None = None
    extra: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    model: str | Callable[[Mapping[str, Any]], str] = ""
    description: str = ""
    unavailable: str = ""  #: set when the method exists but cannot score a pool yet (the reason)
    stage: int = 0  #: 0: scores the whole pool; 1: cascade — runs after stage 0 and sees its consensus (``run["consensus"]``)
    in_consensus: bool = True  #: enters the consensus rank and the consensus-vs-best verdict (False for cascade methods)
    coverage: str = "whole pool"  #: what the method scores, for tables and figures ("whole pool", "cascade shortlist", ...)

    def __post_init__(self):
        if self.direction not in (1, -1):
            raise ParameterError(f"method {self.name!r}: direction must be +1 (higher is better) or -1 (lower is better), got {self.direction!r}")
        if not self.name.isidentifier():
            raise ParameterError(f"method name {self.name!r} must be a Python identifier (it becomes a column prefix)")

    def availability(self) -> str | None:
        """``None`` when every required module attribute imports, else the reason it does not."""
        if self.unavailable:
            return self.unavailable
        for req in self.requires:
            mod, _, attr = req.partition(":")
            try:
                m = importlib.import_module(mod)
            except Exception as exc:  # noqa: BLE001 - an absent or broken method module is reported, not raised
                return f"{mod} cannot be imported ({type(exc).__name__}: {exc})"
            if attr and not hasattr(m, attr):
                return f"{mod} has no {attr} yet"
        return None

    def model_name(self, params: Mapping[str, Any]) -> str:
        if callable(self.model):
            try:
                return str(self.model(params))
            except Exception as exc:  # noqa: BLE001 - provenance text only
                return f"unknown ({type(exc).__name__})"
        return str(self.model)


_REGISTRY: dict[str, MethodAdapter] = {}


def register_method(adapter: MethodAdapter, replace: bool = False) -> MethodAdapter:
    """Add an adapter to the registry (``replace=True`` to override one of the same name)."""
    if adapter.name in _REGISTRY and not replace:
        raise ParameterError(f"a ledger method named {adapter.name!r} is already registered; pass replace=True to override it")
    _REGISTRY[adapter.name] = adapter
    return adapter


def _ensure_builtins() -> None:
    import sicnb.ledger.methods  # noqa: F401 - registers the built-in adapters


def adapter_from_method(method) -> MethodAdapter:
    """The ledger's view of a declared method (:class:`sicnb.methods.Method` or :class:`~sicnb.methods.TableMethod`):
    computed by ``method.batch`` (pmap, canonical columns, the method's screen or fit + predict steps; a table method
    is fitted with the ledger's known-conductor labels), score/direction/pass flags/defaults from the declaration."""
    import dataclasses

    from sicnb.methods import TableMethod

    table_method = isinstance(method, TableMethod)

    def compute(dataset: Dataset, params: Mapping[str, Any], run: Mapping[str, Any]) -> pd.DataFrame:
        kw = {"cache_dir": run.get("cache_dir"), "n_workers": run.get("n_workers", 1), "scheduler": run.get("scheduler"),
              "timeout": run.get("timeout"), "progress": run.get("progress", True)}
        if table_method:
            kw["labels"] = run.get("labels")
        return method.batch(dataset.with_structures(), params, **kw)

    p0 = method.params()
    uncertainty = method.uncertainty if table_method else None
    extra = method.ledger_extra if table_method and method.ledger_extra is not None else \
        tuple(c for c in method.features.values() if c not in (method.score, uncertainty))
    func = method.predict if table_method else method.function
    return MethodAdapter(name=method.name, title=method.title, score=method.score, direction=method.direction, compute=compute,
                         requires=method.requires or (f"{func.__module__}:{func.__name__}",), pass_flags=method.pass_flags,
                         uncertainty=uncertainty, extra=extra, defaults={f.name: getattr(p0, f.name) for f in dataclasses.fields(p0)},
                         model=method.model, description=method.description)


def _declared() -> dict[str, MethodAdapter]:
    """Adapters of declared methods (sicnb.methods) that have no hand-registered adapter, in declaration order."""
    from sicnb.methods import registered

    return {m.name: adapter_from_method(m) for m in registered() if m.ledger and m.name not in _REGISTRY}


def method_names() -> list[str]:
    """Registered method names: the built-in order, then methods declared at run time (:func:`sicnb.methods.register`)."""
    _ensure_builtins()
    return list(_REGISTRY) + list(_declared())


def get_method(name: str) -> MethodAdapter:
    _ensure_builtins()
    adapters = {**_REGISTRY, **_declared()}
    try:
        return adapters[name]
    except KeyError:
        raise ParameterError(f"unknown ledger method {name!r}; registered: {', '.join(adapters)}") from None


@dataclass
class Ledger:
    """The joined table plus one row per method saying whether it is present, and with which provenance."""

    table: pd.DataFrame
    methods: pd.DataFrame
    consensus_settings: dict[str, Any] = field(default_factory=dict)

    @property
    def present(self) -> list[str]:
        """Methods with at least one score."""
        m = self.methods
        return m.loc[(m["status"] == "present") & (m["n_scored"] > 0), "name"].tolist()

    @property
    def consensus_methods(self) -> list[str]:
        """Present methods that enter the consensus (whole-pool methods; cascade methods are kept out)."""
        m = self.methods
        inc = m["in_consensus"] if "in_consensus" in m else pd.Series(True, index=m.index)
        return [n for n, i in zip(m["name"], inc) if n in self.present and bool(i)]

    @property
    def cascade_methods(self) -> list[str]:
        """Present methods scored on a shortlist only (not in the consensus)."""
        return [n for n in self.present if n not in self.consensus_methods]

    def scores(self, include_consensus: bool = False, methods: Sequence[str] | None = None) -> pd.DataFrame:
        """Oriented scores (higher = more promising), one column per present method (or ``methods``) (+ ``consensus``)."""
        cols = {}
        keep = self.present if methods is None else [m for m in methods if m in self.present]
        for _, row in self.methods.iterrows():
            if row["name"] in keep:
                cols[row["name"]] = pd.to_numeric(self.table[f"{row['name']}.score"], errors="coerce") * int(row["direction"])
        out = pd.DataFrame(cols, index=self.table.index)
        if include_consensus and "consensus" in self.table:
            out["consensus"] = self.table["consensus"]
        return out

    def known(self) -> pd.Series:
        """Boolean Series: structures labelled as known conductors (unlabelled → False)."""
        return self.table["superionic"].fillna(False).astype(bool)

    def summary(self) -> pd.DataFrame:
        """The method table without the long provenance strings."""
        cols = ["name", "title", "status", "coverage", "in_consensus", "n_scored", "n_errors", "n_pass", "score", "direction",
                "loco_auc_pr", "loco_auc_pr_ci", "loco_roc_auc", "loco_roc_auc_ci", "no_better_than_chance", "model", "reason"]
        return self.methods[[c for c in cols if c in self.methods]]


def _method_table(adapter: MethodAdapter, dataset: Dataset, params: dict, run: dict, given: pd.DataFrame | None) -> pd.DataFrame:
    if given is not None:
        tab = given.copy()
        if "id" in tab.columns and tab.index.name != "id":
            tab = tab.set_index("id")
        tab.index = tab.index.astype(str)
    else:
        tab = adapter.compute(dataset, params, run)
    if adapter.score not in tab.columns:
        from sicnb.methods import canonical_columns

        tab = canonical_columns(tab)  # old column names (e_hull_ev_per_atom, E_a, ...) accepted with a DeprecationWarning
    if adapter.score not in tab.columns and "error" in tab.columns and len(tab) and tab["error"].fillna("").ne("").all():
        tab[adapter.score] = np.nan  # every row failed: the errors say why
    if adapter.score not in tab.columns:
        raise SicnbError(f"method {adapter.name!r}: its table has no score column {adapter.score!r} "
                         f"(columns: {', '.join(map(str, tab.columns[:12]))}…); the adapter is out of date with the method module")
    return tab


def _status_row(adapter: MethodAdapter, status: str, reason: str, params: dict, **kw) -> dict:
    return {"name": adapter.name, "title": adapter.title, "status": status, "reason": reason, "score": adapter.score,
            "direction": adapter.direction, "uncertainty": adapter.uncertainty or "", "pass_flags": ",".join(adapter.pass_flags),
            "params": json.dumps(params, sort_keys=True, default=str), "model": adapter.model_name(params),
            "description": adapter.description, "stage": adapter.stage, "in_consensus": adapter.in_consensus,
            "coverage": adapter.coverage, "n_scored": 0, "n_errors": 0, "n_pass": np.nan, "function": "",
            "sicnb_version": __version__, "seconds": np.nan, **kw}


def _stage_consensus(table: pd.DataFrame, status_rows: list[dict], missing: str, min_methods: int) -> pd.Series:
    """Consensus of the whole-pool methods run so far (what a cascade method's shortlist is chosen from)."""
    cols = {}
    for r in status_rows:
        if r["status"] == "present" and r["n_scored"] > 0 and r.get("in_consensus", True):
            cols[r["name"]] = pd.to_numeric(table[f"{r['name']}.score"], errors="coerce") * int(r["direction"])
    if not cols:
        return pd.Series(np.nan, index=table.index, name="consensus")
    return consensus_scores(pd.DataFrame(cols, index=table.index), missing=missing, min_methods=min_methods)["consensus"]


def build_ledger(
    dataset: Dataset,
    methods: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    labels: pd.DataFrame | None = None,
    *,
    cache_dir: Any = None,
    n_workers: int = 1,
    scheduler: Any = None,
    timeout: float | None = None,
    progress: bool = True,
    consensus_missing: str = "neutral",
    consensus_min_methods: int = 1,
    consensus: str = "equal",
    consensus_weights: Any = None,
) -> Ledger:
    """Run (or read from cache) every method on ``dataset`` and join the results per structure.

    Parameters
    ----------
    dataset: the candidate pool (records without a structure get error rows from each method).
    methods: method names (default: all registered, see :func:`method_names`).
    params: per-method parameter overrides, e.g. ``{"topology": {"radius_angstrom": 10.0}}``.
    tables: per-method tables computed elsewhere (e.g. read from a notebook's CSV), used instead of computing.
    labels: known-conductor labels (:func:`sicnb.ledger.known_conductor_labels`); default: computed
        from the records, OBELiX (if available locally) and the known-conductor table.
    cache_dir, n_workers, scheduler, timeout, progress: passed to :func:`sicnb.parallel.pmap`.
    consensus_missing, consensus_min_methods: see :func:`sicnb.ledger.stats.consensus_scores`.
    consensus: ``"equal"`` (default): ``consensus`` = the equal-weight mean percentile; ``"learned"``: ``consensus`` =
        P(σ > 1e-4 S/cm) of the stacked model shipped in ``sicnb/ledger/learned_consensus`` (or ``consensus_weights``,
        a weights.json path), with the equal-weight mean percentile kept as ``consensus_equal``
        (:mod:`sicnb.ledger.consensus`). Equal weights are the default because they generalize at least as well on
        repeated leave-one-cluster-out (OBELiX train, 3 seeds: pooled AUC-PR 0.657 vs 0.639, ROC-AUC 0.787 vs 0.764
        over topology + BVSE + classify + cluster; 0.650 / 0.778 averaging every method; the learned weights' card). The PES cascade's shortlist always comes from the equal-weight consensus.
    """
    if consensus not in ("learned", "equal"):
        raise ParameterError(f"consensus={consensus!r}: use 'learned' (shipped stacked weights) or 'equal' (mean percentile)")
    from sicnb.ledger.labels import known_conductor_labels, obelix_reference

    if not isinstance(dataset, Dataset):
        raise ParameterError(f"build_ledger needs a sicnb Dataset (from sicnb.data.load), got {type(dataset).__name__}")
    names = list(methods) if methods is not None else method_names()
    params = {k: dict(v) for k, v in (params or {}).items()}
    tables = dict(tables or {})
    unknown = sorted(set(params) - set(method_names()) | set(tables) - set(method_names()))
    if unknown:
        raise ParameterError(f"params/tables name unknown method(s) {unknown}; registered: {', '.join(method_names())}")
    run = {"cache_dir": cache_dir, "n_workers": n_workers, "scheduler": scheduler, "timeout": timeout, "progress": progress}
    if labels is None:
        labels = known_conductor_labels(dataset, reference=obelix_reference())
    run["labels"] = labels
    index = pd.Index(dataset.ids, name="id")
    table = labels.reindex(index).copy()
    status_rows = []
    names = sorted(names, key=lambda n: get_method(n).stage)  # cascade methods after the whole-pool ones (stable order)
    for name in names:
        adapter = get_method(name)
        if adapter.stage > 0 and "consensus" not in run:
            run["consensus"] = _stage_consensus(table, status_rows, consensus_missing, consensus_min_methods)
        p = {**adapter.defaults, **params.get(name, {})}
        reason = None if name in tables else adapter.availability()
        if reason is not None:
            status_rows.append(_status_row(adapter, "absent", reason, p))
            table[f"{name}.score"] = np.nan
            table[f"{name}.error"] = f"MethodAbsent: {reason}"
            continue
        t0 = time.perf_counter()
        try:
            tab = _method_table(adapter, dataset, p, run, tables.get(name))
        except Exception as exc:  # noqa: BLE001 - one failing method must not stop the ledger
            reason = f"{type(exc).__name__}: {exc}"
            print(f"sicnb ledger: method {name} failed as a whole: {reason}", file=sys.stderr)
            status_rows.append(_status_row(adapter, "failed", reason, p, seconds=time.perf_counter() - t0))
            table[f"{name}.score"] = np.nan
            table[f"{name}.error"] = f"MethodFailed: {reason}"
            continue
        tab = tab[~tab.index.duplicated()]
        tab = tab.reindex(index)
        present_rows = pd.Series(index.isin(tab.dropna(how="all").index), index=index)
        err = tab["error"].fillna("").astype(str) if "error" in tab else pd.Series("", index=index)
        err = err.where(present_rows, "not in the method's table")
        score = pd.to_numeric(tab[adapter.score], errors="coerce").replace([np.inf, -np.inf], np.nan)
        score = score.where(err.eq(""))
        table[f"{name}.score"] = score
        for col in (*adapter.pass_flags, *( [adapter.uncertainty] if adapter.uncertainty else []), *adapter.extra):
            if col in tab.columns:
                table[f"{name}.{col}"] = tab[col]
        table[f"{name}.error"] = err
        for col in PROVENANCE_COLUMNS:
            if col in tab.columns:
                table[f"{name}.{col}"] = tab[col]
        n_pass = np.nan
        if adapter.pass_flags and adapter.pass_flags[-1] in tab.columns:
            n_pass = int(tab[adapter.pass_flags[-1]].eq(True).sum())  # NaN (not scored) never passes
        func = tab.attrs.get("method") or (str(tab["method"].dropna().iloc[0]) if "method" in tab and tab["method"].notna().any() else "")
        status_rows.append(_status_row(adapter, "present", "" if score.notna().any() else "no structure could be scored", p,
                                       n_scored=int(score.notna().sum()), n_errors=int(err.ne("").sum()), n_pass=n_pass,
                                       function=func, seconds=time.perf_counter() - t0))
    from sicnb.ledger.consensus import attach_evidence

    methods_df = attach_evidence(pd.DataFrame(status_rows))
    if "consensus" in run and run["consensus"] is not None:
        table["cascade_consensus"] = run["consensus"]
        table["cascade_consensus_rank"] = run["consensus"].rank(method="min", ascending=False)
    ledger = Ledger(table=table, methods=methods_df,
                    consensus_settings={"missing": consensus_missing, "min_methods": consensus_min_methods,
                                        "aggregation": "mean percentile rank (normalised Borda)"})
    ledger.consensus_settings["methods"] = ledger.consensus_methods
    ledger.consensus_settings["left_out"] = {m: "cascade method: scored on a shortlist chosen by the consensus of the others, "
                                                "so it cannot vote in that consensus" for m in ledger.cascade_methods}
    scores = ledger.scores()
    if scores.shape[1]:
        pct = percentile_ranks(scores)
        for m in scores.columns:
            table.insert(table.columns.get_loc(f"{m}.score") + 1, f"{m}.percentile", pct[m])
        cm = ledger.consensus_methods
        cons = (consensus_scores(scores[cm], missing=consensus_missing, min_methods=consensus_min_methods) if cm else
                pd.DataFrame({"consensus": np.nan, "n_methods": 0, "consensus_rank": np.nan}, index=scores.index))
        if consensus == "learned" and cm:
            from sicnb.ledger.consensus import apply_learned_consensus

            cons = apply_learned_consensus(ledger, scores[cm], cons, consensus_weights, consensus_min_methods)
        table["consensus"] = cons["consensus"]
        table["consensus_n_methods"] = cons["n_methods"]
        table["consensus_rank"] = cons["consensus_rank"]
    else:
        table["consensus"] = np.nan
        table["consensus_n_methods"] = 0
        table["consensus_rank"] = np.nan
    table.attrs.update({"sicnb_version": __version__, "consensus": ledger.consensus_settings,
                        "methods": methods_df.to_dict(orient="records")})
    return ledger
