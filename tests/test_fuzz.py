"""Fuzz: ≥ 1,000 mutated CIF/POSCAR files from real structures through the CLI and pmap.

The corpus is generated on the fly from real structures (the embedded Materials Project pool and
pymatgen's bundled Li structures, Li10GeP2S12 with its partial occupancies included), with a fixed
seed: truncations, byte flips, swapped lines and fields, huge numbers, NaN/inf, unknown elements,
duplicated atoms, Li removed, occupancies above 1, shrunken/blown-up cells, empty and binary files.

Every file must come out as a valid row or a row with an error reason; no uncaught exception, no
hang (per-item time limit). ``sicnb data`` and pmap (validation + symmetry-distinct Li sites) see the
whole corpus; ``sicnb topology`` and ``sicnb classify predict`` see a seeded sample of it in CI
(``SICNB_FUZZ_FULL=1`` sends the whole corpus through them too). Per-error-class counts are printed
(run with ``-s``).
"""
from __future__ import annotations

import collections
import io
import os
import random
import re
from pathlib import Path

import pandas as pd
import pytest
from pymatgen.io.cif import CifWriter

from sicnb.errors import SicnbError
from sicnb.parallel import pmap
from sicnb.structure import mobile_sites
from sicnb.validate import check_structure_file, validate_structure

SEED = 9
N_FILES = 1040
FULL = os.environ.get("SICNB_FUZZ_FULL") == "1"
SAMPLE_FOR_FEATURES = 24

_NUMBER = re.compile(rb"(?<![A-Za-z_])[-+]?\d+\.\d*(?:[eE][-+]?\d+)?|(?<![A-Za-z_\d])\d+(?![A-Za-z_\d])")
_ELEMENT = re.compile(rb"\b(Li|O|S|P|Ge|Fe|Cl|La|Zr|Ti|N|F|Si|Al|B|Mn|Co|Ni)(?=[\s\d+\-]|$)", re.M)


def _seed_files() -> dict[str, bytes]:
    """Real structures as CIF and POSCAR text."""
    from conftest import pymatgen_structure

    from sicnb.data import embedded

    structures = {}
    for name in ("Li10GeP2S12", "Li2O", "LiFePO4"):
        try:
            structures[name] = pymatgen_structure(name)
        except OSError:
            pass
    pool = [r for r in embedded() if len(r.structure) <= 24]
    for r in random.Random(SEED).sample(pool, 24):
        structures[r.id] = r.structure
    out = {}
    for name, s in structures.items():
        out[f"{name}.cif"] = str(CifWriter(s)).encode()
        if s.is_ordered:
            buf = io.StringIO()
            buf.write(s.to(fmt="poscar"))
            out[f"{name}.vasp"] = buf.getvalue().encode()
    return out


def _sub_number(data: bytes, rng: random.Random, repl: bytes) -> bytes:
    nums = list(_NUMBER.finditer(data))
    if not nums:
        return data + repl
    m = rng.choice(nums)
    return data[: m.start()] + repl + data[m.end():]


def _mutate(name: str, data: bytes, rng: random.Random) -> tuple[str, bytes]:
    lines = data.split(b"\n")
    kind = rng.choice([
        "truncate", "byteflip", "swaplines", "swapfields", "huge", "nan", "unknown_element", "duplicate_atom",
        "no_lithium", "occupancy", "shrink_cell", "blow_up_cell", "delete_lines", "empty", "binary", "negative",
        "zero_counts", "identity",
    ])
    if kind == "truncate":
        data = data[: rng.randrange(0, max(1, len(data)))]
    elif kind == "byteflip":
        b = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        data = bytes(b)
    elif kind == "swaplines" and len(lines) > 2:
        i, j = rng.sample(range(len(lines)), 2)
        lines[i], lines[j] = lines[j], lines[i]
        data = b"\n".join(lines)
    elif kind == "swapfields":
        i = rng.randrange(len(lines))
        f = lines[i].split()
        if len(f) > 1:
            a, b = rng.sample(range(len(f)), 2)
            f[a], f[b] = f[b], f[a]
            lines[i] = b"  ".join(f)
        data = b"\n".join(lines)
    elif kind == "huge":
        data = _sub_number(data, rng, rng.choice([b"1e30", b"1.7e308", b"-1e300", b"99999999", b"1e-300"]))
    elif kind == "nan":
        data = _sub_number(data, rng, rng.choice([b"nan", b"NaN", b"inf", b"-inf"]))
    elif kind == "negative":
        data = _sub_number(data, rng, b"-1.5")
    elif kind == "unknown_element":
        ms = list(_ELEMENT.finditer(data))
        if ms:
            m = rng.choice(ms)
            data = data[: m.start()] + rng.choice([b"Xx", b"Qq", b"Zz", b"X"]) + data[m.end():]
    elif kind == "duplicate_atom":
        atom = [i for i, line in enumerate(lines) if len(_NUMBER.findall(line)) >= 3 and i > 5]
        if atom:
            i = rng.choice(atom)
            lines.insert(i + 1, lines[i])
            if name.endswith(".vasp") and len(lines) > 6:  # keep the POSCAR counts consistent
                counts = lines[6].split()
                if counts and all(c.isdigit() for c in counts):
                    counts[-1] = str(int(counts[-1]) + 1).encode()
                    lines[6] = b" ".join(counts)
        data = b"\n".join(lines)
    elif kind == "no_lithium":
        data = re.sub(rb"\bLi(?=[\s\d+]|$)", b"Na", data, flags=re.M)
    elif kind == "occupancy":
        data = re.sub(rb"(\s)1(\s*)$", rb"\g<1>1.6\g<2>", data, count=rng.randint(1, 3), flags=re.M)
    elif kind in ("shrink_cell", "blow_up_cell"):
        factor = 0.05 if kind == "shrink_cell" else 40.0
        if name.endswith(".cif"):
            def scale(m):
                return m.group(1) + f"{float(m.group(2)) * factor:.6f}".encode()

            data = re.sub(rb"(_cell_length_[abc]\s+)([\d.]+)", scale, data)
        elif len(lines) > 1:
            lines[1] = str(factor).encode()
            data = b"\n".join(lines)
    elif kind == "delete_lines" and len(lines) > 3:
        start = rng.randrange(len(lines) - 1)
        del lines[start: start + rng.randint(1, 4)]
        data = b"\n".join(lines)
    elif kind == "empty":
        data = rng.choice([b"", b"\n\n   \n", b"data_empty\n"])
    elif kind == "binary":
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 400)))
    elif kind == "zero_counts" and name.endswith(".vasp") and len(lines) > 6:
        lines[6] = b" ".join(b"0" for _ in lines[6].split())
        data = b"\n".join(lines)
    return kind, data


def make_corpus(folder: Path, n: int = N_FILES, seed: int = SEED) -> dict[str, str]:
    """Write ``n`` mutated files (deterministic for ``seed``); return file name → mutation kind."""
    rng = random.Random(seed)
    seeds = _seed_files()
    names = sorted(seeds)
    folder.mkdir(parents=True, exist_ok=True)
    kinds = {}
    for i in range(n):
        base = names[i % len(names)]
        kind, data = _mutate(base, seeds[base], rng)
        if rng.random() < 0.25:  # some files get a second mutation
            k2, data = _mutate(base, data, rng)
            kind = f"{kind}+{k2}"
        stem, suffix = base.rsplit(".", 1)
        fname = f"f{i:04d}_{stem}.{suffix}"
        (folder / fname).write_bytes(data)
        kinds[fname] = kind
    return kinds


def li_site_summary(structure, mobile_ion="Li"):
    """Per-structure function for the corpus: symmetry-distinct mobile sites and density."""
    sites = mobile_sites(structure, mobile_ion=mobile_ion)
    return {"n_mobile_sites": len(sites), "multiplicity": sum(s.multiplicity for s in sites),
            "volume_per_atom": structure.volume / structure.composition.num_atoms}


def _error_class(text: str) -> str:
    return text.split(":", 1)[0] if text else "ok"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "corpus"
    kinds = make_corpus(folder)
    assert len(kinds) >= 1000
    return folder, kinds


def _every_file_has_a_row(table: pd.DataFrame, kinds: dict[str, str], what: str) -> None:
    stems = {Path(f).stem for f in kinds}
    got = set(table["id"].astype(str).str.replace(r"#\d+$", "", regex=True))
    missing = stems - got
    assert not missing, f"{what}: {len(missing)} files have no row, e.g. {sorted(missing)[:5]}"
    assert len(table) == len(stems), f"{what}: {len(table)} rows for {len(stems)} files"


def _no_unexplained_nan(table: pd.DataFrame, columns: list[str], what: str) -> None:
    ok = table["error"].fillna("").astype(str) == ""
    for c in columns:
        if c in table.columns:
            bad = table.loc[ok & table[c].isna(), "id"].tolist()
            assert not bad, f"{what}: {c} is NaN without an error for {bad[:5]}"


def test_corpus_through_validation_and_pmap(corpus, tmp_path):
    """Every file: read + validate (specific SicnbError or a structure), then pmap over what was read."""
    folder, kinds = corpus
    rows = []
    structures = {}
    from sicnb.data import read_structure

    for fname in sorted(kinds):
        path, rid = folder / fname, Path(fname).stem
        try:
            s = read_structure(path)
        except SicnbError:  # not parsed: diagnose it (check_structure_file never raises a SicnbError)
            row = check_structure_file(path, mobile_ion="Li")
            assert row["error_class"], f"{fname} failed to read but passes read_validated"
        else:
            structures[rid] = s
            row = {"path": str(path), "error_class": "", "error": ""}
            try:
                validate_structure(s, mobile_ion="Li", name=str(path))
            except SicnbError as exc:
                row.update(error_class=type(exc).__name__, error=str(exc))
        row["id"], row["mutation"] = rid, kinds[fname]
        rows.append(row)
    table = pd.DataFrame(rows)
    counts = collections.Counter(table["error_class"].replace("", "ok"))
    print(f"\nfuzz corpus: {len(table)} files; read_validated classes: {dict(sorted(counts.items()))}")
    assert counts["ok"] > 50 and len(counts) >= 8  # the corpus exercises many failure kinds
    assert (table.loc[table["error_class"] != "", "error"].str.len() > 0).all()
    for _, r in table[table["error_class"] != ""].iterrows():
        assert r["path"] in r["error"] or r["id"] in r["error"], f"message does not name the file: {r['error']}"

    # pmap over every parsed structure, validated in the worker, with a per-item time limit
    df = pmap(li_site_summary, structures, cache_dir=tmp_path / "cache", progress=False, timeout=120,
              validate={"mobile_ion": "Li", "max_atoms": 2000})
    assert len(df) == len(structures)
    pcounts = collections.Counter(df["error"].map(_error_class))
    print(f"pmap (validation + mobile_sites) over {len(df)} parsed structures: {dict(sorted(pcounts.items()))}")
    assert df.attrs["n_timeout"] == 0 and df.attrs["n_lost"] == 0
    _no_unexplained_nan(df.reset_index(), ["n_mobile_sites", "volume_per_atom"], "pmap")
    # pmap's in-worker validation agrees with validating the file directly, class by class
    direct = table.set_index("id").loc[list(df.index), "error_class"]
    assert (df["error"].map(_error_class).replace("ok", "") == direct).all()


def test_corpus_through_sicnb_data(corpus, tmp_path, capsys):
    from sicnb.cli import main

    folder, kinds = corpus
    out = tmp_path / "data.csv"
    assert main(["data", "--input", str(folder), "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    _every_file_has_a_row(table, kinds, "sicnb data")
    failed = table[table["error"] != ""]
    assert (failed["source"] == "load-failure").all()
    print(f"\nsicnb data: {len(table)} rows, {len(failed)} load failures with a reason, {len(table) - len(failed)} structures")


def _feature_sample(corpus, tmp_path) -> tuple[Path, dict[str, str]]:
    folder, kinds = corpus
    if FULL:
        return folder, kinds
    pick = sorted(random.Random(SEED).sample(sorted(kinds), SAMPLE_FOR_FEATURES))
    sub = tmp_path / "sample"
    sub.mkdir()
    for f in pick:
        (sub / f).write_bytes((folder / f).read_bytes())
    return sub, {f: kinds[f] for f in pick}


@pytest.mark.parametrize("command", [["topology"], ["classify", "predict"]])
def test_corpus_through_feature_commands(corpus, tmp_path, monkeypatch, command):
    from sicnb.cli import build_parser, main

    import argparse

    def choices(parser):
        acts = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return acts[0].choices if acts else {}

    parser = build_parser(strict=True)  # a command module that fails to import fails here, never skips
    for word in command:
        sub = choices(parser)
        assert word in sub, f"sicnb {' '.join(command)} is missing from the CLI"
        parser = sub[word]
    folder, kinds = _feature_sample(corpus, tmp_path)
    monkeypatch.setenv("SICNB_ITEM_TIMEOUT", "300")  # zero hangs: every item runs under a time limit
    out = tmp_path / "out.csv"
    rc = main([*command, "--input", str(folder), "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    table["error"] = table["error"].fillna("")
    _every_file_has_a_row(table, kinds, "sicnb " + " ".join(command))
    numeric = [c for c in table.columns if c not in ("id", "error", "formula", "source") and pd.api.types.is_numeric_dtype(table[c])]
    _no_unexplained_nan(table, numeric, "sicnb " + " ".join(command))
    counts = collections.Counter(table["error"].map(_error_class))
    print(f"\nsicnb {' '.join(command)} over {len(table)} corpus files: {dict(sorted(counts.items()))}")
    assert not any("Timeout" in k or "WorkerLost" in k for k in counts)
