"""Bench: wall time of the README's main job, ``sicnb demo --smoke``, with and without a browser.

Runs the whole notebook series twice in one invocation, each time into a fresh output folder and
with a fresh ``SICNB_CACHE_DIR`` (cold cache, as on a new machine):

- ``browser``: the machine as it is (kaleido renders static PNGs when it finds Chrome/Chromium);
- ``no-browser``: PATH reduced to this Python's scripts, ``BROWSER_PATH`` unset and kaleido's own
  lookup of the usual install locations disabled (a ``sitecustomize`` in the child's
  ``PYTHONPATH``), i.e. a fresh machine after the README's set-up command.

Prints, per run, the demo's per-notebook lines, its wall time, the figure counts, and the ratio
of the wall time to the issue's target of 10 minutes (600 s) for the smoke series.

    OMP_NUM_THREADS=1 python bench/bench_demo.py                # both runs
    OMP_NUM_THREADS=1 python bench/bench_demo.py --only no-browser
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 600.0


def run_demo(mode: str, work: Path, extra: list[str]) -> dict:
    from sicnb.testing import no_browser_env

    env = no_browser_env(work) if mode == "no-browser" else dict(os.environ)
    env["SICNB_CACHE_DIR"] = str(work / f"cache-{mode}")
    out = work / f"demo-{mode}"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sicnb.cli", "demo", "--smoke", "--out", str(out), *extra], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    log = proc.stderr
    png = re.search(r"figures: (\d+) static PNG, (\d+) embedded plotly HTML", log)
    return {"mode": mode, "rc": proc.returncode, "wall_s": wall, "png": int(png.group(1)) if png else -1, "html": int(png.group(2)) if png else -1, "log": log}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["browser", "no-browser"], help="run one mode only")
    ap.add_argument("--keep", help="keep the outputs in this folder (default: a temporary folder)")
    ap.add_argument("demo_args", nargs="*", help="extra arguments for `sicnb demo` (after --)")
    args = ap.parse_args()
    modes = [args.only] if args.only else ["browser", "no-browser"]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sicnb-bench-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, outputs in {work}")
    rows = []
    for mode in modes:
        r = run_demo(mode, work, args.demo_args)
        rows.append(r)
        print(f"\n== {mode}: exit {r['rc']}, {r['wall_s']:.0f} s wall")
        print("\n".join(ln for ln in r["log"].splitlines() if ln.startswith("  ") or ln.startswith("sicnb demo")))
    print("\nmode         exit   wall_s  ratio_to_600s   png  html")
    for r in rows:
        print(f"{r['mode']:<12} {r['rc']:>4} {r['wall_s']:>8.0f} {r['wall_s'] / TARGET_S:>14.2f} {r['png']:>5} {r['html']:>5}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
