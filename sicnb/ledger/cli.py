"""``sicnb ledger``: every method's score per structure in one CSV, plus the agreement statistics."""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    from sicnb.cli_common import add_input_args

    p = subparsers.add_parser("ledger", help="one candidate ledger across all methods (scores, flags, uncertainties, provenance, consensus)")
    add_input_args(p)
    p.add_argument("--method", action="append", default=None,
                   help="only these methods (repeatable; default all registered: topology, cluster, pes, classify, bvse, htvs)")
    p.add_argument("--consensus-missing", choices=("neutral", "skip"), default="neutral",
                   help="a method without a score counts as percentile 0.5 (neutral, default) or is left out (skip)")
    p.add_argument("--consensus", choices=("learned", "equal"), default="equal",
                   help="equal: mean percentile (default: it generalizes at least as well on leave-cluster-out); "
                        "learned: the shipped stacked weights (sicnb/ledger/learned_consensus)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap replicates for the enrichment intervals")
    p.add_argument("--pes-top", type=int, default=10,
                   help="PES cascade: scan the top N structures of the consensus of the whole-pool methods (default 10; 0: cached results only)")
    p.add_argument("--pes-max-atoms", type=int, default=24,
                   help="PES cascade: skip cells with more sites than this (default 24, the cell size notebook 03 scans: 5-100 s each)")
    p.add_argument("--pes-timeout", type=float, default=600.0, help="PES cascade: time limit per structure in seconds (default 600)")
    p.add_argument("--pes-step", type=float, default=0.25, help="PES grid step in Å (default 0.25, as notebook 03 and sicnb pes)")
    p.add_argument("--no-stats", action="store_true", help="write only the ledger, not the <out>.methods/.enrichment/... tables")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from sicnb.cli_common import cache_arg, load_inputs, write_table
    from sicnb.ledger import agreement, build_ledger

    ds = load_inputs(args)
    if args.pes_top < 0:
        from sicnb.errors import ParameterError

        raise ParameterError(f"--pes-top {args.pes_top}: use 0 (cached PES results only) or a positive shortlist size")
    pes = {"top": args.pes_top, "max_atoms": args.pes_max_atoms, "timeout_s": args.pes_timeout, "step": args.pes_step}
    methods = args.method
    ledger = build_ledger(ds, methods=methods, params={"pes": pes} if methods is None or "pes" in methods else None,
                          cache_dir=cache_arg(args), n_workers=args.workers, scheduler=args.scheduler,
                          consensus_missing=args.consensus_missing, consensus=args.consensus)
    out = Path(args.out)
    write_table(ledger.table, out)
    stem = out.with_suffix("")
    write_table(ledger.methods.rename(columns={"name": "id"}).set_index("id"), f"{stem}.methods.csv")
    for _, m in ledger.methods.iterrows():
        extra = f" ({m['reason']})" if m["status"] != "present" else f": {m['n_scored']}/{len(ds)} scored"
        print(f"sicnb ledger: {m['name']} {m['status']}{extra}", file=sys.stderr)
    if not args.no_stats and len(ledger.present) >= 1:
        a = agreement(ledger, n_boot=args.n_boot)
        write_table(a.correlations, f"{stem}.correlations.csv")
        write_table(a.overlap, f"{stem}.overlap.csv")
        write_table(a.enrichment, f"{stem}.enrichment.csv")
        write_table(a.verdict_table(), f"{stem}.verdict.csv")
        from sicnb.ledger.consensus import method_evidence

        ev = method_evidence()
        if len(ev):
            write_table(ev.rename_axis("id"), f"{stem}.evidence.csv")
            flat = [m for m in ledger.present if m in ev.index and bool(ev.loc[m, "no_better_than_chance"])]
            if flat:
                print(f"sicnb ledger: no better than chance on OBELiX train (repeated LOCO): {', '.join(flat)}", file=sys.stderr)
        print(f"sicnb ledger: {a.n_known} known conductors in a pool of {a.n_pool}", file=sys.stderr)
        if len(a.subset_enrichment):
            write_table(a.subset_enrichment, f"{stem}.subset_enrichment.csv")
        print(f"sicnb ledger: consensus of {', '.join(ledger.consensus_methods)}"
              + (f"; kept out (cascade): {', '.join(ledger.cascade_methods)}" if ledger.cascade_methods else ""), file=sys.stderr)
        for v in a.verdicts:
            print(f"sicnb ledger: {v.sentence()}", file=sys.stderr)
        for note in a.subset_notes:
            print(f"sicnb ledger: {note}", file=sys.stderr)
    return 0 if len(ledger.table) else 1
