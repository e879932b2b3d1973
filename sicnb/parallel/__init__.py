"""The one way to run a per-structure function over many structures: cached, resumable, parallel.

>>> from sicnb.parallel import pmap
>>> table = pmap(my_descriptor, dataset, params={"radius": 10.0}, n_workers=2, timeout=600)

* **Cache.** One JSON file per (function, parameters, validation, code version, structure hash)
  under ``cache_dir`` (default ``$SICNB_CACHE_DIR/results`` = ``~/.cache/sicnb/results``), written
  atomically (temporary file, fsync, rename) with a SHA-256 checksum verified on read. Entries are
  written by whichever process finished the item (the Dask worker or sandbox that computed it, else
  the driver) the moment it finishes, so a SIGKILL of the driver, of a worker or of everything loses
  only the items in flight. A rerun reads what finished and computes only the rest; a worker that
  picks up an item checks the cache again first, so an item finished before a worker died is not
  recomputed. Torn, corrupt or foreign entries are ignored and recomputed. Concurrent runs on one
  cache are safe: entries are immutable and replaced atomically with identical content.
* **Validation.** Every structure passes :func:`sicnb.validate.validate_structure` before the
  function sees it (``validate=True``; a dict changes the limits, e.g. ``{"mobile_ion": "Li",
  "max_atoms": 500}``; ``False`` switches it off). A failed check is an error row.
* **Time limit.** ``timeout=seconds`` (default ``$SICNB_ITEM_TIMEOUT``, else none) runs each item
  in a separate sandbox process that is killed when the item runs past the limit; the item becomes an
  ``ItemTimeoutError`` row (cached with its limit, and recomputed by a later run with a longer one).
  A sandbox that dies (segfault, out of memory) is replaced; its item is retried once and then
  becomes a ``WorkerLostError`` row that is not cached.
* **Parallelism.** ``n_workers`` ≤ 1 and no ``scheduler`` → in-process, in order (no Dask start-up
  cost). Otherwise Dask ``distributed``: a local process cluster with ``n_workers`` single-threaded
  workers, or an existing cluster via ``scheduler="tcp://host:8786"`` or a ``Client``. A Dask worker
  that dies is replaced by its nanny and its items rescheduled by Dask.
* **Failures are rows.** An exception inside the function becomes the row's ``error`` text
  (``"StructureError: ..."``); the run goes on. Records without a structure get an error row. NaN/inf
  results from functions that do not declare ``allow_nan = True`` are reported (``nan_policy``: a
  warning by default, an error row with ``"error"``).
* **Security.** Cache entries and results are JSON; nothing read from disk is ever unpickled. Work is
  sent to sandboxes and Dask workers by pickling over private pipes/sockets only.
* **Provenance.** Every row carries ``method`` (module.function), ``params`` (JSON) and
  ``sicnb_version``; ``DataFrame.attrs`` holds the same plus cache statistics.
"""
from __future__ import annotations

import inspect
import json
import os
from typing import Any, Callable, Mapping

import pandas as pd

from sicnb import __version__
from sicnb.data.records import structure_hash
from sicnb.errors import ParameterError
from sicnb.parallel.cache import (
    ResultCache,
    _canonical,
    _default_cache_dir,
    _jsonable,
    _unjson,
    _usable,
    as_records,
    bind_params,
    cache_key,
    function_id,
    item_keys,
    lookup,
)
from sicnb.parallel.dask import _run_dask, local_client
from sicnb.parallel.progress import _Progress
from sicnb.parallel.sandbox import _Sandbox, _safe_call, _sandbox_main, _sandboxed_call, _default_timeout

__all__ = ["pmap", "ResultCache", "cache_key", "bind_params", "item_keys", "as_records", "local_client"]


def pmap(
    func: Callable[..., Mapping[str, Any]],
    items,
    params: Mapping[str, Any] | None = None,
    *,
    cache_dir: str | os.PathLike | None | bool = None,
    n_workers: int | None = 1,
    scheduler: Any = None,
    progress: bool = True,
    desc: str | None = None,
    retry_errors: bool = False,
    timeout: float | None = None,
    validate: Any = True,
    nan_policy: str = "warn",
    cache_only: bool = False,
) -> pd.DataFrame:
    """Apply ``func(structure, **params) -> dict`` to every item; return a table indexed by ``id``.

    Parameters
    ----------
    func: a pure, importable (module-level) per-structure function returning a flat dict.
    items: a :class:`~sicnb.data.Dataset`, records, ``{id: Structure}`` or a list of structures.
    params: keyword parameters for ``func`` (part of the cache key).
    cache_dir: cache directory; ``None`` → default (``$SICNB_CACHE_DIR/results``); ``False`` → no cache.
    n_workers: local Dask workers; ``1`` (default) runs in-process.
    scheduler: a Dask ``Client`` or a scheduler address (``"tcp://..."``) to run on an existing cluster.
    progress: show a progress bar (widget in Jupyter, text on stderr elsewhere).
    retry_errors: recompute items whose cached result is an error.
    timeout: per-item time limit in seconds (default ``$SICNB_ITEM_TIMEOUT``, else none); each item then
        runs in a sandbox process that is killed at the limit, and the item becomes an error row.
    validate: structure checks before ``func`` runs: ``True`` (defaults of
        :class:`sicnb.validate.StructureChecks`), a dict of changed limits, or ``False``.
    nan_policy: what a NaN/inf in a result means when the function does not declare
        ``func.allow_nan = True``: ``"warn"`` (default: one warning naming the columns, rows listed in
        ``attrs["nan_rows"]``), ``"error"`` (the row gets a ``NonFiniteResultError``; values are kept)
        or ``"allow"``.
    cache_only: compute nothing; items without a usable cache entry get the error ``"NotCached: ..."``
        (how the ledger reads results of methods too expensive to run inside it).

    Returns
    -------
    DataFrame with the function's keys as columns plus ``error`` ("" when fine), ``method``,
    ``params``, ``sicnb_version``; ``attrs`` has ``n_cached``, ``n_computed``, ``n_failed``,
    ``n_timeout``, ``n_lost``.
    """
    from sicnb.validate import StructureChecks, check_positive

    if not callable(func):
        raise ParameterError(f"pmap needs a callable, got {type(func).__name__}")
    params = dict(params or {})
    try:
        inspect.signature(func).bind(None, **params)
    except TypeError as exc:
        raise ParameterError(f"{function_id(func)} does not accept parameters {sorted(params)}: {exc}") from exc
    from sicnb.validate import check_choice

    check_choice("nan_policy", nan_policy, ("warn", "error", "allow"))
    if timeout is None:
        timeout = _default_timeout()
    if timeout is not None:
        check_positive("timeout", timeout, unit="s")
    if n_workers is not None:
        from sicnb.validate import check_number

        check_number("n_workers", n_workers, lo=0, integer=True)
    checks = StructureChecks.from_spec(validate)
    checks_d = checks.as_dict() if checks is not None else None
    records = as_records(items)
    cache = None if cache_dir is False else ResultCache(_default_cache_dir() if cache_dir in (None, True) else cache_dir)
    cache_root = str(cache.root) if cache is not None else None
    fid = function_id(func)
    params_json = _canonical(params)
    policy = (bool(retry_errors), timeout)

    entries: dict[str, dict] = {}
    todo: list[tuple[str, str, Any]] = []  # (id, key, record); the task (with the structure as a dict) is built when it runs
    for rec in records:
        if rec.structure is None:
            entries[rec.id] = {"ok": False, "result": {}, "error": f"InputError: record {rec.id} has no structure", "_from_cache": True}
            continue
        key, hit = lookup(cache, func, params, structure_hash(rec.structure), checks if checks is not None else False)
        if _usable(hit, *policy):
            entries[rec.id] = {**hit, "_from_cache": True}
        elif cache_only:
            entries[rec.id] = {"ok": False, "result": {}, "_from_cache": True, "_not_cached": True,
                               "error": f"NotCached: no cached {fid} result for these parameters; run the method first "
                                        "(its notebook or CLI) or compute it (cache_only=False)"}
        else:
            todo.append((rec.id, key, rec))
    n_cached = len(entries)

    def make_task(rec, key: str) -> tuple:
        return (func, rec.structure.as_dict(), params, checks_d, rec.id, cache_root, key, policy)

    bar = _Progress(len(records), desc or fid.rsplit(".", 1)[-1], progress)
    bar.update(n_cached)

    def _store(rid: str, key: str, entry: dict) -> None:
        entry = {k: v for k, v in entry.items()}
        stored = entry.pop("_stored", False)
        entry = {**_unjson(json.loads(json.dumps(_jsonable(entry), default=str))), "_from_cache": entry.get("_from_cache", False)}
        entries[rid] = entry
        if cache is not None and not stored and (entry.get("ok") or entry.get("deterministic")):
            cache.put(key, entry)
        bar.update()

    try:
        if todo and scheduler is None and (n_workers is None or n_workers <= 1):
            if timeout is None:
                for rid, key, rec in todo:
                    _store(rid, key, _safe_call(*make_task(rec, key)))
            else:
                sandbox = _Sandbox()
                try:
                    for rid, key, rec in todo:
                        _store(rid, key, _sandboxed_call(make_task(rec, key), timeout, sandbox))
                finally:
                    sandbox.kill()
        elif todo:
            _run_dask(todo, make_task, timeout, _store, n_workers, scheduler)
    finally:
        bar.close()

    rows, nan_rows = [], {}
    for rec in records:
        e = entries.get(rec.id, {"ok": False, "result": {}, "error": "not computed"})
        row = {"id": rec.id, **e.get("result", {}), "error": e.get("error", "")}
        if e.get("nan_keys") and not row["error"]:
            nan_rows[rec.id] = list(e["nan_keys"])
            if nan_policy == "error":
                row["error"] = f"NonFiniteResultError: {fid} returned NaN/inf for {', '.join(e['nan_keys'])} without raising an error"
        rows.append(row)
    if nan_rows and nan_policy == "warn":
        import warnings

        cols = sorted({k for ks in nan_rows.values() for k in ks})
        warnings.warn(f"{fid}: {len(nan_rows)} rows have NaN/inf in {', '.join(cols)} with no error; give a reason "
                      "(an error, or a flag column and allow_nan = True on the function), or pass nan_policy='error'",
                      stacklevel=2)
    df = pd.DataFrame(rows).set_index("id")
    df["method"] = fid
    df["params"] = params_json
    df["sicnb_version"] = __version__
    from_cache = sum(1 for e in entries.values() if e.get("_from_cache") and not e.get("_not_cached"))
    errors = [e.get("error", "") for e in entries.values()]
    df.attrs.update(
        {"method": fid, "params": params, "sicnb_version": __version__, "n_cached": from_cache,
         "n_computed": sum(1 for e in entries.values() if not e.get("_from_cache")), "n_failed": int((df["error"] != "").sum()),
         "n_timeout": sum(x.startswith("ItemTimeoutError") for x in errors),
         "n_lost": sum(x.startswith("WorkerLostError") for x in errors), "timeout": timeout, "nan_rows": nan_rows,
         "validate": checks_d, "n_not_cached": sum(1 for e in entries.values() if e.get("_not_cached"))}
    )
    return df
