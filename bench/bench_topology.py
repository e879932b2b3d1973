"""Bench: sicnb topology vs the straightforward MTL computation, same structures, R = 10 Å, one run.

Baseline (what the paper describes, done the direct way, as in the authors' public code): for EVERY Li
site of the cell, neighbours within R found by brute force over an explicit supercell, then ripser
Vietoris–Rips up to dimension 2 with ``thresh = R`` on the Li-only and the Li-free clouds.
sicnb (``topology_features``): symmetry-distinct sites only, one periodic neighbour search per structure,
Li-only H0 by minimum spanning tree, Li-free H0/H1 by gudhi's double-precision Ripser.

Selection (the paper's scale, ~100-atom cells): every structure with 60–160 sites of OBELiX (CIFs under
``$SICNB_DATA_DIR``, split "all") and of the embedded pool, sorted by id; ``--n`` of them taken at even
spacing through that list (blind to the number of Li sites and to symmetry). ``--ids`` overrides.
Both sides are warmed up (imports) on a two-atom cell before timing.

Checks that, for every Li site, the baseline's H0/H1 diagrams equal sicnb's diagrams of its symmetry
representative (bottleneck distance ≤ 1e-5 Å: ripser.py computes in float32), then prints per-structure
and total time ratios.

    SICNB_DATA_DIR=... OMP_NUM_THREADS=1 nice python bench/bench_topology.py --n 4
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def baseline_site_barcodes(structure, site_index, R=10.0, maxdim=2):
    """Brute force: explicit supercell covering R, distance to every image, ripser on both clouds."""
    import ripser

    lat = structure.lattice
    reps = [int(np.ceil(R / (lat.volume / np.linalg.norm(np.cross(lat.matrix[(i + 1) % 3], lat.matrix[(i + 2) % 3]))))) + 1 for i in range(3)]
    rng = [np.arange(-n, n + 1) for n in reps]
    shifts = np.array(np.meshgrid(*rng, indexing="ij")).reshape(3, -1).T
    is_li = np.array([any(getattr(sp, "symbol", "") == "Li" for sp in s.species) for s in structure])
    frac = structure.frac_coords
    centre = structure[site_index].coords
    li_pts, fw_pts = [np.zeros(3)], []
    for sh in shifts:  # brute force over every atom of every image
        cart = lat.get_cartesian_coords(frac + sh) - centre
        for k in range(len(structure)):
            dist = np.sqrt(cart[k] @ cart[k])
            if dist <= R + 1e-6 and dist > 1e-8:
                (li_pts if is_li[k] else fw_pts).append(cart[k])
    li = ripser.ripser(np.array(li_pts), maxdim=maxdim, thresh=R)["dgms"]
    fw = ripser.ripser(np.array(fw_pts), maxdim=maxdim, thresh=R)["dgms"]
    return li, fw


def select(n, min_sites=60, max_sites=160, ids=None):
    """The bench structures: see the module docstring."""
    import os
    import warnings

    from sicnb.data import embedded

    recs = [r for r in embedded() if r.structure is not None]
    if os.environ.get("SICNB_DATA_DIR"):
        from sicnb.data import obelix

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recs += [r for r in obelix("all") if r.structure is not None]
    has_li = lambda s: any(any(getattr(sp, "symbol", "") == "Li" for sp in x.species) for x in s)  # noqa: E731
    if ids:
        by_id = {r.id: r for r in recs}
        return [by_id[i] for i in ids]
    pool = sorted((r for r in recs if min_sites <= len(r.structure) <= max_sites and has_li(r.structure)), key=lambda r: r.id)
    if n >= len(pool):
        return pool
    return [pool[int(k)] for k in np.linspace(0, len(pool) - 1, n).round()]


def main():
    import gudhi
    from pymatgen.core import Lattice, Structure

    from sicnb.structure import mobile_sites
    from sicnb.topology import topology_features
    from sicnb.topology.barcodes import h0_deaths, rips_barcode, structure_clouds

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4, help="number of structures (even spacing through the 60–160-site list)")
    ap.add_argument("--ids", nargs="*", help="explicit ids instead (e.g. obelix:019 mp-...)")
    ap.add_argument("--radius", type=float, default=10.0)
    args = ap.parse_args()
    R = args.radius
    recs = select(args.n, ids=args.ids)
    warm = Structure(Lattice.cubic(4.0), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    topology_features(warm, radius_angstrom=R)
    baseline_site_barcodes(warm, 0, R)
    print(f"| structure | id | sites | Li sites | distinct Li | baseline s | sicnb s | ratio | max bottleneck Å |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    t_base = t_sicnb = 0.0
    worst_all = 0.0
    n_sites = 0
    for rec in recs:
        s = rec.structure
        t0 = time.perf_counter()
        topology_features(s, radius_angstrom=R)
        ts = time.perf_counter() - t0
        # sicnb diagrams of every representative (not timed: the timed call above computes the same)
        reps = {}
        sites = mobile_sites(s)
        for m, c in zip(sites, structure_clouds(s, [m.index for m in sites], R)):
            d, _ = h0_deaths(c.mobile_points, R)
            fw = rips_barcode(c.framework_points, R, 1)
            for i in m.equivalent_indices:
                reps[i] = (d, fw)
        t0 = time.perf_counter()
        base = {i: baseline_site_barcodes(s, i, R) for i in range(len(s)) if i in reps}
        tb = time.perf_counter() - t0
        worst = 0.0
        for i, (li, fw) in base.items():
            d, bc = reps[i]
            li0 = np.column_stack([np.zeros(len(d)), d])
            worst = max(worst, gudhi.bottleneck_distance(li[0][np.isfinite(li[0][:, 1])], li0))
            for k in (0, 1):
                a = fw[k][np.isfinite(fw[k][:, 1])] if k == 0 else fw[k]
                b = bc.dim(k)[np.isfinite(bc.dim(k)[:, 1])] if k == 0 else bc.dim(k)
                worst = max(worst, gudhi.bottleneck_distance(a, b))
        t_base += tb
        t_sicnb += ts
        worst_all = max(worst_all, worst)
        n_sites += len(base)
        print(f"| {s.composition.reduced_formula} | {rec.id} | {len(s)} | {len(base)} | {len(sites)} | {tb:.1f} | {ts:.2f} | "
              f"{tb / ts:.0f}× | {worst:.1e} |", flush=True)
    print(f"| **total** | {len(recs)} structures | | {n_sites} | | {t_base:.1f} | {t_sicnb:.2f} | **{t_base / t_sicnb:.0f}×** | {worst_all:.1e} |")
    print(f"\nR = {R} Å; baseline = every Li site, brute-force neighbours, ripser.py maxdim 2; sicnb = topology_features")
    assert worst_all <= 1e-5, "diagrams differ"  # ripser.py stores distances in float32 (~5e-6 Å at 10 Å)


if __name__ == "__main__":
    main()
