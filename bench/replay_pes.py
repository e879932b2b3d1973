"""Replay sicnb's PES scan variants on stored potential energies (fidelity and call counts without re-running the potential).

Run:  OMP_NUM_THREADS=1 python bench/replay_pes.py --store DIR [--ids ID ...] [--variants cut adaptive-clip5 fixed ...]

For each cell, the first run evaluates every stabiliser-orbit representative of the 0.25 Å grid (``strides=(1,)``:
the exhaustive field, orbit-reduced — same energies as ``exhaustive=True`` on the symmetrized input) through the
real potential and stores the energies in ``DIR/<id>__<potential>.pkl``; later runs reuse them. Each variant of
:func:`sicnb.pes.pes_scan` then runs against a lookup "potential" that answers from the store (a variant asking for
a point not in the store is counted in ``missing``; none should). Prints |ΔMPE|, the largest relative FV
difference, ``mpe_refined`` and the call ratio against the exhaustive grid (all grid points ≥ R_min of every
scanned ion, as ``bench_pes.py`` counts them). Wall times are not measured here (``bench_pes.py --default-only``).
"""
from __future__ import annotations

import argparse
import hashlib
import pickle
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bench_pes import DEFAULT_IDS, TUNING_IDS

#: extra cells used only to check the self-calibrated path margin: KLiSO4 (14 atoms) and LiNH2 (16 atoms, H-rich)
EXTRA_IDS = ["mbdiel-1914", "mbdiel-1627"]
VARIANTS = {
    "cut": {},  # the default: MPE proven by an evaluated path and an evaluated minimum cut
    "adaptive": {"mpe_method": "path"},  # minimax-path refinement, self-calibrated margin (the default before the cut)
    "fixed": {"mpe_method": "path", "path_margin_adaptive": False},
    "surface": {"mpe_method": "path", "estimator": "surface", "path_margin_adaptive": False},
    "adaptive-clip5": {"mpe_method": "path", "clip_ev": 5.0},  # exactly the earlier default (estimates clipped at 5 eV)
}


def _key(s) -> tuple:
    fw = np.round(np.mod(s.frac_coords[:-1], 1.0), 4).tobytes()
    return hashlib.md5(fw).hexdigest(), tuple(np.round(np.mod(s.frac_coords[-1], 1.0), 4))


class _Recorder:
    provenance: dict = {}

    def __init__(self, inner, store: dict):
        self.inner, self.store = inner, store

    def energies(self, structs, batch_size: int = 32) -> np.ndarray:
        todo = [s for s in structs if _key(s) not in self.store]
        if todo:
            for s, e in zip(todo, self.inner.energies(todo, batch_size=batch_size)):
                self.store[_key(s)] = float(e)
        return np.array([self.store[_key(s)] for s in structs])


class _Lookup:
    provenance: dict = {}

    def __init__(self, store: dict):
        self.store, self.missing = store, 0

    def energies(self, structs, batch_size: int = 32) -> np.ndarray:
        out = [self.store.get(_key(s), np.nan) for s in structs]
        self.missing += int(np.isnan(out).sum())
        return np.array(out)


def oracle_floor(ref, thresholds_max: float = 1.0) -> tuple[int, list[tuple[int, int, int]]]:
    """Calls an exact method needs at least, if it knew the exhaustive field in advance: per scanned ion, the stabiliser
    orbits of every point below ``thresholds_max`` and its six neighbours (exact FV, eq. 3: a point is known to lie
    above the threshold only once evaluated; far points are granted for free), of a minimum cut at the ion's MPE
    (or at the structure's MPE, for ions above it) and of one minimax path (the certificate of eq. 2). The cut is a
    minimum in supercell points, not in orbits, so the floor is approximate. Returns (total, [(fv, cut, path)])."""
    from sicnb.pes.grid import grid_symmetry_ops, orbit_labels, space_group_ops, stabiliser
    from sicnb.pes.levelmap import UNCUTTABLE, centred_supercell, percolation_path, separating_set, supercell_cell_index

    st = ref.structure
    ops = space_group_ops(st)
    best = ref.descriptors["MPE"]
    total, parts = 0, []
    for sc in ref.scans:
        e = sc.energy_ev
        shape = e.shape
        labels = orbit_labels(grid_symmetry_ops(stabiliser(ops, st[sc.site_index].frac_coords), shape), shape)
        low = e < thresholds_max
        fv = low.copy()
        for ax in range(3):
            for d in (-1, 1):
                fv |= np.roll(low, d, axis=ax)
        fv_l = set(labels[np.flatnonzero((fv & np.isfinite(e)).ravel())].tolist())
        sup, origin = centred_supercell(e)
        uc = supercell_cell_index(shape, origin).ravel()
        mpe, path = percolation_path(sup)
        level = min(mpe, best)
        f = sup.ravel()
        cost = np.zeros(f.size, dtype=np.int64)
        cost[np.isfinite(f) & (f >= level)] = 1
        cost[np.isfinite(f) & (f < level)] = UNCUTTABLE
        cut_l = set(labels[uc[separating_set(cost.reshape(sup.shape))]].tolist()) if np.isfinite(level) else set()
        path_l = set(labels[uc[path]].tolist()) if mpe <= best else set()
        parts.append((len(fv_l), len(cut_l), len(path_l)))
        total += len(fv_l | cut_l | path_l)
    return total, parts


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, required=True, help="folder for the stored orbit-reduced energies")
    ap.add_argument("--ids", nargs="*", default=DEFAULT_IDS + EXTRA_IDS)
    ap.add_argument("--potential", default="chgnet")
    ap.add_argument("--variants", nargs="*", default=["cut", "adaptive-clip5", "fixed"], choices=list(VARIANTS))
    ap.add_argument("--floor", action="store_true", help="also print the oracle floor of each cell (oracle_floor)")
    args = ap.parse_args()

    from sicnb.data import load
    from sicnb.pes import DEFAULT_THRESHOLDS_EV, pes_scan
    from sicnb.potentials import load_potential

    structs = load("embedded").with_structures().structures()
    fv = [f"FV_{k}_{t:g}" for k in ("connected", "disconnected") for t in DEFAULT_THRESHOLDS_EV]
    rows, floors = [], {}
    for sid in args.ids:
        path = args.store / f"{sid}__{args.potential}.pkl"
        if path.exists():
            store = pickle.loads(path.read_bytes())
        else:
            store, t = {}, time.perf_counter()
            pes_scan(structs[sid], potential=_Recorder(load_potential(args.potential), store), strides=(1,), margins_ev=())
            args.store.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(store))
            tmp.replace(path)
            print(f"{sid}: stored {len(store)} energies in {time.perf_counter() - t:.0f} s", flush=True)
        ref = pes_scan(structs[sid], potential=_Lookup(store), strides=(1,), margins_ev=())
        n_exh = sum(int(np.isfinite(sc.energy_ev).sum()) for sc in ref.scans)
        r0 = ref.descriptors
        if args.floor:
            fl, parts = oracle_floor(ref)
            floors[sid] = n_exh / fl
            print(f"{sid} {r0['formula']}: oracle floor {fl} calls (fv, cut, path per ion: {parts}) -> at most {n_exh / fl:.1f}x "
                  f"fewer than the exhaustive {n_exh}", flush=True)
        for name in args.variants:
            look = _Lookup(store)
            r = pes_scan(structs[sid], potential=look, **VARIANTS[name]).descriptors
            rel = max(abs(r[k] - r0[k]) / r0[k] if r0[k] > 0 else float(r[k] > 0) for k in fv)
            rows.append({"id": sid, "role": "tuning" if sid in TUNING_IDS else "validation", "formula": r0["formula"],
                         "variant": name, "MPE_exh": r0["MPE"], "dMPE": abs(r["MPE"] - r0["MPE"]), "max_rel_dFV": rel,
                         "mpe_refined": r["mpe_refined"], "calls": r["n_potential_calls"], "calls_exh": n_exh,
                         "ratio": n_exh / max(r["n_potential_calls"], 1), "missing": look.missing})
            print(pd.DataFrame(rows[-1:]).to_string(index=False, header=False, float_format=lambda v: f"{v:.4g}"), flush=True)
    df = pd.DataFrame(rows)
    if floors:
        df["oracle_ratio"] = df["id"].map(floors)
    print("\n" + df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for name, g in df.groupby("variant", sort=False):
        print(f"{name}: MPE within 0.02 eV on {(g.dMPE <= 0.02).sum()}/{len(g)}, exact (< 1e-6) on {(g.dMPE < 1e-6).sum()}, "
              f"FV within 2 % on {(g.max_rel_dFV <= 0.02).sum()}; call ratio median {g.ratio.median():.1f}x, "
              f"min {g.ratio.min():.1f}x, >= 20x on {(g.ratio >= 20).sum()}")


if __name__ == "__main__":
    main()
