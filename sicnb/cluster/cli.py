"""``sicnb cluster`` (W_σ per depth, candidates). ``sicnb bvse`` is generated from sicnb/bvse/method.py.

    sicnb cluster --input embedded --input obelix:train --labels obelix --descriptor soap \\
                  --simplification CAN --out wsigma.csv
    sicnb cluster candidates --input embedded --input obelix:train --depth 241 --bvse --out candidates.csv
    sicnb cluster screen --input embedded --input obelix:train --labels obelix --max-unlabelled 150 \
                  --restrict ofm=none,CAN --out screen.csv          # Fig. 2.2: descriptor x simplification
    sicnb cluster screen ... --soap-grid r_cut=2,3,4 n_max=2,4 l_max=2,3 average=outer,inner --out grid.csv  # Table A.1
    sicnb bvse --input obelix:train --workers 2 --out bvse.csv
"""
from __future__ import annotations

import sys

from sicnb.cli_common import parse_value

__all__ = ["register"]


def _labels(args, pool):
    import pandas as pd

    from sicnb.cluster.labels import conductivity_labels
    from sicnb.errors import InputError

    if args.labels in ("obelix", "auto"):
        table = conductivity_labels(pool, include_censored=not args.exclude_censored, fallback_known_conductors=args.labels == "auto")
    elif args.labels == "known_conductors":
        from sicnb.data import Dataset

        stripped = Dataset([type(r)(r.id, r.structure, {}, r.provenance) for r in pool])
        table = conductivity_labels(stripped, use_laskowski=False)
    else:
        raw = pd.read_csv(args.labels)
        if not {"id", "log10_sigma"} <= set(raw.columns):
            raise InputError(f"{args.labels}: a label CSV needs columns 'id' and 'log10_sigma' (log10 S/cm)")
        table = raw.set_index("id")
    if table.empty:
        raise InputError(f"no labels from --labels {args.labels} for this pool; add obelix:train to --input or give a CSV")
    print(f"sicnb cluster: {len(table)} labelled structures", file=sys.stderr)
    return table["log10_sigma"]


def _tree(args, pool):
    from sicnb.cli_common import cache_arg
    from sicnb.cluster.transformers import descriptor_table
    from sicnb.cluster.ward import cluster_assignments, ward_tree

    opts = {k: parse_value(v) for k, v in (args.option or [])}
    table = descriptor_table(pool, args.descriptor, args.simplification, opts, args.mobile_ion, n_workers=args.workers,
                             cache_dir=cache_arg(args), scheduler=args.scheduler, progress=True)
    n_bad = int((table["error"] != "").sum())
    if n_bad:
        print(f"sicnb cluster: {n_bad} structures could not be described (error rows; not clustered)", file=sys.stderr)
    tree = ward_tree(table, standardize=args.standardize)
    return tree, cluster_assignments(tree, range(2, args.max_depth + 1))


def _screen(args, pool, labels) -> int:
    """Descriptor x simplification screen (or a SOAP grid), saved after every combination; ranking on stdout."""
    from pathlib import Path

    import pandas as pd

    from sicnb.cli_common import cache_arg, write_table
    from sicnb.cluster.descriptors import PAPER_SIMPLIFICATIONS
    from sicnb.cluster.screening import labelled_subpool, paper_combinations, rank_combinations, soap_grid
    from sicnb.errors import ParameterError

    pool = labelled_subpool(pool, labels, args.max_unlabelled, seed=args.seed)
    labels = labels[labels.index.isin({r.id for r in pool})]
    print(f"sicnb cluster screen: pool {len(pool)} structures, {len(labels)} labelled", file=sys.stderr)
    if args.soap_grid:
        grid = {}
        for item in args.soap_grid:
            name, _, values = item.partition("=")
            if name not in ("r_cut", "n_max", "l_max", "average") or not values:
                raise ParameterError(f"--soap-grid takes r_cut=..., n_max=..., l_max=..., average=...; got {item!r}")
            grid[name] = [parse_value(v) for v in values.split(",")]
        combos = soap_grid(**grid, simplification=args.simplification)
    else:
        descs = args.descriptors.split(",") if args.descriptors else None
        simps = args.simplifications.split(",") if args.simplifications else list(PAPER_SIMPLIFICATIONS)
        restrict = {}
        for item in args.restrict or []:
            name, _, values = item.partition("=")
            restrict[name] = values.split(",")
        combos = paper_combinations(descs, simps, restrict=restrict)
    print(f"sicnb cluster screen: {len(combos)} combinations", file=sys.stderr)
    done: list = []

    def save(curve):
        done.append(curve)
        write_table(pd.concat(done, ignore_index=True), args.out)
        r = curve.set_index("depth")["ratio_to_control"]
        print(f"  {curve['combination'].iat[0]:40s} mean W/control {r.mean():.3f}; depth 241: "
              f"{r.get(241, float('nan')):.3f}  ({int(curve['n_labels'].iat[0])} labels)", file=sys.stderr, flush=True)

    from sicnb.cluster.screening import screen_combinations

    curves = screen_combinations(pool, labels, combos, depths=range(2, args.max_depth + 1), n_control=args.n_control,
                                 common_labels=False, n_workers=args.workers, cache_dir=cache_arg(args), seed=args.seed,
                                 on_result=save, progress=True, standardize=args.standardize)
    for name, why in curves.attrs.get("failed", {}).items():
        print(f"  not scored: {name}: {why[:120]}", file=sys.stderr)
    ranking = rank_combinations(curves, depth_range=(2, args.max_depth), by="mean_ratio_to_control")
    out = Path(args.out)
    write_table(ranking, out.with_name(out.stem + "_ranking" + out.suffix))
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(ranking.head(20).to_string())
    return 0


def _cmd_cluster(args) -> int:
    from sicnb.cli_common import load_inputs, write_table

    pool = load_inputs(args).with_structures()
    labels = _labels(args, pool)
    if args.action == "screen":
        return _screen(args, pool, labels)
    tree, A = _tree(args, pool)
    if args.action == "candidates":
        return _candidates(args, pool, labels, tree, A)
    from sicnb.cluster.ward import w_sigma_curve

    curve = w_sigma_curve(A, labels, n_control=args.n_control, seed=args.seed)
    curve.insert(1, "descriptor", args.descriptor)
    curve.insert(2, "simplification", args.simplification)
    write_table(curve, args.out)
    return 0


def _candidates(args, pool, labels, tree, A) -> int:
    from sicnb.cli_common import cache_arg, write_table
    from sicnb.cluster.candidates import filter_candidates, megnet_band_gap, select_candidates
    from sicnb.parallel import pmap

    cand = select_candidates(tree, A, labels, depth=args.depth)
    todo = pool.filter(lambda r: r.id in set(cand.index[~cand["labelled"]]))
    ea = gap = None
    if args.bvse:
        from sicnb.bvse import bvse_barriers

        bv = pmap(bvse_barriers, todo, {"mobile_ion": args.mobile_ion}, cache_dir=cache_arg(args), n_workers=args.workers)
        ea = bv["E_a"] if "E_a" in bv else None
    if args.band_gap:
        bg = pmap(megnet_band_gap, todo, {}, cache_dir=cache_arg(args), n_workers=args.workers)
        gap = bg["band_gap_eV"] if "band_gap_eV" in bg else None
    out = filter_candidates(cand, band_gap_eV=gap, bvse_Ea_eV=ea)
    out.insert(0, "formula", [pool[i].formula for i in out.index])
    write_table(out.rename_axis("id"), args.out)
    return 0


def register(subparsers) -> None:
    from sicnb.cli_common import add_input_args

    p = subparsers.add_parser("cluster", help="Ward clustering + frozen-state W_sigma per depth (Laskowski et al. 2023), or candidates")
    p.add_argument("action", nargs="?", choices=["wsigma", "candidates", "screen"], default="wsigma",
                   help="wsigma (default): one row per depth; candidates: members of high-sigma clusters at --depth; "
                        "screen: every descriptor x simplification (or --soap-grid), one row per combination and depth")
    add_input_args(p)
    p.add_argument("--labels", default="auto",
                   help="obelix (labels of OBELiX records in the pool), known_conductors, auto (obelix, else known_conductors) or a CSV with id,log10_sigma")
    p.add_argument("--exclude-censored", action="store_true", help="drop upper-bound conductivities such as <1e-10")
    p.add_argument("--descriptor", default="soap", help="descriptor name (soap, mxrd, density, rdf, ...)")
    p.add_argument("--simplification", default="CAN", help="none, CAMN, CAN, AM, A or their -40 forms")
    p.add_argument("--option", nargs=2, action="append", metavar=("NAME", "VALUE"), help="descriptor hyperparameter, e.g. --option r_cut 4")
    p.add_argument("--standardize", action="store_true",
                   help="z-score descriptor columns before Ward (default: distances on the descriptor as computed, as the paper)")
    p.add_argument("--max-depth", type=int, default=300, help="deepest clustering (number of clusters), default 300")
    p.add_argument("--n-control", type=int, default=100, help="random-assignment control draws (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--depth", type=int, default=241, help="candidates: clustering depth (paper: 241)")
    p.add_argument("--bvse", action="store_true", help="candidates: compute BVSE E_a (bvlain; cached)")
    p.add_argument("--band-gap", action="store_true", help="candidates: MEGNet band gap (needs SICNB_MATGL_MODELS)")
    p.add_argument("--descriptors", default=None, help="screen: comma-separated descriptors (default: all implemented)")
    p.add_argument("--simplifications", default=None, help="screen: comma-separated simplifications (default: the paper's 9)")
    p.add_argument("--restrict", action="append", metavar="DESC=S1,S2",
                   help="screen: run descriptor DESC only on these simplifications (repeatable)")
    p.add_argument("--max-unlabelled", type=int, default=None,
                   help="screen: keep every labelled structure plus this many unlabelled ones drawn at random (--seed)")
    p.add_argument("--soap-grid", nargs="+", metavar="NAME=V1,V2",
                   help="screen: SOAP grid on --simplification instead, e.g. r_cut=2,3,4 n_max=2,4 l_max=2,3 average=outer,inner")
    p.set_defaults(func=_cmd_cluster)
