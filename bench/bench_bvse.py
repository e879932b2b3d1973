"""Bench: sicnb's BVSE percolation bisection vs bvlain's own, same energy grids, one run.

Baseline: ``bvlain.Lain.percolation_barriers(encut=10)`` (bvlain's bisection, what the thesis used).
sicnb: ``sicnb.bvse.percolation.percolation_barriers`` on the same grid. For each structure the grid
is computed once (``sicnb.bvse.bvse_landscape``, 0.2 Å, r_cut 10 Å, the ledger's parameters), then both
bisections run on it; the script checks that the three barriers are identical and prints the time of
each side, per structure and in total, and the share of the whole BVSE call the grid takes.

Structures: every structure of ``--input`` (a folder of CIFs or any ``sicnb.data.load`` source), sorted by id, or the first ``--n`` OBELiX training
structures by id (``$SICNB_DATA_DIR``). Structures BVSE refuses (oxidation states, bvlain parameters)
are listed and skipped.

    SICNB_DATA_DIR=... OMP_NUM_THREADS=1 python bench/bench_bvse.py --input <folder of CIFs>
"""
from __future__ import annotations

import argparse
import time


def structures(source: str, n: int | None):
    """(id, structure) of every record of ``source`` with a structure (any ``sicnb.data.load`` input), sorted by id;
    the first ``n`` when given."""
    from sicnb.data import load

    records = sorted((r for r in load(source) if r.structure is not None), key=lambda r: r.id)
    return [(r.id, r.structure) for r in records[:n]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", help="folder of CIFs or a sicnb input such as embedded (default: OBELiX training structures)")
    ap.add_argument("--n", type=int, default=20, help="OBELiX structures when --input is not given")
    args = ap.parse_args(argv)

    from sicnb.bvse import bvse_landscape
    from sicnb.bvse.percolation import percolation_barriers
    from sicnb.errors import SicnbError

    total = {"grid": 0.0, "bvlain": 0.0, "sicnb": 0.0}
    n_equal = n_scored = 0
    skipped = []
    print(f"{'id':<20}{'sites':>6}{'grid s':>9}{'bvlain s':>10}{'sicnb s':>9}{'ratio':>8}  equal  E_1D/E_2D/E_3D (eV)")
    for sid, structure in structures(args.input or "obelix:train", None if args.input else args.n):
        t0 = time.perf_counter()
        try:
            calc, _ = bvse_landscape(structure)
        except SicnbError as exc:
            skipped.append(f"{sid}: {str(exc)[:90]}")
            continue
        t1 = time.perf_counter()
        grid = calc.data.copy()
        ours = percolation_barriers(grid, encut_eV=10.0)
        t2 = time.perf_counter()
        theirs = {k: float(v) for k, v in calc.percolation_barriers(encut=10.0).items()}
        t3 = time.perf_counter()
        equal = ours == theirs
        n_scored += 1
        n_equal += equal
        total["grid"] += t1 - t0
        total["sicnb"] += t2 - t1
        total["bvlain"] += t3 - t2
        print(f"{sid:<20}{len(structure):>6}{t1 - t0:>9.2f}{t3 - t2:>10.2f}{t2 - t1:>9.2f}{(t3 - t2) / (t2 - t1):>8.1f}  "
              f"{'yes' if equal else 'NO '}    {ours['E_1D']:.4f}/{ours['E_2D']:.4f}/{ours['E_3D']:.4f}")
    print(f"\n{n_scored} structures, {n_equal} with identical barriers; {len(skipped)} refused by BVSE")
    for line in skipped:
        print("  refused:", line)
    if n_scored:
        before = total["grid"] + total["bvlain"]
        after = total["grid"] + total["sicnb"]
        print(f"percolation: bvlain {total['bvlain']:.1f} s, sicnb {total['sicnb']:.1f} s, ratio {total['bvlain'] / total['sicnb']:.1f}x")
        print(f"whole BVSE (grid + percolation): {before:.1f} s -> {after:.1f} s, ratio {before / after:.2f}x; "
              f"the grid is {total['grid'] / after:.0%} of the new total")
    return 0 if n_equal == n_scored else 1


if __name__ == "__main__":
    raise SystemExit(main())
