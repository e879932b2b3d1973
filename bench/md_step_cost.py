"""Bench: cost of one MD step's force + stress call per universal potential (what chose the MD default, issue 16).

Pymatgen's bundled Li2O (3 atoms) as an n x n x n supercell (n = 2: 24 atoms, n = 3: 81 atoms); per potential one
untimed warm-up call, then ``--repeats`` calls of the ASE calculator for energy, forces and stress with the atoms
moved by 0.01 Å each time (so no calculator returns a cached result). Prints the median wall and CPU seconds per call.

    SICNB_MATGL_MODELS=<matgl models> OMP_NUM_THREADS=1 python bench/md_step_cost.py
    OMP_NUM_THREADS=1 python bench/md_step_cost.py --potentials sevennet chgnet --sizes 2 --repeats 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path


def li2o_atoms(n: int):
    import pymatgen.util
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    s = Structure.from_file(Path(pymatgen.util.__file__).parent / "structures" / "Li2O.json")
    s.remove_oxidation_states()
    s.make_supercell([n, n, n])
    return AseAtomsAdaptor.get_atoms(s)


def step_cost(calc, atoms, repeats: int) -> tuple[float, float]:
    """Median (wall s, CPU s) of ``repeats`` energy+forces+stress calls, after one warm-up call."""
    import numpy as np

    rng = np.random.default_rng(0)
    props = ["energy", "forces", "stress"]
    calc.calculate(atoms.copy(), properties=props)
    walls, cpus = [], []
    for _ in range(repeats):
        a = atoms.copy()
        a.positions += rng.normal(scale=0.01, size=a.positions.shape)
        calc.reset()
        w, c = time.perf_counter(), time.process_time()
        calc.calculate(a, properties=props)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--potentials", nargs="+", default=["m3gnet", "sevennet", "chgnet"], choices=["m3gnet", "sevennet", "chgnet"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[2, 3], help="supercell multiples of the 3-atom Li2O cell")
    ap.add_argument("--repeats", type=int, default=6)
    args = ap.parse_args()
    from sicnb.potentials import load_potential

    print(f"cores: {os.cpu_count()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, "
          f"load average at start {os.getloadavg()[0]:.1f}")
    print("potential  model                      atoms  median_wall_s  median_cpu_s")
    for name in args.potentials:
        pot = load_potential(name)
        calc = pot.calculator()
        for n in args.sizes:
            atoms = li2o_atoms(n)
            wall, cpu = step_cost(calc, atoms, args.repeats)
            print(f"{name:<10} {pot.model:<26} {len(atoms):>5}  {wall:>13.3f}  {cpu:>12.3f}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
