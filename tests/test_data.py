"""The data layer: embedded pool, OBELiX, label tables, files, known conductors."""
from __future__ import annotations

import math

import pytest
from pymatgen.core import Composition

from conftest import needs_shared
from sicnb.data import (
    Dataset, Record, embedded, from_path, known_conductors, laskowski2023, liverpool_ionics, load, load_many,
    match_known_conductors, materials_project, obelix, parse_conductivity, read_structure, structure_hash,
)
from sicnb.errors import DataUnavailableError, InputError, ParameterError


def test_embedded_pool_is_real_li_structures_with_provenance():
    ds = embedded()
    assert len(ds) >= 500
    assert len(set(ds.ids)) == len(ds)
    for rec in ds:
        assert "Li" in {e.symbol for e in rec.structure.composition.elements}
        assert rec.provenance["source"].startswith("embedded:")
    lgps = ds["pymatgen:Li10GeP2S12"].structure
    assert not lgps.is_ordered  # partial occupancies kept
    sources = {r.provenance["source"] for r in ds}
    assert sources == {"embedded:matbench_dielectric", "embedded:pymatgen"}


def test_embedded_returns_copies():
    a = embedded()[0].structure
    a.perturb(0.1)
    b = embedded()[0].structure
    assert structure_hash(a) != structure_hash(b)


def test_embedded_other_mobile_ion():
    na = embedded(mobile_ion="Na")
    assert len(na) > 50
    assert all("Na" in {e.symbol for e in r.structure.composition.elements} for r in na)


def test_parse_conductivity_handles_text_bounds():
    assert parse_conductivity("1e-3") == (pytest.approx(-3.0), "")
    assert parse_conductivity("<1E-10") == (pytest.approx(-10.0), "upper")
    assert parse_conductivity(">1e-2") == (pytest.approx(-2.0), "lower")
    v, c = parse_conductivity("")
    assert math.isnan(v) and c == "missing"
    with pytest.raises(ParameterError, match="n/a"):
        parse_conductivity("n/a")


@needs_shared
def test_obelix_train_split_counts():
    ds = obelix("train")
    assert len(ds) == 478
    with_struct = [r for r in ds if r.structure is not None]
    assert len(with_struct) == 254
    assert sum(not r.structure.is_ordered for r in with_struct) == 195
    labels = ds.labels()
    assert (labels["sigma_censored"] == "upper").sum() > 0
    censored = labels[labels["sigma_censored"] == "upper"]
    assert censored["log10_sigma"].max() <= -8
    assert labels["flag_no_cif"].sum() == 478 - 254
    assert labels["flag_close_match"].any() and labels["flag_cif_lacks_li"].any()
    assert ds.ids[0].startswith("obelix:")


@needs_shared
def test_obelix_composition_mismatch_flag_trusts_true_composition():
    ds = obelix("train")
    flagged = [r for r in ds if r.labels["flag_composition_mismatch"]]
    assert flagged
    for r in flagged:
        cif = r.structure.composition.fractional_composition
        true = Composition(r.labels["composition"]).fractional_composition
        assert not cif.almost_equals(true, rtol=0, atol=0.02)


def test_obelix_bad_split():
    with pytest.raises(ParameterError):
        obelix("validation")


def test_obelix_missing_local_dir_names_path(tmp_path):
    with pytest.raises(DataUnavailableError, match=str(tmp_path)):
        obelix("train", data_dir=tmp_path)


@needs_shared
def test_label_tables():
    las = laskowski2023()
    assert len(las) == 1346
    assert las["log10_sigma"].between(-20, 0).mean() > 0.9
    assert las["icsd_id"].notna().sum() > 300  # about a quarter of the rows name an ICSD entry
    liv = liverpool_ionics()
    assert len(liv) == 820
    assert liv["log10_sigma"].notna().all()


def test_known_conductors_table():
    kc = known_conductors()
    names = set(kc["name"])
    for must in ["LGPS", "Li7P3S11", "beta-Li3PS4", "Li6PS5Cl", "c-LLZO", "LATP", "LLTO", "Li3N", "Li3InCl6", "Li3YCl6", "Li3YBr6", "LSnPS"]:
        assert must in names
    assert kc["doi"].str.startswith("10.").all()
    assert (kc.loc[kc["name"] == "LGPS", "log10_sigma"].iloc[0]) > -2.5
    m = match_known_conductors(["Li20Ge2P4S24", "LiFePO4"])
    assert m.loc[0, "name"] == "LGPS" and m.loc[1, "name"] is None


def test_from_path_file_and_directory(tmp_path, li2o):
    li2o.to(filename=str(tmp_path / "Li2O.cif"))
    (tmp_path / "garbage.cif").write_text("data_x\n_cell_length_a foo\nloop_\n")
    (tmp_path / "empty.vasp").write_text("")
    (tmp_path / "notes.txt").write_text("not a structure")
    ds = from_path(tmp_path)
    assert ds.ids == ["Li2O"]
    assert set(ds.failures["id"]) == {"garbage", "empty"}
    assert all(str(tmp_path) in e for e in ds.failures["path"])
    with pytest.raises(InputError, match="garbage.cif"):
        read_structure(tmp_path / "garbage.cif")
    assert len(load(tmp_path / "Li2O.cif")) == 1


def test_json_structure_files_are_parsed_not_unpickled(tmp_path, lifepo4):
    p = tmp_path / "lfp.json"
    p.write_text(lifepo4.to_json())
    assert read_structure(p).composition.reduced_formula == "LiFePO4"


def test_load_unknown_name():
    with pytest.raises(InputError, match="dataset name"):
        load("no-such-dataset")


def test_load_many_keeps_ids_unique(tmp_path, li2o):
    li2o.to(filename=str(tmp_path / "x.cif"))
    ds = load_many([tmp_path, tmp_path])
    assert ds.ids == ["x", "x#2"]


def test_dataset_table_columns(lgps):
    ds = Dataset([Record("lgps", lgps, {"log10_sigma": -1.9}, {"source": "test"})])
    t = ds.table()
    assert list(t.columns[:7]) == ["id", "formula", "n_sites", "is_ordered", "contains_mobile_ion", "source", "provenance"]
    assert t.loc[0, "is_ordered"] is False or t.loc[0, "is_ordered"] == False  # noqa: E712
    assert t.loc[0, "log10_sigma"] == -1.9


def test_materials_project_needs_key(monkeypatch):
    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(DataUnavailableError, match="MP_API_KEY"):
        materials_project()
