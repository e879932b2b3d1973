"""``sicnb htvs generate``, ``sicnb htvs screen`` and ``sicnb htvs pool``.

    sicnb htvs generate --input embedded --out candidates.parquet [--palette Li,B,C,...] [--required S]
    sicnb htvs screen --candidates candidates.parquet --input embedded --out funnel.csv [--limit-candidates 500]
    sicnb htvs pool --input my_cifs/ --out stability.csv       # the same stability screens on a pool as it is

``generate`` streams the substitutions into a parquet file in chunks (never the whole pool in memory)
and prints the exact count, the number of unique compositions and the rate. ``screen`` runs the
composition and structure stages on a candidates file (prototypes re-read from ``--input``) and writes one
row per surviving-or-rejected composition with every stage's value and pass flag, plus the funnel summary
next to it (``<out>.funnel.csv``).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from sicnb.cli_common import add_input_args, cache_arg, load_inputs, write_table
from sicnb.errors import InputError, ParameterError


def _palette(text: str | None):
    from sicnb.htvs.generate import PALETTE_28

    if not text:
        return PALETTE_28
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _prototypes(args):
    from sicnb.htvs.generate import prototypes_from

    ds = load_inputs(args)
    n_el = tuple(int(x) for x in args.n_elements.split(","))
    protos, skipped = prototypes_from(ds, n_elements=n_el, mobile_ion=args.mobile_ion)
    print(f"sicnb htvs: {len(protos)} prototypes ({len(skipped)} records skipped)", file=sys.stderr)
    return protos


def _generate(args) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sicnb.htvs.generate import candidate_chunks, pool_size

    protos = _prototypes(args)
    palette = _palette(args.palette)
    required = None if args.required.lower() == "none" else args.required
    total = pool_size(protos, palette, required)
    print(f"sicnb htvs: {total:,} candidates to generate", file=sys.stderr)
    out = Path(args.out)
    if out.suffix != ".parquet":
        raise ParameterError(f"--out {out} should end in .parquet (the candidate pool is large)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    t0 = time.perf_counter()
    n, keys, writer = 0, set(), None
    try:
        for chunk in candidate_chunks(protos, palette, required, chunk_size=args.chunk_size):
            keys.update(chunk["key"].unique())
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            n += len(chunk)
            rate = n / max(time.perf_counter() - t0, 1e-9) * 60
            print(f"sicnb htvs: {n:,}/{total:,} candidates, {len(keys):,} unique compositions, {rate:,.0f}/min", file=sys.stderr)
    finally:
        if writer is not None:
            writer.close()
    if n == 0:
        raise InputError("no candidates generated: no prototype with the requested number of elements, or the required element is not in the palette")
    tmp.replace(out)
    dt = time.perf_counter() - t0
    print(f"sicnb htvs: wrote {n:,} candidates ({len(keys):,} unique compositions) to {out} in {dt:.1f} s ({n / dt * 60:,.0f}/min)", file=sys.stderr)
    return 0


def _screen(args) -> int:
    import pandas as pd

    from sicnb.htvs.conductivity import bvse_scorer, default_scorer, psi_scorer, xi_scorer
    from sicnb.htvs.screen import funnel_table, screen_compositions, screen_structures

    cands = pd.read_parquet(args.candidates)
    n_file = len(cands)
    if args.limit_candidates and len(cands) > args.limit_candidates:
        cands = cands.sample(n=args.limit_candidates, random_state=args.seed)
    protos = [p for p in _prototypes(args) if p.id in set(cands["prototype_id"])]
    missing = set(cands["prototype_id"]) - {p.id for p in protos}
    if missing:
        raise InputError(f"{len(missing)} prototype ids of {args.candidates} are not in --input (e.g. {sorted(missing)[:3]}); pass the same --input as for generate")
    th = _thresholds(args)
    cache = cache_arg(args)
    comp, hull = screen_compositions(cands, protos, th, potential_name=args.potential, band_gap=not args.no_band_gap, cache_dir=cache, n_workers=args.workers, progress=True)
    scorer = {"bvse": bvse_scorer, "psi": psi_scorer, "xi": xi_scorer}.get(args.scorer, default_scorer)()
    structs = screen_structures(cands, protos, comp, scorer, cache_dir=cache, n_workers=args.workers, progress=True)
    funnel = funnel_table(n_file, len(cands), comp, structs)
    comp = comp.copy()
    comp.index.name = "id"
    write_table(comp, args.out)
    out = Path(args.out)
    write_table(funnel, out.with_name(out.stem + ".funnel.csv"))
    if len(structs):
        s = structs.copy()
        s.index.name = "id"
        write_table(s, out.with_name(out.stem + ".structures.csv"))
    print(f"sicnb htvs: hull = {hull.source if hull is not None else 'not needed'}; band gap = {comp.attrs.get('band_gap', '')}; scorer = {scorer.name}", file=sys.stderr)
    print(funnel.to_string(index=False), file=sys.stderr)
    return 0


def _add_threshold_args(p) -> None:
    p.add_argument("--ef-max", type=float, default=0.1, help="E_f^pred threshold, eV/atom (paper 0.1)")
    p.add_argument("--ehull-max", type=float, default=0.2, help="E_hull^pred threshold, eV/atom (paper 0.2)")
    p.add_argument("--gap-min", type=float, default=0.5, help="band-gap threshold, eV (paper 0.5)")
    p.add_argument("--ox-min", type=float, default=4.0, help="oxidation-limit threshold, V vs Li/Li+ (paper 4)")


def _thresholds(args):
    from sicnb.htvs.screen import Thresholds

    return Thresholds(formation_energy_max_ev_per_atom=args.ef_max, e_hull_max_ev_per_atom=args.ehull_max, band_gap_min_ev=args.gap_min,
                      oxidation_limit_min_v=args.ox_min)


def _pool(args) -> int:
    """Du & Wang's stability screens on every structure of an existing pool (the ledger's htvs method)."""
    from sicnb.htvs.pool import screen_pool

    table = screen_pool(load_inputs(args).with_structures(), potential_name=args.potential, band_gap_fidelity=args.band_gap_fidelity,
                        mobile_ion=args.mobile_ion, thresholds=_thresholds(args), max_sites=args.max_sites, cache_dir=cache_arg(args),
                        n_workers=args.workers, progress=True)
    write_table(table, args.out)
    ok = table["error"].fillna("").eq("")
    print(f"sicnb htvs pool: {int(ok.sum())}/{len(table)} structures screened, {int(table['pass_htvs'].fillna(False).astype(bool).sum())} "
          f"pass; hull = {table.attrs.get('hull', '')}", file=sys.stderr)
    return 0 if len(table) else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("htvs", help="substitution high-throughput virtual screening (notebook 05)")
    sub = p.add_subparsers(dest="htvs_command", metavar="STEP", required=True)

    g = sub.add_parser("generate", help="stream all substitutions of the input prototypes to a parquet file")
    add_input_args(g)
    g.add_argument("--palette", default=None, help="comma-separated elements (default: the paper's 28)")
    g.add_argument("--required", default="S", help="element always present (default S; 'none' to drop the rule)")
    g.add_argument("--n-elements", default="3,4", help="prototype element counts (default 3,4: ternary, quaternary)")
    g.add_argument("--chunk-size", type=int, default=200_000)
    g.set_defaults(func=_generate)

    s = sub.add_parser("screen", help="composition + structure stages on a candidates file → one row per composition")
    add_input_args(s)
    s.add_argument("--candidates", required=True, help="parquet written by 'sicnb htvs generate'")
    s.add_argument("--n-elements", default="3,4")
    s.add_argument("--limit-candidates", type=int, default=None, help="random sample of this many candidates")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--potential", default="chgnet", help="ML potential for energies (default chgnet)")
    _add_threshold_args(s)
    s.add_argument("--no-band-gap", action="store_true", help="skip the band-gap stage")
    s.add_argument("--scorer", choices=["default", "psi", "bvse", "xi"], default="default", help="conductivity screen (default: P_SI if its model loads, else BVSE)")
    s.set_defaults(func=_screen)

    q = sub.add_parser("pool", help="stability screens (E_hull, band gap, oxidation limit) on every structure of --input, as they are")
    add_input_args(q)
    q.add_argument("--potential", default="chgnet", help="ML potential for single points and the offline hull (default chgnet)")
    q.add_argument("--band-gap-fidelity", default="GLLB-SC", choices=["PBE", "GLLB-SC", "HSE", "SCAN"], help="MEGNet fidelity (default GLLB-SC)")
    q.add_argument("--max-sites", type=int, default=60, help="skip larger cells and hull phases (default 60)")
    _add_threshold_args(q)
    q.set_defaults(func=_pool)
