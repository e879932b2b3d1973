"""The pmap result cache: canonical JSON, cache keys bound to the function's parameters, checksummed entries.

A cache key is the SHA-256 of (function id, the parameters *as the function sees them* — defaults applied,
keys sorted (:func:`bind_params`) —, structure checks, sicnb version, structure hash). So
``pmap(f, items, {})`` and ``pmap(f, items, {"step": 0.25})`` share entries when 0.25 is ``f``'s default:
the notebook, the CLI and the ledger hit the same entries however they spell the parameters.
Entries written before this binding (format 2, parameters as written) stay readable: :func:`lookup`
falls back to the key under the parameters as written and copies a hit to the bound key.
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from pymatgen.core import Structure

from sicnb import __version__
from sicnb.data.records import Dataset, Record, structure_hash
from sicnb.errors import ParameterError

#: 3: parameters bound to the function (defaults applied); format-2 entries are still read (:func:`lookup`)
_CACHE_FORMAT = 3


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


def _nonfinite_keys(result: Mapping[str, Any]) -> list[str]:
    """Top-level keys whose value is (or contains) a NaN/inf marker left by :func:`_jsonable`."""

    def bad(v: Any) -> bool:
        if isinstance(v, dict):
            return set(v) == {"__float__"} or any(bad(x) for x in v.values())
        if isinstance(v, list):
            return any(bad(x) for x in v)
        return False

    return [k for k, v in result.items() if bad(v)]


def function_id(func: Callable) -> str:
    """``module.qualname`` plus the function's ``cache_version`` attribute when it has one."""
    base = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', getattr(func, '__name__', repr(func)))}"
    ver = getattr(func, "cache_version", None)
    return f"{base}@{ver}" if ver is not None else base


def _checks_dict(func: Callable, checks) -> Any:
    own = getattr(func, "validation", None)
    return {"pmap": checks.as_dict() if checks is not None else None, "func": own.as_dict() if hasattr(own, "as_dict") else None}


def bind_params(func: Callable, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``params`` as ``func(structure, **params)`` sees them: every keyword parameter with its default
    applied, keys in sorted order. A function that declares a frozen parameter dataclass
    (``func.params_type``, set by :class:`sicnb.methods.Method`) is bound through it. Functions whose
    signature cannot be read keep ``params`` as written."""
    params = dict(params or {})
    ptype = getattr(func, "params_type", None)
    if ptype is not None and dataclasses.is_dataclass(ptype):
        try:
            return dict(sorted(dataclasses.asdict(ptype(**params)).items()))
        except TypeError as exc:
            raise ParameterError(f"{function_id(func)} does not accept parameters {sorted(params)}: {exc}") from exc
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return dict(sorted(params.items()))
    out: dict[str, Any] = {}
    for i, p in enumerate(sig.parameters.values()):
        if i == 0 or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue  # the structure, *args, **kwargs
        if p.name in params:
            out[p.name] = params[p.name]
        elif p.default is not p.empty:
            out[p.name] = p.default
    out.update({k: v for k, v in params.items() if k not in out})
    return dict(sorted(out.items()))


def _key(func: Callable, params: Mapping[str, Any], structure_digest: str, validate: Any, fmt: int) -> str:
    from sicnb.validate import StructureChecks

    checks = StructureChecks.from_spec(validate)
    payload = _canonical({"f": function_id(func), "p": dict(params), "v": __version__, "s": structure_digest,
                          "c": _checks_dict(func, checks), "fmt": fmt})
    return hashlib.sha256(payload.encode()).hexdigest()


def cache_key(func: Callable, params: Mapping[str, Any], structure_digest: str, validate: Any = True) -> str:
    """SHA-256 of (function id, bound parameters (:func:`bind_params`), validation, sicnb version, structure hash)."""
    return _key(func, bind_params(func, params), structure_digest, validate, _CACHE_FORMAT)


def legacy_cache_key(func: Callable, params: Mapping[str, Any], structure_digest: str, validate: Any = True) -> str:
    """The format-2 key: parameters exactly as written (before :func:`bind_params`); read-only fallback."""
    return _key(func, dict(params), structure_digest, validate, 2)


def lookup(cache: "ResultCache | None", func: Callable, params: Mapping[str, Any], structure_digest: str,
           validate: Any = True) -> tuple[str, dict | None]:
    """``(key, entry)`` for one item: the bound key, and its entry — or a format-2 entry written under the
    parameters as spelled (copied to the bound key, so the next lookup is direct); ``None`` when neither exists."""
    key = cache_key(func, params, structure_digest, validate)
    if cache is None:
        return key, None
    hit = cache.get(key)
    if hit is None:
        hit = cache.get(legacy_cache_key(func, params, structure_digest, validate))
        if hit is not None:
            try:
                cache.put(key, hit)
            except OSError:
                pass
    return key, hit


class ResultCache:
    """Directory of checksummed JSON entries written atomically. Never unpickles anything."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored entry for ``key`` or ``None`` (missing, unreadable, torn, checksum mismatch)."""
        path = self._path(key)
        try:
            raw = json.loads(path.read_bytes())
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            return None
        if not isinstance(raw, dict) or raw.get("key") != key:
            return None
        body = raw.get("entry")
        if not isinstance(body, dict) or hashlib.sha256(_canonical(body).encode()).hexdigest() != raw.get("sha256"):
            return None
        return _unjson(body)

    def put(self, key: str, entry: dict) -> None:
        """Write ``entry`` atomically (temporary file in the same folder, fsync, rename)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = _jsonable({k: v for k, v in entry.items() if not k.startswith("_")})
        text = json.dumps({"key": key, "sha256": hashlib.sha256(_canonical(body).encode()).hexdigest(), "entry": body}, default=str)
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

    def keys(self) -> list[str]:
        """Keys of the entries on disk (valid or not)."""
        return sorted(p.stem for p in self.root.glob("*/*.json") if not p.name.startswith(".tmp-"))

    def clean_temporary(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary files left by killed writers (older than ``older_than_s``); return how many."""
        n, now = 0, time.time()
        for p in self.root.glob("*/.tmp-*"):
            try:
                if now - p.stat().st_mtime > older_than_s:
                    p.unlink()
                    n += 1
            except OSError:
                pass
        return n

    def __len__(self) -> int:
        return len(self.keys())


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


def item_keys(func: Callable, items, params: Mapping[str, Any] | None = None, validate: Any = True) -> dict[str, str | None]:
    """The cache key :func:`pmap` uses for each item id (``None`` for records without a structure).

    Lets a notebook or a monitoring script see which items of a screen have finished.
    """
    params = dict(params or {})
    out: dict[str, str | None] = {}
    for rec in as_records(items):
        out[rec.id] = None if rec.structure is None else cache_key(func, params, structure_hash(rec.structure), validate)
    return out


def _usable(hit: dict | None, retry_errors: bool, timeout: float | None) -> bool:
    """Whether a cached entry answers the current run (errors and shorter time limits may be retried)."""
    if hit is None:
        return False
    if hit.get("ok"):
        return True
    if retry_errors:
        return False
    limit = hit.get("timeout_s")
    if limit is not None:  # a time-limit error: retry when this run allows more time
        return timeout is not None and float(timeout) <= float(limit)
    return True


def _finish(entry: dict, cache_root: str | None, key: str | None) -> dict:
    """Store a finished entry at once (by the process that computed it) and mark it stored."""
    if cache_root and key and (entry.get("ok") or entry.get("deterministic")):
        try:
            ResultCache(cache_root).put(key, entry)
            entry["_stored"] = True
        except OSError:  # the driver will try again
            pass
    return entry


def _default_cache_dir() -> Path:
    return Path(os.environ.get("SICNB_CACHE_DIR", Path.home() / ".cache" / "sicnb")).expanduser() / "results"
