"""CPU seconds of sicnb's default PES scan of LiCrSiO4 (mbdiel-1080) with 26 vs 6 grid neighbours (M3GNet-MP-2021.2.8),
and the share spent in the potential.

Run:  SICNB_MATGL_MODELS=<matgl models> OMP_NUM_THREADS=1 python bench/pes_connectivity_cost.py
"""
import time
import warnings

warnings.filterwarnings("ignore")
from sicnb.data import embedded
from sicnb.pes import pes_descriptors
from sicnb.potentials import as_potential
s = {r.id: r.structure for r in embedded().records}["mbdiel-1080"]
pot = as_potential("m3gnet")
class Timed:
    def __init__(self, p): self.p, self.cpu, self.provenance = p, 0.0, p.provenance
    def energies(self, ss, batch_size=16):
        t = time.process_time(); e = self.p.energies(ss, batch_size); self.cpu += time.process_time() - t; return e


for conn in (26, 6):
    tp = Timed(pot); t = time.process_time()
    d = pes_descriptors(s, tp, connectivity=conn)
    print(f"connectivity {conn}: CPU {time.process_time() - t:.1f} s, of which potential {tp.cpu:.1f} s; calls {d['n_potential_calls']}, MPE {d['MPE']:.3f}, Xi {d['Xi']:.4f}")
