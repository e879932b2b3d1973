"""The sicnb command line: help, data listing, error exit codes."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd

from sicnb.cli import main


def test_help_lists_core_commands(capsys):
    rc = main([])
    out = capsys.readouterr().out
    assert rc == 0
    for cmd in ("data", "run", "demo"):
        assert cmd in out


def test_console_script_help():
    proc = subprocess.run([sys.executable, "-m", "sicnb.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "demo" in proc.stdout


def test_data_embedded_lists_structures(tmp_path):
    out = tmp_path / "structures.csv"
    assert main(["data", "--input", "embedded", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert len(df) >= 500
    assert {"id", "formula", "n_sites", "is_ordered", "contains_mobile_ion", "source", "provenance"} <= set(df.columns)
    assert df["contains_mobile_ion"].all()
    assert df["id"].is_unique


def test_data_combines_inputs_and_reports_bad_files(tmp_path, li2o):
    d = tmp_path / "in"
    d.mkdir()
    li2o.to(filename=str(d / "Li2O.cif"))
    (d / "broken.cif").write_text("data_broken\n_cell_length_a 3\n_atom_site_fract_x\n")
    out = tmp_path / "t.csv"
    assert main(["data", "--input", str(d), "--input", str(d / "Li2O.cif"), "--out", str(out)]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert list(df["id"]) == ["Li2O", "Li2O#2", "broken"]
    assert "broken.cif" in df.loc[df["id"] == "broken", "error"].iloc[0]


def test_unknown_input_exits_2(tmp_path, capsys):
    rc = main(["data", "--input", "nope-not-a-dataset", "--out", str(tmp_path / "x.csv")])
    assert rc == 2
    assert "nope-not-a-dataset" in capsys.readouterr().err
