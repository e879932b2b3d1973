"""``sicnb topology``: MTL topological descriptors, threshold flags and chemical-rule flags per structure."""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    from sicnb.cli_common import add_input_args

    p = subparsers.add_parser("topology", help="persistent-homology screen (r_connected, rho_cycles, 22 features, chemical rules)")
    add_input_args(p)
    p.add_argument("--radius", type=float, default=10.0, help="sphere radius R in Å (paper: 10)")
    p.add_argument("--r-connected-max", type=float, default=5.0, help="threshold on r_connected in Å (paper: 5)")
    p.add_argument("--rho-cycles-max", type=float, default=0.6, help="threshold on rho_cycles (paper: 0.6)")
    p.set_defaults(func=run)


def run(args) -> int:
    import pandas as pd

    from sicnb.cli_common import cache_arg, load_inputs, write_table
    from sicnb.parallel import pmap
    from sicnb.topology.chemistry import chemical_rules
    from sicnb.topology.features import topology_features
    from sicnb.topology.screening import topological_screen

    ds = load_inputs(args).with_structures()
    common = dict(cache_dir=cache_arg(args), n_workers=args.workers, scheduler=args.scheduler)
    feats = pmap(topology_features, ds, {"radius_angstrom": args.radius, "mobile_ion": args.mobile_ion}, desc="topology", **common)
    chem = pmap(chemical_rules, ds, {"mobile_ion": args.mobile_ion}, desc="chemical rules", **common)
    table = topological_screen(feats, args.r_connected_max, args.rho_cycles_max)
    chem_cols = [c for c in chem.columns if c.startswith("rule_") or c in ("pass_chemistry", "chem_reasons")]
    table = table.join(chem[chem_cols])
    front = ["formula", "n_mobile_sites", "r_connected", "rho_cycles"]
    table = table[front + [c for c in table.columns if c not in front]]
    write_table(table, args.out)
    n_ok = int(table["error"].fillna("").eq("").sum())
    print(f"sicnb topology: {n_ok}/{len(table)} computed, {int(table['pass_topology'].sum())} pass both thresholds", file=sys.stderr)
    return 0 if len(table) else 1
