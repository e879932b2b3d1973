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


def _subcommands(parser) -> dict:
    import argparse

    acts = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return acts[0].choices if acts else {}


def test_every_command_module_imports_and_registers_its_commands():
    """A feature subcommand whose module fails to import must fail this test, not vanish from the CLI."""
    from sicnb.cli import COMMAND_MODULES, UNAVAILABLE_COMMANDS, build_parser

    names = _subcommands(build_parser(strict=True))
    for module, commands in COMMAND_MODULES.items():
        for name in commands:
            assert name in names, f"{module} did not register 'sicnb {name}'"
            assert not names[name].description or "UNAVAILABLE" not in names[name].description
    assert not UNAVAILABLE_COMMANDS


def test_broken_command_module_is_listed_and_exits_2(monkeypatch, capsys):
    from sicnb import cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", {**cli.COMMAND_MODULES, "sicnb.no_such_feature.cli": ("nosuch",)})
    monkeypatch.setattr(cli, "UNAVAILABLE_COMMANDS", {})
    import pytest

    with pytest.raises(ModuleNotFoundError):
        cli.build_parser(strict=True)
    assert "nosuch" in _subcommands(cli.build_parser())
    assert "sicnb.no_such_feature.cli" in cli.UNAVAILABLE_COMMANDS
    rc = cli.main(["nosuch", "--anything"])
    err = capsys.readouterr().err
    assert rc == 2 and "unavailable" in err and "sicnb.no_such_feature" in err
