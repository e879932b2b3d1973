"""Running one pmap item: in-process (:func:`_safe_call`) or in a sandbox subprocess killed at its time limit."""
from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from typing import Callable, Mapping

from pymatgen.core import Structure

from sicnb.errors import EmptyStructureError, ParameterError
from sicnb.parallel.cache import ResultCache, _finish, _jsonable, _nonfinite_keys, _usable, function_id

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


#: environment variables Dask's nanny sets before it spawns a worker that sicnb's workers (and
#: sandbox processes) must not inherit:
#: ``MALLOC_TRIM_THRESHOLD_=65536`` (Dask's default, to hand freed memory back to the OS) also switches off
#: glibc's dynamic mmap threshold, so every large tensor allocation becomes a fresh mmap + page faults. The
#: M3GNet PES scan of a 24-site cell ran 2.2x slower in a Dask worker than in a plain process because of it
#: (bench/RESULTS.md, "ledger wall time on a 70-structure directory").
UNSET_WORKER_ENVIRON = ("MALLOC_TRIM_THRESHOLD_",)


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
        code = "from sicnb.parallel.sandbox import _sandbox_main; _sandbox_main()"
        env = {k: v for k, v in os.environ.items() if k not in UNSET_WORKER_ENVIRON}  # e.g. in a `dask worker` process
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(os.getpid()), json.dumps(sys.path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, close_fds=True, env=env)
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


def _default_timeout() -> float | None:
    text = os.environ.get("SICNB_ITEM_TIMEOUT", "").strip()
    if not text or text.lower() in ("none", "0"):
        return None
    try:
        return float(text)
    except ValueError:
        raise ParameterError(f"SICNB_ITEM_TIMEOUT={text!r} is not a number of seconds; unset it or give e.g. 600") from None
