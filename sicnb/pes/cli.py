"""``sicnb pes``: PES descriptors (MPE, FV_connected/disconnected, Ξ) per structure from a universal potential."""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    from sicnb.cli_common import add_input_args

    p = subparsers.add_parser("pes", help="frozen-framework PES descriptors (MPE, free volumes, Xi) from an ML potential")
    add_input_args(p)
    p.add_argument("--potential", default="m3gnet", choices=["m3gnet", "chgnet", "sevennet"],
                   help="universal potential (default m3gnet: M3GNet-MP-2021.2.8-PES, the paper's; --model "
                        "M3GNet-MatPES-PBE-v2025.1-PES for MatPES; chgnet/sevennet as cross-checks)")
    p.add_argument("--model", default=None, help="model name/version of the potential (default: the package default)")
    p.add_argument("--grid-step", type=float, default=0.25, help="grid step in Å (paper: 0.25)")
    p.add_argument("--r-min", type=float, default=1.2, help="exclusion radius around framework atoms in Å (paper: 1.2)")
    p.add_argument("--mpe-method", choices=["cut", "path"], default=None,
                   help="how the MPE is made exact: 'cut' (default; an evaluated minimax path plus an evaluated minimum "
                        "cut around the well: a proof that rests on potential energies only) or 'path' (minimax-path "
                        "refinement under a margin on the estimate; more calls on cells with high saddles)")
    p.add_argument("--fixed-path-margin", action="store_true",
                   help="minimax-path refinement (--mpe-method path) with the fixed 0.5 eV margin instead of the self-calibrated one: fewer calls, "
                        "but off by 0.12-0.26 eV on two of thirteen bench cells (bench/RESULTS.md)")
    p.add_argument("--connectivity", type=int, choices=[26, 6], default=None,
                   help="grid neighbours that connect in the level map: 26 (default, the authors' 'sqrt3' rule) or 6 (faces)")
    p.add_argument("--no-fv-smearing", action="store_true",
                   help="plain eq. 3 free volumes instead of the authors' mean over t + {-0.04,-0.02,0,0.02,0.04} eV")
    p.add_argument("--exhaustive", action="store_true", help="evaluate every grid point (the reference; 10-47x more calls than the default on the thirteen bench cells)")
    p.set_defaults(func=run)


def run(args) -> int:
    from sicnb.cli_common import cache_arg, load_inputs, write_table
    from sicnb.parallel import pmap
    from sicnb.pes import pes_descriptors

    ds = load_inputs(args).with_structures()
    # the cache key binds these to pes_descriptors' defaults, so this run shares entries with notebook 03 and the
    # ledger however either spells its parameters; options the user did not give are simply not passed
    params = {"potential": args.potential, "model": args.model, "mobile_ion": args.mobile_ion, "step": args.grid_step,
              "r_min": args.r_min, "exhaustive": args.exhaustive}
    params.update({k: v for k, v in (("mpe_method", args.mpe_method), ("connectivity", args.connectivity)) if v is not None})
    if args.no_fv_smearing:
        params["fv_smearing_ev"] = (0.0,)
    if args.fixed_path_margin:
        params["mpe_method"] = "path"
        params["path_margin_adaptive"] = False
    table = pmap(pes_descriptors, ds, params, cache_dir=cache_arg(args), n_workers=args.workers, scheduler=args.scheduler, desc="pes")
    front = [c for c in ("formula", "potential", "n_mobile_sites_scanned", "MPE") if c in table.columns]
    table = table[front + [c for c in table.columns if c not in front]]
    write_table(table, args.out)
    n_ok = int(table["error"].fillna("").eq("").sum()) if "error" in table else len(table)
    print(f"sicnb pes: {n_ok}/{len(table)} structures scanned", file=sys.stderr)
    return 0 if len(table) else 1
