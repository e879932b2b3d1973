"""The one way to run a per-structure function over many structures: cached, resumable, parallel.

>>> from sicnb.parallel import pmap
>>> table = pmap(my_descriptor, dataset, params={"radius": 10.0}, n_workers=2)

* **Cache.** One JSON file per (function, parameters, code version, structure hash) under
  ``cache_dir`` (default ``$SICNB_CACHE_DIR/results`` = ``~/.cache/sicnb/results``), written
  atomically (temporary file, fsync, rename) by the driver as each result arrives, with a SHA-256
  checksum that is verified on read. A killed run loses only the items in flight; a rerun reads
  everything that finished and computes only the rest. Corrupt or foreign entries are ignored and
  recomputed. Concurrent runs on one cache are safe: both write identical content by atomic rename.
* **Parallelism.** ``n_workers`` ≤ 1 and no ``scheduler`` → in-process, in order (no Dask start-up
  cost). Otherwise Dask ``distributed``: a local process cluster with ``n_workers`` single-threaded
  workers, or an existing cluster via ``scheduler="tcp://host:8786"`` or a ``Client``.
* **Failures are rows.** An exception inside the function becomes the row's ``error`` text
  (``"StructureError: ..."``); the run goes on. Records without a structure get an error row.
* **Provenance.** Every row carries ``method`` (module.function), ``params`` (JSON) and
  ``sicnb_version``; ``DataFrame.attrs`` holds the same plus cache statistics.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from sicnb import __version__
from sicnb.data.records import Dataset, Record, structure_hash
from sicnb.errors import ParameterError

__all__ = ["pmap", "ResultCache", "cache_key", "as_records", "local_client"]

_CACHE_FORMAT = 1


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return f if math.isfinite(f) else {"__float__": repr(f)}
    if isinstance(value, Path):
        return str(value)
    return value


def _unjson(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        return {k: _unjson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unjson(v) for v in value]
    return value


def _canonical(obj: Any) -> str:
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), default=str)


def function_id(func: Callable) -> str:
    """``module.qualname`` plus the function's ``cache_version`` attribute when it has one."""
    base = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', getattr(func, '__name__', repr(func)))}"
    ver = getattr(func, "cache_version", None)
    return f"{base}@{ver}" if ver is not None else base


def cache_key(func: Callable, params: Mapping[str, Any], structure_digest: str) -> str:
    """SHA-256 of (function id, canonical parameters, sicnb version, structure hash)."""
    payload = _canonical({"f": function_id(func), "p": dict(params), "v": __version__, "s": structure_digest, "fmt": _CACHE_FORMAT})
    return hashlib.sha256(payload.encode()).hexdigest()


class ResultCache:
    """Directory of checksummed JSON entries written atomically. Never unpickles anything."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored entry for ``key`` or ``None`` (missing, unreadable, checksum mismatch)."""
        path = self._path(key)
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(raw, dict) or raw.get("key") != key:
            return None
        body = raw.get("entry")
        if hashlib.sha256(_canonical(body).encode()).hexdigest() != raw.get("sha256"):
            return None
        return _unjson(body)

    def put(self, key: str, entry: dict) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = _jsonable(entry)
        text = json.dumps({"key": key, "sha256": hashlib.sha256(_canonical(body).encode()).hexdigest(), "entry": body})
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json"))


def as_records(items: Dataset | Iterable[Record] | Mapping[str, Structure] | Iterable[Structure]) -> list[Record]:
    """Normalise the inputs pmap accepts into a list of records with unique ids."""
    if isinstance(items, Dataset):
        return list(items.records)
    if isinstance(items, Mapping):
        return [Record(str(k), v) for k, v in items.items()]
    out = []
    for i, it in enumerate(items):
        if isinstance(it, Record):
            out.append(it)
        elif isinstance(it, Structure):
            out.append(Record(str(i), it))
        else:
            raise ParameterError(f"pmap item {i} is a {type(it).__name__}; expected Record or pymatgen Structure")
    ids = [r.id for r in out]
    if len(set(ids)) != len(ids):
        out = list(Dataset(out).records)
    return out


def _safe_call(func: Callable, structure_dict: dict, params: dict) -> dict:
    """Run one item; exceptions become an error entry. Runs in workers: takes/returns plain data."""
    t0 = time.perf_counter()
    try:
        structure = Structure.from_dict(structure_dict)
        result = func(structure, **params)
        if not isinstance(result, Mapping):
            raise TypeError(f"{function_id(func)} returned {type(result).__name__}, expected a dict of named values")
        return {"ok": True, "result": _jsonable(dict(result)), "error": "", "seconds": time.perf_counter() - t0}
    except Exception as exc:  # noqa: BLE001 - failures are rows
        kind = type(exc).__name__
        return {"ok": False, "result": {}, "error": f"{kind}: {exc}", "deterministic": True, "seconds": time.perf_counter() - t0}


def _default_cache_dir() -> Path:
    return Path(os.environ.get("SICNB_CACHE_DIR", Path.home() / ".cache" / "sicnb")).expanduser() / "results"


def local_client(n_workers: int | None = None, threads_per_worker: int = 1, **kwargs):
    """A Dask ``Client`` on a local process cluster (close it, or use it as a context manager)."""
    from dask.distributed import Client, LocalCluster

    n = n_workers or max(1, (os.cpu_count() or 2))
    cluster = LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=True, dashboard_address=kwargs.pop("dashboard_address", ":0"), **kwargs)
    return Client(cluster)


@dataclass
class _Progress:
    total: int
    desc: str
    enabled: bool

    def __post_init__(self):
        self.bar = None
        if self.enabled and self.total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, file=sys.stderr, dynamic_ncols=True)

    def update(self, n: int = 1):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


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

    Returns
    -------
    DataFrame with the function's keys as columns plus ``error`` ("" when fine), ``method``,
    ``params``, ``sicnb_version``; ``attrs`` has ``n_cached``, ``n_computed``, ``n_failed``.
    """
    if not callable(func):
        raise ParameterError(f"pmap needs a callable, got {type(func).__name__}")
    params = dict(params or {})
    try:
        inspect.signature(func).bind(None, **params)
    except TypeError as exc:
        raise ParameterError(f"{function_id(func)} does not accept parameters {sorted(params)}: {exc}") from exc
    records = as_records(items)
    cache = None if cache_dir is False else ResultCache(_default_cache_dir() if cache_dir in (None, True) else cache_dir)
    fid = function_id(func)
    params_json = _canonical(params)

    entries: dict[str, dict] = {}
    todo: list[tuple[str, str, dict]] = []  # (id, key, structure dict)
    for rec in records:
        if rec.structure is None:
            entries[rec.id] = {"ok": False, "result": {}, "error": "InputError: record has no structure"}
            continue
        key = cache_key(func, params, structure_hash(rec.structure))
        hit = cache.get(key) if cache is not None else None
        if hit is not None and (hit.get("ok") or not retry_errors):
            entries[rec.id] = hit
        else:
            todo.append((rec.id, key, rec.structure.as_dict()))
    n_cached = len(entries)

    bar = _Progress(len(records), desc or fid.rsplit(".", 1)[-1], progress)
    bar.update(n_cached)

    def _store(rid: str, key: str, entry: dict) -> None:
        entries[rid] = entry
        if cache is not None and (entry.get("ok") or entry.get("deterministic")):
            cache.put(key, entry)
        bar.update()

    try:
        if todo and scheduler is None and (n_workers is None or n_workers <= 1):
            for rid, key, sd in todo:
                _store(rid, key, _safe_call(func, sd, params))
        elif todo:
            _run_dask(func, todo, params, _store, n_workers, scheduler)
    finally:
        bar.close()

    rows = []
    for rec in records:
        e = entries.get(rec.id, {"ok": False, "result": {}, "error": "not computed"})
        row = {"id": rec.id, **e.get("result", {}), "error": e.get("error", "")}
        rows.append(row)
    df = pd.DataFrame(rows).set_index("id")
    df["method"] = fid
    df["params"] = params_json
    df["sicnb_version"] = __version__
    df.attrs.update(
        {"method": fid, "params": params, "sicnb_version": __version__, "n_cached": n_cached,
         "n_computed": len(todo), "n_failed": int((df["error"] != "").sum())}
    )
    return df


def _run_dask(func, todo, params, store, n_workers, scheduler) -> None:
    from dask.distributed import Client, as_completed

    own = None
    if scheduler is None:
        own = client = local_client(n_workers)
    elif isinstance(scheduler, str):
        own = client = Client(scheduler)
    else:
        client = scheduler
    try:
        futures = {}
        for i, (rid, key, sd) in enumerate(todo):
            fut = client.submit(_safe_call, func, sd, params, key=f"sicnb-{key[:20]}-{i}", pure=False)
            futures[fut] = (rid, key)
        for fut in as_completed(futures):
            rid, key = futures[fut]
            try:
                entry = fut.result()
            except Exception as exc:  # noqa: BLE001 - worker died, task lost: not cached
                entry = {"ok": False, "result": {}, "error": f"WorkerError: {type(exc).__name__}: {exc}", "deterministic": False}
            store(rid, key, entry)
    finally:
        if own is not None:
            cluster = getattr(own, "cluster", None)
            own.close()
            if cluster is not None:
                cluster.close()
