"""Bench: per-structure cost of the PES scan's potential calls by batch size (what chose ``DEFAULT_BATCH_SIZE``).

For each cell, the framework without its first Li plus one Li at ``--points`` random fractional positions (the
structures a scan evaluates; seed 0), evaluated with ``potential.energies(structs, batch_size=b)`` for each ``b``
after one untimed warm-up batch. Prints wall and CPU milliseconds per structure. Threads: set ``OMP_NUM_THREADS``.

    SICNB_DATA_DIR=<data> OMP_NUM_THREADS=1 python bench/pes_batch_cost.py
    SICNB_DATA_DIR=<data> OMP_NUM_THREADS=2 python bench/pes_batch_cost.py --ids mbdiel-1080
"""
from __future__ import annotations

import argparse
import os
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ids", nargs="+", default=["mbdiel-1080", "mbdiel-1627"], help="embedded pool ids (LiCrSiO4, LiNH2)")
    ap.add_argument("--potential", default="chgnet", choices=["chgnet", "m3gnet", "sevennet"])
    ap.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 32])
    ap.add_argument("--points", type=int, default=256)
    args = ap.parse_args()

    import numpy as np
    from pymatgen.core import Structure

    from sicnb.data import load
    from sicnb.potentials import load_potential

    by_id = {r.id: r for r in load("embedded").records}
    pot = load_potential(args.potential)
    print(f"potential {pot.name} {pot.model}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, "
          f"load average at start {os.getloadavg()[0]:.1f}")
    print("id           formula    atoms  batch  ms_per_structure_wall  ms_per_structure_cpu")
    for sid in args.ids:
        s = by_id[sid].structure
        li = next(i for i, site in enumerate(s) if site.specie.symbol == "Li")
        framework = s.copy()
        framework.remove_sites([li])
        points = np.random.default_rng(0).random((args.points, 3))
        species = list(framework.species) + ["Li"]
        structs = [Structure(framework.lattice, species, np.vstack([framework.frac_coords, p[None, :]])) for p in points]
        for b in args.batch_sizes:
            pot.energies(structs[:b], batch_size=b)  # warm-up
            t, c = time.perf_counter(), time.process_time()
            pot.energies(structs, batch_size=b)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            print(f"{sid:<12} {s.composition.reduced_formula:<10} {len(s):>5}  {b:>5}  {1e3 * wall / len(structs):>21.1f}  "
                  f"{1e3 * cpu / len(structs):>20.1f}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
