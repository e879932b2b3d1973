"""What every ``sicnb`` subcommand shares: the input options, loading ``--input``, the cache option, writing the result
table (with a row for every input file that could not be read) and parsing option values. The command modules of the
subpackages (``sicnb/<pkg>/cli.py``) import these from here, not from :mod:`sicnb.cli` (which imports them back), so no
subpackage imports the command-line root."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_input_args", "load_inputs", "cache_arg", "write_table", "parse_value"]


def add_input_args(parser: argparse.ArgumentParser, out_default: str | None = None) -> None:
    """The shared ``--input/--out/--workers/--cache-dir/--mobile-ion`` options of per-structure subcommands."""
    parser.add_argument("--input", "-i", action="append", required=True, help="file, directory or dataset name (embedded, obelix, obelix:train); repeatable")
    parser.add_argument("--out", "-o", required=out_default is None, default=out_default, help="output CSV (or .parquet)")
    parser.add_argument("--mobile-ion", default="Li", help="mobile species (default Li)")
    parser.add_argument("--workers", type=int, default=1, help="local Dask workers (1 = in-process)")
    parser.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:8786)")
    parser.add_argument("--cache-dir", default=None, help="result cache (default $SICNB_CACHE_DIR/results); 'none' disables")
    parser.add_argument("--limit", type=int, default=None, help="only the first N records (quick looks)")
    parser.add_argument("--data-dir", default=None, help="local data directory (default $SICNB_DATA_DIR)")


#: files ``--input`` could not read in this command (filled by load_inputs; write_table adds them as error rows)
_LOAD_FAILURES: list[dict] = []


def load_inputs(args):
    """Load and combine ``--input`` sources; print a one-line summary to stderr."""
    from sicnb.data import load_many

    ds = load_many(args.input, mobile_ion=getattr(args, "mobile_ion", "Li"), data_dir=getattr(args, "data_dir", None))
    _LOAD_FAILURES[:] = ds.failures.to_dict("records") if len(ds.failures) else []
    if getattr(args, "limit", None):
        ds = ds[: args.limit]
    print(f"sicnb: {ds!r}", file=sys.stderr)
    return ds


def cache_arg(args):
    c = getattr(args, "cache_dir", None)
    return False if (c is not None and c.lower() == "none") else c


def write_table(df, out: str | Path) -> Path:
    """Write a result table (CSV or parquet by suffix) atomically, with ``id`` as a column."""
    import os
    import tempfile

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if df.index.name == "id":
        df = df.reset_index()
    df = _with_load_failures(df)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=out.suffix)
    os.close(fd)
    if out.suffix == ".parquet":
        df.to_parquet(tmp, index=False)
    else:
        df.to_csv(tmp, index=False)
    os.replace(tmp, out)
    print(f"sicnb: wrote {len(df)} rows to {out}", file=sys.stderr)
    return out


def _failure_reason(failure: dict) -> str:
    """``"<ErrorClass>: message"`` for a file that could not be loaded (re-diagnosed by sicnb.validate)."""
    path = failure.get("path")
    if path:
        from sicnb.validate import check_structure_file

        row = check_structure_file(path)
        if row["error_class"]:
            return f"{row['error_class']}: {row['error']}"
    return f"InputError: {failure['error']}"


def _with_load_failures(df):
    """Every input file gets a row: files that could not be read become ``error`` rows (once)."""
    if not _LOAD_FAILURES or "id" not in df.columns:
        return df
    import pandas as pd

    reported = set(zip(df["id"].astype(str), df["error"].astype(str))) if "error" in df.columns else set()
    ids, rows = set(df["id"].astype(str)), []
    for f in _LOAD_FAILURES:
        if (str(f["id"]), str(f["error"])) in reported:
            continue
        rid, n = str(f["id"]), 2
        while rid in ids:
            rid, n = f"{f['id']}#{n}", n + 1
        ids.add(rid)
        rows.append({"id": rid, "error": _failure_reason(f), "source": "load-failure"})
    return pd.concat([df, pd.DataFrame(rows)], ignore_index=True) if rows else df


def parse_value(text: str):
    """A command-line value: JSON when it parses (numbers, booleans, lists, null), else the text itself."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text
