"""CPU seconds of sicnb's default PES scan of LiCrSiO4 (mbdiel-1080) with 26 vs 6 grid neighbours (M3GNet-MP-2021.2.8),
and the share spent in the potential.

Run:  SICNB_MATGL_MODELS=<matgl models> OMP_NUM_THREADS=1 python bench/pes_connectivity_cost.py
"""
from __future__ import annotations

import time
import warnings


class _TimedPotential:
    """Passes energies through to a potential and adds up the CPU seconds spent in it."""

    def __init__(self, potential):
        self.potential, self.cpu_s, self.provenance = potential, 0.0, potential.provenance

    def energies(self, structures, batch_size: int = 16):
        t = time.process_time()
        e = self.potential.energies(structures, batch_size)
        self.cpu_s += time.process_time() - t
        return e


def main() -> None:
    import argparse

    argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0]).parse_args()  # --help; no options
    warnings.filterwarnings("ignore")
    from sicnb.data import embedded
    from sicnb.pes import pes_descriptors
    from sicnb.potentials import as_potential

    structure = {r.id: r.structure for r in embedded().records}["mbdiel-1080"]
    pot = as_potential("m3gnet")
    for conn in (26, 6):
        timed = _TimedPotential(pot)
        t = time.process_time()
        d = pes_descriptors(structure, timed, connectivity=conn)
        print(f"connectivity {conn}: CPU {time.process_time() - t:.1f} s, of which potential {timed.cpu_s:.1f} s; "
              f"calls {d['n_potential_calls']}, MPE {d['MPE']:.3f}, Xi {d['Xi']:.4f}")


if __name__ == "__main__":
    main()
