"""Benchmark: sicnb's default PES scan (symmetry + coarse-to-fine) against the exhaustive 0.25 Å grid.

Run:  OMP_NUM_THREADS=1 nice python bench/bench_pes.py [--ids ID ...] [--potential chgnet] [--reference-cache DIR]

Both runs use the same code, grid, potential and (symmetrized) input: the exhaustive run evaluates every
grid point ≥ R_min from the framework, without stabiliser reduction or refinement. Prints per structure
MPE / FV deviations, potential-call ratio and wall time, a markdown table, then the acceptance checks
(MPE within 0.02 eV, FV within 2 % relative, ≥ 20× fewer calls, ≤ 60 s per structure). The default ids are
the seven cells used to choose the refinement parameters ("tuning") and four 24–56-atom cells that were not
("validation"); the ``role`` column says which.

``--reference-cache DIR`` keeps each exhaustive result (descriptors, calls, seconds) as JSON keyed by id,
potential and the descriptor code version, and reuses it on the next run: the exhaustive scan of a 20-atom
cell takes tens of minutes on 2 cores. Reused rows say ``exh_cached=True``; their seconds are those measured
when the entry was written.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import pandas as pd

#: Li2O, LiCl, Li3N, Li2S, LiAlO2, LiBr (2–4 atoms) and Li6CrN4 (22 atoms, 12 Li on 2 distinct sites): the cells whose
#: stored exhaustive energies were used to choose the refinement parameters of sicnb.pes.scan ("tuning")
TUNING_IDS = ["mbdiel-4595", "mbdiel-4576", "mbdiel-2008", "mbdiel-4583", "mbdiel-4553", "mbdiel-4528", "mbdiel-0838"]
#: LiCrSiO4 (28 atoms, 4 Li on 1 distinct site), LiSi2N3 (24 atoms, 4 Li on 1 distinct site), LiMgH6Ir (36 atoms,
#: 2 distinct Li sites) and LiAl5O8 (56 atoms, 1 distinct Li site): not used for the choice ("validation")
VALIDATION_IDS = ["mbdiel-1080", "mbdiel-3117", "mbdiel-1556", "mbdiel-0965"]
DEFAULT_IDS = TUNING_IDS + VALIDATION_IDS


def _exhaustive(s, sid: str, potential: str, cache: Path | None) -> tuple[dict, float, bool]:
    from sicnb.pes import pes_descriptors

    key = f"{sid}__{potential}__v{pes_descriptors.cache_version}.json"
    if cache is not None and (cache / key).exists():
        d = json.loads((cache / key).read_text())
        return d["descriptors"], d["seconds"], True
    t = time.perf_counter()
    full = pes_descriptors(s, potential=potential, exhaustive=True)
    sec = time.perf_counter() - t
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        (cache / key).write_text(json.dumps({"descriptors": full, "seconds": sec}))
    return full, sec, False


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser()
    ap.add_argument("--ids", nargs="*", default=DEFAULT_IDS)
    ap.add_argument("--potential", default="chgnet")
    ap.add_argument("--reference-cache", type=Path, default=None, help="folder for the exhaustive results (reused when present)")
    ap.add_argument("--default-only", action="store_true",
                    help="time sicnb's default scan only (no exhaustive reference, no fidelity check): wall time, CPU s, peak RSS")
    args = ap.parse_args()

    from sicnb.data import load
    from sicnb.pes import DEFAULT_THRESHOLDS_EV, pes_descriptors

    ds = load("embedded")
    by_id = {r.id: r for r in ds.records}
    pes_descriptors(by_id["mbdiel-4576"].structure, potential=args.potential, step=0.5)  # load the model once, untimed
    rows = []
    for sid in args.ids:
        s = by_id[sid].structure
        t, c = time.perf_counter(), time.process_time()
        fast = pes_descriptors(s, potential=args.potential)
        t_fast, c_fast = time.perf_counter() - t, time.process_time() - c
        if args.default_only:
            import resource

            rows.append({"id": sid, "formula": fast["formula"], "n_atoms": len(s), "grid": fast["grid_shape"], "MPE": fast["MPE"],
                         "mpe_refined": fast["mpe_refined"], "calls": fast["n_potential_calls"], "s": t_fast, "cpu_s": c_fast,
                         "peak_rss_GB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2})
            print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=lambda v: f"{v:.4g}"), flush=True)
            continue
        full, t_full, cached = _exhaustive(s, sid, args.potential, args.reference_cache)
        fv_keys = [f"FV_{k}_{x:g}" for k in ("connected", "disconnected") for x in DEFAULT_THRESHOLDS_EV]
        rel = [abs(fast[k] - full[k]) / full[k] if full[k] > 0 else float(fast[k] > 0) for k in fv_keys]
        rows.append({
            "id": sid, "role": "tuning" if sid in TUNING_IDS else "validation", "formula": full["formula"], "n_atoms": len(s), "n_Li": int(full["n_mobile_ions"]),
            "sites_scanned": int(full["n_mobile_sites_scanned"]), "grid": full["grid_shape"],
            "MPE_exh": full["MPE"], "dMPE": abs(fast["MPE"] - full["MPE"]), "max_rel_dFV": max(rel),
            "Xi_exh": full["Xi"], "Xi_fast": fast["Xi"], "mpe_refined": fast["mpe_refined"],
            "calls_exh": full["n_potential_calls"], "calls_fast": fast["n_potential_calls"],
            "call_ratio": full["n_potential_calls"] / max(fast["n_potential_calls"], 1),
            "s_exh": t_full, "s_fast": t_fast, "cpu_s_fast": c_fast, "exh_cached": cached,
        })
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=lambda v: f"{v:.4g}"), flush=True)
    df = pd.DataFrame(rows)
    if args.default_only:
        print("\n" + df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        print(f"\nwall time default: max {df.s.max():.1f} s, median {df.s.median():.1f} s (target ≤ 60 s); peak RSS is of the process so far")
        return
    print("\n" + df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\n| id | role | formula | atoms (Li) | grid | MPE exh (eV) | abs dMPE (eV) | max rel dFV | calls exh | calls default | ratio | s exh | s default (CPU s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['id']} | {r['role']} | {r['formula']} | {r['n_atoms']} ({r['n_Li']}) | {r['grid']} | {r['MPE_exh']:.3f} | {r['dMPE']:.1e} | "
              f"{r['max_rel_dFV']:.1e} | {r['calls_exh']} | {r['calls_fast']} | {r['call_ratio']:.1f}× | {r['s_exh']:.0f}"
              f"{'*' if r['exh_cached'] else ''} | {r['s_fast']:.1f} ({r['cpu_s_fast']:.1f}) |")
    print(f"\npotential={args.potential}; structures={len(df)}")
    print(f"max |dMPE| = {df.dMPE.max():.4f} eV (target ≤ 0.02)")
    print(f"max relative dFV = {df.max_rel_dFV.max():.4f} (target ≤ 0.02)")
    print(f"potential calls exhaustive/default: median {df.call_ratio.median():.1f}×, min {df.call_ratio.min():.1f}× (target ≥ 20×)")
    print(f"wall time default: max {df.s_fast.max():.1f} s, median {df.s_fast.median():.1f} s (target ≤ 60 s); CPU s of this process: max {df.cpu_s_fast.max():.1f}")


if __name__ == "__main__":
    main()
