"""The ``sicnb`` command line.

Every subcommand reads ``--input`` (a file, a directory, or a dataset name such as ``embedded``,
``obelix``, ``obelix:train``; repeatable) and writes a CSV with an ``id`` column. Progress goes to
stderr. The exit code is non-zero only when the run itself could not proceed; per-structure
failures are rows with an ``error``.

Feature subpackages add their subcommands by exposing ``register(subparsers)`` in the modules
listed in :data:`COMMAND_MODULES`. A module that fails to import is not dropped: its subcommands
stay listed (help text "UNAVAILABLE: <reason>") and exit 2 with the import error when run, and
:data:`UNAVAILABLE_COMMANDS` records it; ``build_parser(strict=True)`` raises instead (the tests).
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import time
from pathlib import Path

from sicnb import __version__
from sicnb.cli_common import (  # noqa: F401 - re-exported: the helpers every command module uses
    _LOAD_FAILURES, add_input_args, cache_arg, load_inputs, parse_value, write_table,
)
from sicnb.errors import OptionalDependencyError, SicnbError

#: modules providing ``register(subparsers)`` → the subcommands each one registers
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "sicnb.topology.cli": ("topology",),
    "sicnb.cluster.cli": ("cluster",),
    "sicnb.pes.cli": ("pes",),
    "sicnb.md.cli": ("md",),
    "sicnb.classify.cli": ("classify",),
    "sicnb.htvs.cli": ("htvs",),
    "sicnb.ledger.cli": ("ledger",),
}

#: command modules whose import failed in this process → "ErrorClass: message"
UNAVAILABLE_COMMANDS: dict[str, str] = {}


def _cmd_data(args) -> int:
    ds = load_inputs(args)
    table = ds.table(mobile_ion=args.mobile_ion)
    if len(ds.failures):
        fails = ds.failures.copy()
        fails["source"] = "load-failure"
        table = table.assign(error="")
        import pandas as pd

        table = pd.concat([table, fails[["id", "error", "source"]]], ignore_index=True)
    write_table(table, args.out)
    return 0


def _cmd_run(args) -> int:
    from sicnb.notebooks import run_notebook

    params = {}
    for name, value in args.parameter or []:
        params[name] = parse_value(value)
    out = run_notebook(args.notebook, args.out, parameters=params, html=not args.no_html, timeout_s=args.timeout)
    print(f"sicnb: executed notebook written to {out}", file=sys.stderr)
    return 0


def _cmd_demo(args) -> int:
    from sicnb.notebooks import run_series

    out = Path(args.out).resolve()
    start = time.perf_counter()
    print(f"sicnb demo: running the notebook series {'at smoke parameters ' if args.smoke else ''}into {out}", file=sys.stderr)

    def line(run) -> None:
        figs = run.figures or {}
        shown = f", figures: {figs.get('png', 0)} PNG, {figs.get('html', 0)} HTML" if figs else ""
        print(f"  {run.notebook:<36} {run.status:<8} {run.seconds:7.1f} s{shown}", file=sys.stderr, flush=True)
        if run.error:
            print("    " + run.error.replace("\n", "\n    "), file=sys.stderr, flush=True)

    results = run_series(out, smoke=args.smoke, only=args.only, timeout_s=args.timeout, on_result=line)
    total = time.perf_counter() - start
    bad = [r for r in results if r.status != "ok"]
    png = sum(r.figures.get("png", 0) for r in results)
    html = sum(r.figures.get("html", 0) for r in results)
    print(f"sicnb demo: {len(results) - len(bad)} of {len(results)} notebooks ok in {total:.0f} s; outputs (.ipynb and .html) in {out}", file=sys.stderr)
    print(f"  figures: {png} static PNG, {html} embedded plotly HTML (offline-viewable)", file=sys.stderr)
    if html and not png:
        print("  (no Chrome/Chromium for static PNGs: install one, run `plotly_get_chrome`, or set BROWSER_PATH)", file=sys.stderr)
    for r in bad:
        print(f"  {r.status.upper()}: {r.notebook}", file=sys.stderr)
    return 1 if bad else 0


def build_parser(strict: bool = False) -> argparse.ArgumentParser:
    """The full parser; ``strict=True`` raises when a command module fails to import (used by the tests)."""
    parser = argparse.ArgumentParser(prog="sicnb", description="sicnb: discover Li superionic conductors with five published methods on open data.")
    parser.add_argument("--version", action="version", version=f"sicnb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("data", help="list what a source yields (id, formula, n_sites, is_ordered, labels, provenance)")
    add_input_args(p)
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("run", help="execute one notebook headless with papermill")
    p.add_argument("notebook", help="path to a .ipynb (or its number, e.g. 01)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), help="notebook parameter (JSON value or string)")
    p.add_argument("--out", "-o", required=True, help="output directory")
    p.add_argument("--no-html", action="store_true", help="skip the HTML rendering")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="wall-time limit for the notebook (default: none)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("demo", help="the main job: run the notebook series headless on the embedded default")
    p.add_argument("--out", "-o", default="sicnb-demo", help="output directory (executed notebooks + HTML)")
    p.add_argument("--smoke", action="store_true", help="smoke parameters (minutes instead of hours)")
    p.add_argument("--only", action="append", help="run only notebooks whose name contains this (repeatable)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="wall-time limit per notebook (default 900 s with --smoke, 6 h without); past it the notebook is stopped and reported")
    p.set_defaults(func=_cmd_demo)

    for modname, commands in COMMAND_MODULES.items():
        try:
            mod = importlib.import_module(modname)
        except Exception as exc:  # noqa: BLE001 - the other subcommands stay usable; this one reports why not
            if strict:
                raise
            reason = f"{type(exc).__name__}: {exc}"
            UNAVAILABLE_COMMANDS[modname] = reason
            print(f"sicnb: warning: subcommands {', '.join(commands)} unavailable ({reason})", file=sys.stderr)
            for name in commands:
                _add_unavailable(sub, name, modname, reason)
            continue
        mod.register(sub)
    # `sicnb <method>` for every declared method without a command module of its own (sicnb/<pkg>/method.py)
    try:
        add_method_commands(sub, existing=set(sub.choices))
    except Exception as exc:  # noqa: BLE001 - the hand-written subcommands stay usable
        if strict:
            raise
        print(f"sicnb: warning: method subcommands unavailable ({type(exc).__name__}: {exc})", file=sys.stderr)
    return parser


# --- `sicnb <method>` from the method declarations (sicnb.methods) ---------------------------------------------------------------------------------------------

def _cli_type(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, str)):
        return type(value)
    return None


def add_method_commands(subparsers, existing: set[str] | None = None) -> list[str]:
    """``sicnb <name>`` for every registered method with ``cli=True`` and no command of that name yet: the input
    options of every sicnb command plus one ``--<param>`` per parameter field (defaults from the dataclass), and
    ``--labels CSV`` for a table method fitted on labels."""
    from sicnb.methods import registered

    added = []
    for m in registered():
        if not m.cli or (existing and m.name in existing):
            continue
        p = subparsers.add_parser(m.name, help=m.cli_help or f"{m.title}: {', '.join(m.feature_names)} per structure")
        add_input_args(p)
        for f in dataclasses.fields(m.params):
            default = f.default if f.default is not dataclasses.MISSING else None
            if f.name == "mobile_ion":
                continue  # add_input_args has --mobile-ion
            opt = ["--" + f.name.replace("_", "-")] + ([m.cli_aliases[f.name]] if f.name in m.cli_aliases else [])
            if isinstance(default, bool):
                p.add_argument(*opt, dest=f.name, action="store_false" if default else "store_true", help=f"(default {default})")
            else:
                typ = _cli_type(default) or parse_value
                p.add_argument(*opt, dest=f.name, type=typ, default=default, help=f"(default {default})")
        if getattr(m, "labels", "none") != "none":  # a TableMethod fitted on labels
            p.add_argument("--labels", default=None, required=m.labels == "required",
                           help="CSV of labels per id (log10_sigma, y, ...) for the method's fit step")
        p.set_defaults(func=_run_method_command, method_name=m.name)
        added.append(m.name)
    return added


def _run_method_command(args) -> int:
    from sicnb.methods import get

    m = get(args.method_name)
    names = [f.name for f in dataclasses.fields(m.params)]
    params = {n: getattr(args, n) for n in names if hasattr(args, n)}
    if "mobile_ion" in names:
        params["mobile_ion"] = args.mobile_ion
    ds = load_inputs(args).with_structures()
    kw = {}
    if getattr(args, "labels", None):
        import pandas as pd

        kw["labels"] = pd.read_csv(args.labels, dtype={"id": str}).set_index("id")
    table = m.batch(ds, params, cache_dir=cache_arg(args), n_workers=args.workers, scheduler=args.scheduler, **kw)
    write_table(table, args.out)
    n_ok = int(table["error"].fillna("").eq("").sum()) if "error" in table else len(table)
    print(f"sicnb {m.name}: {n_ok}/{len(table)} structures scored ({m.score}, {'higher' if m.direction > 0 else 'lower'} = better)",
          file=sys.stderr)
    return 0 if len(table) else 1


def _add_unavailable(sub, name: str, modname: str, reason: str) -> None:
    """A listed subcommand that exits 2 with the import error of its module."""

    def _fail(args) -> int:
        raise OptionalDependencyError(f"'sicnb {name}' is unavailable: importing {modname} failed ({reason}). "
                                      "Reinstall sicnb with its dependencies (pip install -e .) and retry.")

    p = sub.add_parser(name, help=f"UNAVAILABLE: {reason}", description=f"UNAVAILABLE: {reason}")
    p.set_defaults(func=_fail, unavailable=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "unavailable", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _LOAD_FAILURES.clear()
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except SicnbError as exc:
        print(f"sicnb {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
