"""Benchmark: sicnb's default PES scan (symmetry + coarse-to-fine) against the exhaustive 0.25 Å grid.

Run:  OMP_NUM_THREADS=1 nice python bench/bench_pes.py [--ids ID ...] [--potential chgnet]

Both runs use the same code, grid, potential and process (the exhaustive run evaluates every grid
point ≥ R_min from the framework, without stabiliser reduction or refinement). Prints per structure
MPE / FV deviations, potential-call ratio and wall time, then the acceptance checks
(MPE within 0.02 eV, FV within 2 % relative, ≥ 20× fewer calls, ≤ 60 s per structure).
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

DEFAULT_IDS = ["mbdiel-4595", "mbdiel-4576", "mbdiel-2008", "mbdiel-4583", "mbdiel-4553", "mbdiel-4528"]


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser()
    ap.add_argument("--ids", nargs="*", default=DEFAULT_IDS)
    ap.add_argument("--potential", default="chgnet")
    args = ap.parse_args()

    from sicnb.data import load
    from sicnb.pes import DEFAULT_THRESHOLDS_EV, pes_descriptors

    ds = load("embedded")
    by_id = {r.id: r for r in ds.records}
    pes_descriptors(by_id[args.ids[0]].structure, potential=args.potential)  # load the model once, untimed
    rows = []
    for sid in args.ids:
        s = by_id[sid].structure
        t = time.perf_counter()
        fast = pes_descriptors(s, potential=args.potential)
        t_fast = time.perf_counter() - t
        t = time.perf_counter()
        full = pes_descriptors(s, potential=args.potential, exhaustive=True)
        t_full = time.perf_counter() - t
        fv_keys = [f"FV_{k}_{x:g}" for k in ("connected", "disconnected") for x in DEFAULT_THRESHOLDS_EV]
        rel = [abs(fast[k] - full[k]) / full[k] if full[k] > 0 else float(fast[k] > 0) for k in fv_keys]
        rows.append({
            "id": sid, "formula": full["formula"], "n_atoms": len(s), "grid": full["grid_shape"],
            "MPE_exh": full["MPE"], "dMPE": abs(fast["MPE"] - full["MPE"]), "max_rel_dFV": max(rel),
            "Xi_exh": full["Xi"], "Xi_fast": fast["Xi"],
            "calls_exh": full["n_potential_calls"], "calls_fast": fast["n_potential_calls"],
            "call_ratio": full["n_potential_calls"] / max(fast["n_potential_calls"], 1),
            "s_exh": t_full, "s_fast": t_fast, "time_ratio": t_full / t_fast,
        })
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=lambda v: f"{v:.4g}"), flush=True)
    df = pd.DataFrame(rows)
    print("\n" + df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\npotential={args.potential}; structures={len(df)}")
    print(f"max |dMPE| = {df.dMPE.max():.4f} eV (target ≤ 0.02)")
    print(f"max relative dFV = {df.max_rel_dFV.max():.4f} (target ≤ 0.02)")
    print(f"potential calls exhaustive/default: median {df.call_ratio.median():.1f}×, min {df.call_ratio.min():.1f}× (target ≥ 20×)")
    print(f"wall time default: max {df.s_fast.max():.1f} s, median {df.s_fast.median():.1f} s (target ≤ 60 s); "
          f"exhaustive/default time ratio median {df.time_ratio.median():.1f}×")


if __name__ == "__main__":
    main()
