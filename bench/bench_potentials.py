"""Benchmark: energies per atom of the universal potentials sicnb uses, on small real cells, with the PBE reference
where one exists (issue 16).

Run:  OMP_NUM_THREADS=1 python bench/bench_potentials.py          (needs $SICNB_MATGL_MODELS)

Columns (eV/atom): M3GNet-MP-2021.2.8-PES and M3GNet-MatPES-PBE-v2025.1-PES as sicnb loads them (destination
aggregation, the convention they were trained with); the same M3GNet-MP-2021.2.8 weights run with matgl 4's source
aggregation (what sicnb computed before the fix); CHGNet 0.3.0 (trained on MP2020-corrected energies, so oxides sit
about 0.687 eV per O lower); SevenNet-0; and the Materials Project PBE energy (uncorrected) where sicnb has one
(sicnb.potentials.selftest). Cells: the self-test crystals at experimental lattice constants, Li3N, Li2S and three
larger cells of the embedded Materials Project pool, pymatgen's bundled LiFePO4 and Li3V2(PO4)3 (a NASICON-family
phosphate), antiperovskite Li3OCl built at a = 3.91 Å (Zhao & Daemen, JACS 134, 15042 (2012)), and, when
$SICNB_DATA_DIR holds OBELiX, gamma-Li3PS4 (Pmn2_1) from OBELiX entry joc (ICSD 180318, Homma et al. 2011): its CIF
gives the S sites occupancy 0.9775 (Li6P2S7.82); they are set to 1 for the ideal ordered cell Li6P2S8.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
from pymatgen.core import Lattice, Structure

#: embedded-pool ids: Li3N (4 atoms), Li2S (3), LiCrSiO4 (28), LiSi2N3 (24)
POOL_IDS = {"mbdiel-2008": "Li3N", "mbdiel-4583": "Li2S", "mbdiel-1080": "LiCrSiO4", "mbdiel-3117": "LiSi2N3"}


def cells() -> dict[str, Structure]:
    from sicnb.data import embedded
    from sicnb.potentials.selftest import reference_structure

    out = {n: reference_structure(n) for n in ("MgO", "Li2O", "LiF", "LiCl")}
    pool = {r.id: r.structure for r in embedded().records}
    for rid, name in POOL_IDS.items():
        out[f"{name} ({rid})"] = pool[rid]
    out["LiFePO4 (pymatgen)"] = pool["pymatgen:LiFePO4"]
    out["Li3V2(PO4)3 (pymatgen, NASICON family)"] = pool["pymatgen:Li3V2(PO4)3"]
    out["Li3OCl (antiperovskite, a = 3.91 A)"] = Structure(
        Lattice.cubic(3.91), ["O", "Cl", "Li", "Li", "Li"],
        [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    li3ps4 = gamma_li3ps4()
    if li3ps4 is not None:
        out["gamma-Li3PS4 (OBELiX joc, S occ. 0.98 -> 1)"] = li3ps4
    return out


def gamma_li3ps4() -> Structure | None:
    """gamma-Li3PS4 from OBELiX (entry joc), S sites filled to full occupancy; None without local OBELiX."""
    import os

    if not os.environ.get("SICNB_DATA_DIR"):
        return None
    from sicnb.data import obelix

    rec = next((r for r in obelix("all").records if r.id == "obelix:joc"), None)
    if rec is None or rec.structure is None:
        return None
    s = rec.structure.copy()
    for i, site in enumerate(s):
        (el, occ), = site.species.items()  # one species per site in this CIF
        if occ < 1.0:
            if occ < 0.95:
                raise ValueError(f"joc site {i}: occupancy {occ} is too low to be treated as full")
            s.replace(i, el.symbol)
    assert s.is_ordered and s.composition.reduced_formula == "Li3PS4"
    return s


def main() -> None:
    import argparse

    argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0]).parse_args()  # --help; no options
    warnings.filterwarnings("ignore")
    from sicnb.potentials import Potential, load_potential
    from sicnb.potentials.convention import apply_aggregation
    from sicnb.potentials.selftest import PBE_ENERGY_EV_PER_ATOM

    structs = cells()
    names = list(structs)
    n_atoms = np.array([len(structs[n]) for n in names])
    table = pd.DataFrame({"atoms": n_atoms}, index=names)
    m3 = load_potential("m3gnet")
    wrong = Potential("m3gnet", m3.model, "source aggregation (matgl 4 default)", copy.deepcopy(m3._impl))
    apply_aggregation(wrong._impl, "source")
    pots = {
        "M3GNet-MP-2021.2.8": m3,
        "M3GNet-MP-2021.2.8, source aggregation (before the fix)": wrong,
        "M3GNet-MatPES-PBE-v2025.1": load_potential("m3gnet", model="M3GNet-MatPES-PBE-v2025.1-PES"),
        "CHGNet 0.3.0": load_potential("chgnet"),
        "SevenNet-0": load_potential("sevennet"),
    }
    for label, pot in pots.items():
        table[label] = pot.energies([structs[n] for n in names], batch_size=4) / n_atoms
    table["PBE (MP, uncorrected)"] = [PBE_ENERGY_EV_PER_ATOM.get(n, np.nan) for n in names]
    print(table.round(3).to_markdown())


if __name__ == "__main__":
    main()
