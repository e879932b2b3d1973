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

import hashlib
import inspect
import json
import math
import os
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from sicnb import __version__
from sicnb.data.records import Dataset, Record, structure_hash
from sicnb.errors import EmptyStructureError, ParameterError

__all__ = ["pmap", "ResultCache", "cache_key", "item_keys", "as_records", "local_client"]

_CACHE_FORMAT = 2


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


def cache_key(func: Callable, params: Mapping[str, Any], structure_digest: str, validate: Any = True) -> str:
    """SHA-256 of (function id, canonical parameters, validation, sicnb version, structure hash)."""
    from sicnb.validate import StructureChecks

    checks = StructureChecks.from_spec(validate)
    payload = _canonical({"f": function_id(func), "p": dict(params), "v": __version__, "s": structure_digest,
                          "c": _checks_dict(func, checks), "fmt": _CACHE_FORMAT})
    return hashlib.sha256(payload.encode()).hexdigest()


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


def _safe_call(func: Callable, structure_dict: dict, params: dict, checks: dict | None = None, item_id: str | None = None,
               cache_root: str | None = None, key: str | None = None, policy: tuple = (False, None)) -> dict:
    """Run one item; exceptions become an error entry. Runs in workers: takes/returns plain data."""
    if cache_root and key:
        hit = ResultCache(cache_root).get(key)
        if _usable(hit, *policy):
            return {**hit, "_from_cache": True, "_stored": True}
    from sicnb.validate import StructureChecks, current_item, validate_structure

    token = current_item.set(item_id)
    t0 = time.perf_counter()
    try:
        if not structure_dict.get("sites"):
            raise EmptyStructureError(f"{item_id or 'structure'}: the structure has no atomic sites; check the source")
        structure = Structure.from_dict(structure_dict)
        if checks is not None:
            validate_structure(structure, StructureChecks(**checks))
        result = func(structure, **params)
        if not isinstance(result, Mapping):
            raise TypeError(f"{function_id(func)} returned {type(result).__name__}, expected a dict of named values")
        result = _jsonable(dict(result))
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{function_id(func)} returned a value that is not JSON-serialisable ({exc}); return numbers, strings, lists or dicts") from None
        entry = {"ok": True, "result": result, "error": "", "seconds": time.perf_counter() - t0}
        bad = _nonfinite_keys(result)
        if bad and not getattr(func, "allow_nan", False):
            entry["nan_keys"] = bad  # pmap's nan_policy decides what this means for the row
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - failures are rows (Ctrl-C still stops the run)
        kind = type(exc).__name__
        # out of memory may pass on a quieter machine: such rows are not cached, so a rerun retries them
        entry = {"ok": False, "result": {}, "error": f"{kind}: {exc}", "deterministic": not isinstance(exc, MemoryError),
                 "seconds": time.perf_counter() - t0}
    finally:
        current_item.reset(token)
    return _finish(entry, cache_root, key)


# --- sandbox processes: one item at a time, killed when it runs past its time limit -------------------

_HEADER = struct.Struct("!Q")


class _SandboxTimeout(Exception):
    pass


class _SandboxLost(Exception):
    pass


def _set_parent_death_signal() -> None:
    """Linux: have the kernel SIGKILL this process when its parent dies (no orphans after a SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; EOF on stdin still ends the loop
        pass


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _SandboxTimeout()
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise _SandboxTimeout()
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise _SandboxLost()
        buf += chunk
    return bytes(buf)


def _sandbox_main() -> None:
    """Entry point of a sandbox process: read a pickled task from the parent's pipe, answer with JSON."""
    import pickle

    parent = int(sys.argv[1]) if len(sys.argv) > 1 else None
    if len(sys.argv) > 2:  # the parent's import path, as multiprocessing's spawn passes it
        sys.path[:] = json.loads(sys.argv[2])
    _set_parent_death_signal()
    if parent is not None and os.getppid() != parent:
        os._exit(0)
    out_fd = os.dup(1)
    os.dup2(2, 1)  # anything the user's function prints goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    os.write(out_fd, _HEADER.pack(0))  # ready
    while True:
        try:
            (n,) = _HEADER.unpack(_read_exact(0, _HEADER.size, None))
            task = pickle.loads(_read_exact(0, n, None))  # from our parent over a private pipe, never a file
        except (_SandboxLost, OSError):
            os._exit(0)
        except Exception as exc:  # noqa: BLE001 - e.g. the function's module cannot be imported here
            data = json.dumps({"ok": False, "result": {}, "deterministic": False,
                               "error": f"WorkerLostError: the sandbox could not load the task ({type(exc).__name__}: {exc})"}).encode()
            os.write(out_fd, _HEADER.pack(0) + _HEADER.pack(len(data)) + data)
            continue
        os.write(out_fd, _HEADER.pack(0))  # started: the time limit counts from here (imports excluded)
        entry = _safe_call(*task)
        data = json.dumps(_jsonable(entry), default=str).encode()
        os.write(out_fd, _HEADER.pack(len(data)) + data)


class _Sandbox:
    """One child process that runs items one at a time; killed and replaced on a timeout or crash."""

    start_timeout = 300.0

    def __init__(self):
        self.proc: subprocess.Popen | None = None

    def _start(self) -> None:
        code = "from sicnb.parallel import _sandbox_main; _sandbox_main()"
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(os.getpid()), json.dumps(sys.path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, close_fds=True)
        try:
            _read_exact(self.proc.stdout.fileno(), _HEADER.size, time.monotonic() + self.start_timeout)
        except (_SandboxTimeout, _SandboxLost):
            self.kill()
            raise _SandboxLost()

    def call(self, task: tuple, timeout: float) -> dict:
        import cloudpickle

        if self.proc is None or self.proc.poll() is not None:
            self.kill()
            self._start()
        data = cloudpickle.dumps(task)
        try:
            self.proc.stdin.write(_HEADER.pack(len(data)) + data)
            self.proc.stdin.flush()
            fd = self.proc.stdout.fileno()
            _read_exact(fd, _HEADER.size, time.monotonic() + self.start_timeout)  # task loaded
            deadline = time.monotonic() + timeout
            (n,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
            return json.loads(_read_exact(fd, n, deadline))
        except (_SandboxTimeout, _SandboxLost):
            self.kill()
            raise
        except (OSError, ValueError):
            self.kill()
            raise _SandboxLost()

    def kill(self) -> None:
        if self.proc is not None:
            try:
                self.proc.kill()
            except OSError:
                pass
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except (OSError, AttributeError):
                    pass
            self.proc = None


_LOCAL = threading.local()


def _timeout_entry(item_id: str | None, timeout: float) -> dict:
    return {"ok": False, "result": {}, "deterministic": True, "timeout_s": float(timeout),
            "error": f"ItemTimeoutError: {item_id or 'item'} ran longer than the {timeout:g} s per-item time limit and was "
                     "stopped; rerun with a larger timeout= to retry it"}


def _lost_entry(item_id: str | None, why: str) -> dict:
    return {"ok": False, "result": {}, "deterministic": False,
            "error": f"WorkerLostError: the process computing {item_id or 'this item'} died ({why}); "
                     "the result is not cached, so a rerun retries it"}


def _sandboxed_call(task: tuple, timeout: float, sandbox: _Sandbox | None = None) -> dict:
    """Run ``_safe_call(*task)`` in a sandbox process with a time limit (works inside Dask workers too)."""
    if sandbox is None:
        sandbox = getattr(_LOCAL, "sandbox", None)
        if sandbox is None:
            sandbox = _LOCAL.sandbox = _Sandbox()
    item_id, cache_root, key = task[4], task[5], task[6]
    for attempt in (1, 2):
        try:
            return sandbox.call(task, timeout)
        except _SandboxTimeout:
            return _finish(_timeout_entry(item_id, timeout), cache_root, key)
        except _SandboxLost:
            if attempt == 2:
                return _lost_entry(item_id, "sandbox process exited twice")
    raise AssertionError("unreachable")


def _default_cache_dir() -> Path:
    return Path(os.environ.get("SICNB_CACHE_DIR", Path.home() / ".cache" / "sicnb")).expanduser() / "results"


def _default_timeout() -> float | None:
    text = os.environ.get("SICNB_ITEM_TIMEOUT", "").strip()
    if not text or text.lower() in ("none", "0"):
        return None
    try:
        return float(text)
    except ValueError:
        raise ParameterError(f"SICNB_ITEM_TIMEOUT={text!r} is not a number of seconds; unset it or give e.g. 600") from None


def local_client(n_workers: int | None = None, threads_per_worker: int = 1, **kwargs):
    """A Dask ``Client`` on a local process cluster (close it, or use it as a context manager)."""
    from dask.distributed import Client, LocalCluster

    n = n_workers or max(1, (os.cpu_count() or 2))
    cluster = LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=True, dashboard_address=kwargs.pop("dashboard_address", ":0"), **kwargs)
    return Client(cluster)


@dataclass
class _Progress:
    """Progress bar that reads well everywhere.

    * terminal / plain Python: tqdm on stderr;
    * Jupyter with a live frontend (JupyterLab): a tqdm widget, whose output is replaced by the
      final text line when done, so a saved notebook shows "100%|...| N/N" and not a stale widget;
    * a kernel without a widget frontend (papermill, nbclient): plain text lines on stderr, at most
      one every ``text_interval`` seconds plus the final one (no carriage-return spam in outputs).
    """

    total: int
    desc: str
    enabled: bool
    text_interval: float = 30.0

    def __post_init__(self):
        self.bar = None
        self._handle = None
        self._mode = None
        self._last_line = 0.0
        if not (self.enabled and self.total):
            return
        self._mode = self._choose_mode()
        if self._mode == "widget":
            try:
                from IPython.display import display
                from tqdm.notebook import tqdm as notebook_tqdm

                self.bar = notebook_tqdm(total=self.total, desc=self.desc, display=False)
                self._handle = display(self._bundle(), raw=True, display_id=True)
                return
            except Exception:  # noqa: BLE001 - no ipywidgets: fall back to text lines
                self._mode = "lines"
        if self._mode == "lines":
            from tqdm.std import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, file=open(os.devnull, "w"), mininterval=float("inf"), ascii=False)
            self._last_line = time.monotonic()
        else:
            from tqdm.std import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, file=sys.stderr, dynamic_ncols=True)

    @staticmethod
    def _choose_mode() -> str:
        if "ipykernel" not in sys.modules:
            return "terminal"
        from sicnb.notebooks import live_frontend

        return "widget" if live_frontend() else "lines"

    def _text(self) -> str:
        return self.bar.format_meter(**self.bar.format_dict) if self.bar is not None else ""

    def _bundle(self) -> dict:
        view = self.bar.container._repr_mimebundle_()
        if isinstance(view, tuple):
            view = view[0]
        return {k: v for k, v in view.items() if k != "text/plain"} | {"text/plain": self._text()}

    def update(self, n: int = 1):
        if self.bar is None:
            return
        self.bar.update(n)
        if self._mode == "lines" and time.monotonic() - self._last_line >= self.text_interval:
            print(self._text(), file=sys.stderr, flush=True)
            self._last_line = time.monotonic()

    def close(self):
        if self.bar is None:
            return
        self.bar.close()
        if self._mode == "widget" and self._handle is not None:
            try:
                self._handle.update(self._bundle(), raw=True)
            except Exception:  # noqa: BLE001 - display is cosmetic
                pass
        elif self._mode == "lines":
            print(self._text(), file=sys.stderr, flush=True)
            self.bar.fp.close()
        self.bar = None


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
        key = cache_key(func, params, structure_hash(rec.structure), checks if checks is not None else False)
        hit = cache.get(key) if cache is not None else None
        if _usable(hit, *policy):
            entries[rec.id] = {**hit, "_from_cache": True}
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
    from_cache = sum(1 for e in entries.values() if e.get("_from_cache"))
    errors = [e.get("error", "") for e in entries.values()]
    df.attrs.update(
        {"method": fid, "params": params, "sicnb_version": __version__, "n_cached": from_cache,
         "n_computed": len(entries) - from_cache, "n_failed": int((df["error"] != "").sum()),
         "n_timeout": sum(x.startswith("ItemTimeoutError") for x in errors),
         "n_lost": sum(x.startswith("WorkerLostError") for x in errors), "timeout": timeout, "nan_rows": nan_rows,
         "validate": checks_d}
    )
    return df


def _run_dask(todo, make_task, timeout, store, n_workers, scheduler, tasks_per_thread: int = 4) -> None:
    """Run ``todo`` on a Dask cluster with a bounded number of tasks in flight.

    At most ``tasks_per_thread`` × (worker threads) tasks are submitted at a time and each result is
    released as soon as it is stored, so memory does not grow with the number of structures (26,000
    structure dicts and results held at once cost the driver and workers gigabytes).
    """
    from dask.distributed import Client, as_completed

    own = None
    if scheduler is None:
        own = client = local_client(n_workers)
    elif isinstance(scheduler, str):
        own = client = Client(scheduler)
    else:
        client = scheduler
    try:
        try:
            threads = sum(client.nthreads().values())
        except Exception:  # noqa: BLE001 - e.g. no worker connected yet
            threads = 0
        window = max(8, tasks_per_thread * max(threads, int(n_workers or 1)))
        pending: dict = {}
        queue = iter(enumerate(todo))
        running = as_completed()

        def submit_next() -> bool:
            nxt = next(queue, None)
            if nxt is None:
                return False
            i, (rid, key, rec) = nxt
            task = make_task(rec, key)
            if timeout is None:
                fut = client.submit(_safe_call, *task, key=f"sicnb-{key[:20]}-{i}", pure=False)
            else:
                fut = client.submit(_sandboxed_call, task, timeout, key=f"sicnb-{key[:20]}-{i}", pure=False)
            pending[fut] = (rid, key)
            running.add(fut)
            return True

        for _ in range(window):
            if not submit_next():
                break
        for fut in running:
            rid, key = pending.pop(fut)
            try:
                entry = fut.result()
            except Exception as exc:  # noqa: BLE001 - worker died repeatedly, task lost: not cached
                entry = _lost_entry(rid, f"{type(exc).__name__}: {exc}")
            fut.release()
            del fut
            store(rid, key, entry)
            submit_next()
    finally:
        if own is not None:
            cluster = getattr(own, "cluster", None)
            own.close()
            if cluster is not None:
                cluster.close()
