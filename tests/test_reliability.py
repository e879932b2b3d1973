"""Killed runs lose nothing: SIGKILL the driver or a worker at seeded-random points, rerun, compare.

Every run is a real subprocess (``driver.py`` below) that screens real embedded Materials Project
structures with a real per-structure function (validation + symmetry-distinct Li sites). The
function logs each invocation (structure hash) to a file and, when told, SIGKILLs the driver or its
own process when it reaches invocation ``k``; the test waits for the process with a deadline, never
sleeps. Kill points come from a seeded RNG and are printed (``-s`` shows them).
"""
from __future__ import annotations

import collections
import json
import os
import random
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sicnb.data.records import structure_hash
from sicnb.parallel import ResultCache, item_keys, pmap

SEED = 20261122
N_ITEMS = 24
DEADLINE_S = 240

FUNCS = textwrap.dedent(
    '''
    """The screened function, importable by the driver script, the test process and Dask workers."""
    import os, signal

    from sicnb.data.records import structure_hash
    from sicnb.structure import mobile_sites


    def screen_item(structure, mobile_ion="Li"):
        """Symmetry-distinct mobile sites; logs the call and SIGKILLs a process at call KILL_AT."""
        log = os.environ["KILL_LOG"]
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (structure_hash(structure) + "\\n").encode())
        os.close(fd)
        at = int(os.environ.get("KILL_AT", "0"))
        if at:
            with open(log) as fh:
                n = sum(1 for _ in fh)
            marker = log + ".killed"
            if n >= at:
                # exactly one process may kill: two Dask workers can both see n >= at, so the marker is
                # created atomically (O_EXCL) and only its creator kills
                try:
                    mfd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
                except FileExistsError:
                    mfd = None
                if mfd is not None:
                    os.write(mfd, structure_hash(structure).encode())
                    os.close(mfd)
                    target = os.getpid() if os.environ["KILL_TARGET"] == "self" else int(os.environ["DRIVER_PID"])
                    os.kill(target, signal.SIGKILL)
        sites = mobile_sites(structure, mobile_ion=mobile_ion)
        return {"n_mobile_sites": len(sites), "multiplicities": [s.multiplicity for s in sites],
                "occupancy": sum(s.occupancy * s.multiplicity for s in sites),
                "volume_per_atom": structure.volume / structure.composition.num_atoms}


    def records():
        from sicnb.data import embedded

        return [r for r in embedded() if r.structure.is_ordered and len(r.structure) <= 16][:N_ITEMS]
    '''
).replace("N_ITEMS", str(N_ITEMS))

DRIVER = textwrap.dedent(
    '''
    import json, os, sys
    from pathlib import Path

    from killfuncs import records, screen_item
    from sicnb.parallel import pmap

    if __name__ == "__main__":
        mode, cache, out = sys.argv[1:4]
        os.environ["DRIVER_PID"] = str(os.getpid())
        recs = records()
        if len(sys.argv) > 4:  # barrier: say ready, wait for the test's go (concurrency test)
            print("ready", flush=True)
            os.read(int(sys.argv[4]), 1)
        kw = {"inproc": {}, "sandbox": {"timeout": 300}, "dask": {"n_workers": 2},
              "dask-sandbox": {"n_workers": 2, "timeout": 300}}[mode]
        df = pmap(screen_item, recs, cache_dir=cache, progress=False, **kw)
        Path(out).write_text(json.dumps({"csv": df.to_csv(), "n_cached": df.attrs["n_cached"],
                                         "n_computed": df.attrs["n_computed"], "n_lost": df.attrs["n_lost"]}))
    '''
)


def _session_pids(sid: int) -> list[int]:
    """Processes (other than zombies) in session ``sid``."""
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(p.name))
    return out


def _wait_gone(pids: list[int], deadline_s: float) -> list[int]:
    """Wait (pidfd events, no polling) until ``pids`` have exited; return those still alive."""
    import time

    end = time.monotonic() + deadline_s
    alive = []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                alive.append(pid)
        finally:
            os.close(fd)
    return alive


class Harness:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.script = tmp / "driver.py"
        self.script.write_text(DRIVER)
        (tmp / "killfuncs.py").write_text(FUNCS)
        self.runs = 0

    def run_here(self, cache: Path, log: Path, monkeypatch) -> dict:
        """A rerun in the test process itself (same function, same keys; no interpreter start-up)."""
        monkeypatch.syspath_prepend(str(self.tmp))
        import killfuncs

        monkeypatch.setenv("KILL_LOG", str(log))
        monkeypatch.setenv("KILL_AT", "0")
        df = pmap(killfuncs.screen_item, self.recs, cache_dir=cache, progress=False)
        return {"csv": df.to_csv(), "n_cached": df.attrs["n_cached"], "n_computed": df.attrs["n_computed"],
                "n_lost": df.attrs["n_lost"]}

    def env(self, log: Path, kill_at: int = 0, target: str = "self") -> dict:
        env = dict(os.environ, KILL_LOG=str(log), KILL_AT=str(kill_at), KILL_TARGET=target, PYTHONWARNINGS="ignore")
        env.pop("SICNB_ITEM_TIMEOUT", None)
        return env

    def start(self, mode: str, cache: Path, log: Path, kill_at: int = 0, target: str = "self", extra=(), **popen):
        self.runs += 1
        out = self.tmp / f"out{self.runs}.json"
        cmd = [sys.executable, str(self.script), mode, str(cache), str(out), *map(str, extra)]
        proc = subprocess.Popen(cmd, env=self.env(log, kill_at, target), cwd=self.tmp, start_new_session=True,
                                stderr=subprocess.PIPE, **popen)
        return proc, out

    def finish(self, proc) -> int:
        try:
            _, err = proc.communicate(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise AssertionError("driver did not finish before the deadline")
        leftover = _wait_gone(_session_pids(proc.pid), 60)
        if leftover:  # never leave processes behind, but fail: a killed run must not leave orphans
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"processes left behind by the killed run: {leftover}")
        self.stderr = err.decode(errors="replace")
        return proc.returncode

    def run(self, mode: str, cache: Path, log: Path, kill_at: int = 0, target: str = "self"):
        proc, out = self.start(mode, cache, log, kill_at, target)
        rc = self.finish(proc)
        return rc, (json.loads(out.read_text()) if out.exists() else None)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    h = Harness(tmp_path_factory.mktemp("kill"))
    mp = pytest.MonkeyPatch()
    try:
        mp.syspath_prepend(str(h.tmp))
        import killfuncs

        h.recs = killfuncs.records()
        assert len(h.recs) == N_ITEMS
        keys = item_keys(killfuncs.screen_item, h.recs)
        h.plan = {r.id: [keys[r.id], structure_hash(r.structure)] for r in h.recs}
        ref = h.run_here(h.tmp / "ref-cache", h.tmp / "ref.log", mp)
    finally:
        mp.undo()
    assert ref["n_computed"] == N_ITEMS and ref["n_lost"] == 0
    h.reference = ref["csv"]
    yield h
    sys.modules.pop("killfuncs", None)


def _finished(h: Harness, cache: Path) -> set[str]:
    """Structure hashes whose cache entry is complete and valid."""
    c = ResultCache(cache)
    return {hsh for key, hsh in h.plan.values() if c.get(key) is not None}


def _log(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _kill_then_resume(h: Harness, name: str, mode: str, k: int, target: str, monkeypatch):
    cache, log1, log2 = h.tmp / f"{name}-cache", h.tmp / f"{name}-1.log", h.tmp / f"{name}-2.log"
    rc, _ = h.run(mode, cache, log1, kill_at=k, target=target)
    assert rc == -signal.SIGKILL, f"{name}: the driver was not killed (rc={rc}): {h.stderr[-2000:]}"
    done = _finished(h, cache)
    res = h.run_here(cache, log2, monkeypatch)
    recomputed = _log(log2)
    print(f"\n{name}: SIGKILL at call {k}: {len(done)} of {N_ITEMS} finished before the kill, {len(recomputed)} computed by the rerun")
    assert not set(recomputed) & done, "the rerun recomputed items that had finished"
    assert sorted(recomputed) == sorted(set(recomputed)), "an item was computed twice in the rerun"
    assert res["n_cached"] == len(done) and res["n_computed"] == N_ITEMS - len(done)
    assert res["csv"] == h.reference, "resumed table differs from the uninterrupted run"
    return done


def test_kill_driver_in_process_at_seeded_points(harness, monkeypatch):
    rng = random.Random(SEED)
    for k in sorted(rng.sample(range(2, N_ITEMS), 2)):
        done = _kill_then_resume(harness, f"inproc-k{k}", "inproc", k, "self", monkeypatch)
        assert len(done) == k - 1  # in order, each result stored before the next starts


def test_kill_driver_while_sandbox_computes(harness, monkeypatch):
    k = random.Random(SEED + 1).randrange(2, N_ITEMS)
    done = _kill_then_resume(harness, f"sandbox-k{k}", "sandbox", k, "driver", monkeypatch)
    assert len(done) in (k - 1, k)  # item k may or may not finish before the orphaned sandbox dies


def test_kill_driver_of_dask_run(harness, monkeypatch):
    """Dask workers run each item in a time-limited sandbox; killing the driver takes all of them down."""
    k = random.Random(SEED + 2).randrange(4, N_ITEMS - 2)
    _kill_then_resume(harness, f"dask-driver-k{k}", "dask-sandbox", k, "driver", monkeypatch)


def test_kill_dask_worker_run_completes(harness, monkeypatch):
    h = harness
    k = random.Random(SEED + 3).randrange(2, N_ITEMS)
    cache, log = h.tmp / "dask-worker-cache", h.tmp / "dask-worker.log"
    rc, res = h.run("dask", cache, log, kill_at=k, target="self")
    assert rc == 0, h.stderr[-3000:]
    killed = Path(str(log) + ".killed").read_text()
    counts = collections.Counter(_log(log))
    print(f"\ndask worker SIGKILL at call {k}: run completed, {res['n_computed']} computed, item computed twice: {killed[:12]}")
    assert res["n_lost"] == 0 and res["csv"] == h.reference
    # only the item whose worker died was computed twice; finished items were not recomputed
    assert counts[killed] == 2 and all(c == 1 for hsh, c in counts.items() if hsh != killed)
    assert len(counts) == N_ITEMS
    again = h.run_here(cache, h.tmp / "dask-worker-rerun.log", monkeypatch)
    assert again["n_computed"] == 0 and again["csv"] == h.reference


def test_concurrent_runs_share_one_cache(harness):
    h = harness
    cache = h.tmp / "shared-cache"
    r, w = os.pipe()
    try:
        runs = [h.start(mode, cache, h.tmp / f"conc-{mode}.log", extra=[r], pass_fds=(r,), stdout=subprocess.PIPE)
                for mode in ("inproc", "sandbox")]
        for proc, _ in runs:
            ready, _, _ = select.select([proc.stdout], [], [], DEADLINE_S)
            assert ready and proc.stdout.readline().strip() == b"ready"
        os.write(w, b"gg")
        for proc, out in runs:
            assert h.finish(proc) == 0, h.stderr
            assert json.loads(out.read_text())["csv"] == h.reference
    finally:
        os.close(r)
        os.close(w)
    c = ResultCache(cache)
    assert sorted(c.keys()) == sorted(k for k, _ in h.plan.values())
    assert all(c.get(k) is not None for k in c.keys())
    assert not list(cache.glob("*/.tmp-*"))
