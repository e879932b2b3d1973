"""Benchmark: SOAP-CAN + Ward + frozen-state W_sigma at all depths 2-300 on N structures.

The open pool (embedded + OBELiX training CIFs when SICNB_DATA_DIR is set) is replicated up to N
structures with small random perturbations (0.02 Å rattle, ±3 % isotropic volume change) so that
every replica is a distinct structure — a timing stand-in for the paper's ~26,000 ICSD + MP pool,
not data. Labels are the OBELiX labels of the original (unperturbed) entries only.

    OMP_NUM_THREADS=1 python bench/bench_cluster.py --n 26000 --workers 2

Prints wall time per stage, peak memory (max RSS of this process and of worker children),
and the ratio to the target (10 minutes, 8 GB on 2 cores).
"""
from __future__ import annotations

import argparse
import gc
import os
import resource
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=26000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--r-cut", type=float, default=4.0)
    ap.add_argument("--n-max", type=int, default=4)
    ap.add_argument("--l-max", type=int, default=3)
    ap.add_argument("--n-control", type=int, default=100)
    args = ap.parse_args()

    import numpy as np

    from sicnb import cluster as sc
    from sicnb.data import Dataset, Record, embedded, obelix

    base = list(embedded().with_structures())
    if os.environ.get("SICNB_DATA_DIR"):
        base += list(obelix("train").with_structures())
    labels = {r.id: r.labels["log10_sigma"] for r in base if np.isfinite(r.labels.get("log10_sigma", np.nan))}
    rng = np.random.default_rng(0)
    recs = []
    for k in range(args.n):
        r = base[k % len(base)]
        s = r.structure.copy()
        if k >= len(base):
            s.scale_lattice(s.volume * (1 + rng.uniform(-0.03, 0.03)))
            s.perturb(0.02)
        recs.append(Record(r.id if k < len(base) else f"{r.id}~{k}", s))
    pool = Dataset(recs)
    t = {}
    t0 = time.perf_counter()
    table = sc.descriptor_table(pool, "soap", "CAN", dict(r_cut=args.r_cut, n_max=args.n_max, l_max=args.l_max, average="outer"),
                                n_workers=args.workers, cache_dir=False, progress=True)
    t["soap"] = time.perf_counter() - t0
    rss_soap = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    del pool, recs  # the clustering needs only the descriptor table
    gc.collect()
    t0 = time.perf_counter()
    tree = sc.ward_tree(table)
    t["ward"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    A = sc.cluster_assignments(tree, range(2, 301))
    import pandas as pd

    curve = sc.w_sigma_curve(A, pd.Series(labels), n_control=args.n_control)
    t["w_sigma"] = time.perf_counter() - t0
    total = sum(t.values())
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    rss_kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    print(f"N={args.n} structures ({tree.n_leaves} clustered, {len(tree.dropped)} failed), workers={args.workers}")
    for k, v in t.items():
        print(f"  {k:8s} {v:8.1f} s")
    print(f"  total    {total:8.1f} s   = {total / 600:.2f} x the 10-minute target")
    print(f"  peak RSS {rss_self:.2f} GB (driver; {rss_soap:.2f} GB by the end of the descriptor stage), {rss_kids:.2f} GB (largest worker)"
          f" = {max(rss_self, rss_kids) / 8:.2f} x the 8 GB target")
    print(f"  W_sigma/control at depth 241: {curve.set_index('depth').loc[241, 'ratio_to_control']:.3f}" if 241 in set(curve.depth) else "")


if __name__ == "__main__":
    main()
