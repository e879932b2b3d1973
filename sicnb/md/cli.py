"""``sicnb md``: NVT MD with a universal potential at several temperatures → D, σ and the Arrhenius fit."""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("md", help="ML-potential MD: D and sigma per temperature, Arrhenius fit (Maevskiy et al. Sec. II C)")
    p.add_argument("--input", "-i", required=True, help="structure file (CIF, POSCAR, ...) or dataset name with --id")
    p.add_argument("--id", default=None, help="record id when --input is a dataset")
    p.add_argument("--out", "-o", required=True, help="output CSV (one row per temperature; the Arrhenius fit in *_arrhenius.csv)")
    p.add_argument("--temperatures", type=float, nargs="+", default=[600.0, 800.0, 1000.0], help="K")
    p.add_argument("--ps", type=float, default=50.0, help="production time per temperature in ps")
    p.add_argument("--equilibration-ps", type=float, default=5.0)
    p.add_argument("--timestep-fs", type=float, default=1.0)
    p.add_argument("--window-ps", type=float, default=15.0, help="MSD window (paper: 15 ps, fitted from 1 ps)")
    p.add_argument("--potential", default="m3gnet", choices=["m3gnet", "sevennet", "chgnet"],
                   help="default m3gnet (M3GNet-MP-2021.2.8-PES: self-tested, fastest per step); sevennet = the paper's MD model")
    p.add_argument("--mobile-ion", default="Li")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    import pandas as pd

    from sicnb.cli_common import write_table
    from sicnb.data import load
    from sicnb.errors import InputError
    from sicnb.md import md_validation

    ds = load(args.input)
    recs = [r for r in ds.records if args.id is None or r.id == args.id]
    if len(recs) != 1:
        raise InputError(f"--input {args.input!r} gives {len(recs)} structures; pass one file or --id")
    table, summary = md_validation(recs[0].structure, args.temperatures, args.ps, mobile_ion=args.mobile_ion,
                                   window_ps=args.window_ps, potential=args.potential, timestep_fs=args.timestep_fs,
                                   equilibration_ps=args.equilibration_ps)
    table.insert(0, "id", recs[0].id)
    write_table(table, args.out)
    out = Path(args.out)
    write_table(pd.DataFrame([{"id": recs[0].id, **summary}]), out.with_name(out.stem + "_arrhenius" + out.suffix))
    print(f"sicnb md: {summary}", file=sys.stderr)
    return 0
