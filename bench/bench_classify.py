"""Benchmarks of sicnb.classify (McHaffie et al. 2025). Prints measured numbers next to the stated baselines.

    python bench/bench_classify.py cv [--levels 0 1] [--reps CAMN CAMNS] [--loco] [--sendek] [--epochs 100]
        k-fold (and LOCO) CV on the OBELiX training split with controls.
        Baseline: paper (own ICSD data) LOCO AUC-PR/MCC 0.86/0.61 (V0), 0.85/0.58 (V1); issue-6 probe
        (pooled V0 + random forest, OBELiX) AUC-PR 0.64, MCC 0.36 on an independent split.
    python bench/bench_classify.py throughput [--n 10000]
        featurise + predict P_SI with the shipped ensemble for N structures (embedded pool, repeated
        with a 0.1 % lattice strain per copy so every structure is distinct for the cache).
        Target (issue 6): 10 000 structures ≤ 10 minutes on 2 cores.
Needs SICNB_DATA_DIR for `cv`. Run with OMP_NUM_THREADS=1.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings


def _cv(args) -> None:
    import pandas as pd

    from sicnb.classify import kfold_splits, loco_clusters, loco_splits, summarize_cv, training_set
    from sicnb.classify.workflow import compare_features, sendek_cv
    from sicnb.data import load

    recs, labels = training_set(load("obelix:train"))
    y = labels["y"]
    print(f"OBELiX train: {len(recs)} labelled structures, positive fraction {y.mean():.3f}")
    params = {"hidden": (32, 32), "dense": (32,), "epochs": args.epochs, "dropout": 0.1, "l2": 1e-4, "lr": 3e-3}
    t = time.perf_counter()
    folds = kfold_splits(len(y), 5, random_state=args.seed)
    tabs = [compare_features(recs, y, folds, args.levels, args.reps, params, random_state=args.seed)]
    if args.sendek:
        tabs.append(sendek_cv(recs, y, folds))
    kf = pd.concat(tabs, ignore_index=True)
    print("\n5-fold CV (mean ± std over folds):")
    print(summarize_cv(kf, by=["features", "model"]).round(3).to_string(index=False))
    if args.loco:
        cl = loco_clusters(labels["composition"].tolist(), random_state=args.seed)
        print("\nLOCO clusters:", cl["cluster"].value_counts().sort_index().to_dict())
        tabs = [compare_features(recs, y, loco_splits(cl["cluster"].to_numpy(), min_size=5), args.levels, args.reps, params, random_state=args.seed)]
        if args.sendek:
            tabs.append(sendek_cv(recs, y, loco_splits(cl["cluster"].to_numpy(), min_size=5)))
        lo = pd.concat(tabs, ignore_index=True)
        print("\nLOCO CV (mean ± std over clusters):")
        print(summarize_cv(lo, by=["features", "model"]).round(3).to_string(index=False))
    print(f"\nwall time {time.perf_counter() - t:.0f} s")


def _throughput(args) -> None:
    from sicnb.classify import load_model, predict
    from sicnb.data import Record, embedded

    pool = [r for r in embedded()]
    recs = []
    k = 0
    while len(recs) < args.n:
        for r in pool:
            if len(recs) >= args.n:
                break
            s = r.structure.copy()
            if k:
                s.scale_lattice(s.volume * (1 + 1e-3 * k))
            recs.append(Record(f"{r.id}#{k}", s))
        k += 1
    model = load_model()
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        out = predict(recs, model, n_workers=args.workers, cache_dir=cache, progress=False)
        dt = time.perf_counter() - t
    print(f"{len(out)} structures, {int(out['error'].ne('').sum())} failed, {args.workers} worker(s): {dt:.1f} s "
          f"({1000 * dt / len(out):.1f} ms/structure); target 10 000 in ≤ 600 s → projected {dt * 10000 / len(out):.0f} s")


def main(argv=None) -> int:
    warnings.filterwarnings("ignore")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cv")
    c.add_argument("--levels", type=int, nargs="+", default=[0])
    c.add_argument("--reps", nargs="+", default=["CAMN"])
    c.add_argument("--epochs", type=int, default=100)
    c.add_argument("--loco", action="store_true")
    c.add_argument("--sendek", action="store_true")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=_cv)
    t = sub.add_parser("throughput")
    t.add_argument("--n", type=int, default=10000)
    t.add_argument("--workers", type=int, default=1)
    t.set_defaults(func=_throughput)
    args = p.parse_args(argv)
    if args.cmd == "cv" and not os.environ.get("SICNB_DATA_DIR"):
        print("bench cv needs SICNB_DATA_DIR (OBELiX)", file=sys.stderr)
        return 2
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
