"""The public method contract (sicnb.methods).

A toy method declared in this file alone gets its batch function, sklearn featurizer, ``sicnb <name>``
command, ledger column and the invariance / 1-vs-N-workers suites; the same suites run over every
registered method (cheap parameters from each declaration's ``testing``; expensive methods are slow)."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import pymatgen_structure
from sicnb import methods as M
from sicnb.data import Dataset, Record
from sicnb.errors import ParameterError
from sicnb.methods import Method, TableMethod


def li_fraction(structure, weight: float = 1.0) -> dict:
    """Toy per-structure function: ``weight`` × the atomic fraction of Li (occupancy-weighted)."""
    return {"li_fraction": weight * structure.composition.get_atomic_fraction("Li"), "formula": structure.composition.reduced_formula}


@dataclasses.dataclass(frozen=True)
class ToyParams:
    weight: float = 1.0


TOY = Method(name="toy_li_fraction", title="toy Li fraction", function=li_fraction, params=ToyParams,
             features={"li_fraction": "li_fraction_dimensionless"}, score="li_fraction_dimensionless", direction=+1,
             new_columns={"li_fraction_dimensionless": "atomic fraction of Li (dimensionless)"},
             citations=("a test method",), testing={"params": {"weight": 2.0}, "structures": ("Li2O", "LiFePO4")})


@dataclasses.dataclass(frozen=True)
class ToyTableParams:
    weight: float = 1.0  #: of the per-structure function
    scale: float = 1.0  #: of the score step


def _toy_fit(table, labels, p):
    """Fit step: the mean Li fraction of the labelled positives (y = 1), or of the whole pool without labels."""
    f = table["li_fraction"]
    if labels is not None and "y" in labels:
        f = f[labels["y"].reindex(f.index).eq(1)]
    return float(f.mean())


def _toy_predict(centre, table, p):
    out = table[["error"]].copy()
    out["distance"] = (table["li_fraction"] - centre).abs() * p.scale
    return out


TOY_TABLE = TableMethod(name="toy_li_distance", title="toy distance to the positives' Li fraction", function=li_fraction,
                        params=ToyTableParams, fit=_toy_fit, predict=_toy_predict,
                        features={"distance": "li_fraction_distance_dimensionless"}, score="li_fraction_distance_dimensionless",
                        direction=-1, new_columns={"li_fraction_distance_dimensionless": "|Li fraction − fitted centre| (dimensionless)"},
                        citations=("a test table method",), testing={"keys": ("li_fraction",), "structures": ("Li2O", "LiFePO4")})


@pytest.fixture
def toy_table():
    M.register(TOY_TABLE, replace=True)
    yield TOY_TABLE
    M.unregister(TOY_TABLE.name)


@pytest.fixture
def toy():
    M.register(TOY, replace=True)
    yield TOY
    M.unregister(TOY.name)


def _method(name: str) -> Method | TableMethod:
    return {TOY.name: TOY, TOY_TABLE.name: TOY_TABLE}.get(name) or M.get(name)


def _suite_keys(m) -> list[str] | None:
    """Keys of the per-structure function the suites compare (a table method's features come from its score step)."""
    keys = m.testing.get("keys", list(m.features))
    return None if keys is None else list(keys)


def _params_for_suite():
    return [pytest.param(m.name, marks=[pytest.mark.slow] if (m.slow or m.testing.get("slow")) else []) for m in M.registered()] + [TOY.name, TOY_TABLE.name]


def test_toy_method_gets_batch_featurizer_cli_and_ledger_column(toy, tmp_path):
    li2o, lfp = pymatgen_structure("Li2O"), pymatgen_structure("LiFePO4")
    # batch: canonical column, parameters bound (a default spelled out or left out is the same cache entry)
    t = toy.batch({"a": li2o, "b": lfp}, {"weight": 2.0}, cache_dir=tmp_path / "c", progress=False)
    assert t.loc["a", "li_fraction_dimensionless"] == pytest.approx(2 * 2 / 3)
    assert t.loc["b", "li_fraction_dimensionless"] == pytest.approx(2 * 4 / 28)
    assert toy.batch({"a": li2o}, {}, cache_dir=tmp_path / "c", progress=False).attrs["n_computed"] == 1
    assert toy.batch({"a": li2o}, {"weight": 1.0}, cache_dir=tmp_path / "c", progress=False).attrs["n_cached"] == 1
    with pytest.raises(ParameterError, match="weight"):
        toy.bind({"wieght": 2.0})
    # scikit-learn featurizer
    from sklearn.base import clone

    f = clone(M.MethodFeaturizer(TOY.name, params={"weight": 1.0}, cache_dir=False))
    X = f.fit_transform([li2o, lfp])
    assert X.shape == (2, 1) and X[:, 0] == pytest.approx([2 / 3, 4 / 28])
    assert list(f.get_feature_names_out()) == ["li_fraction_dimensionless"]
    # CLI: `sicnb toy_li_fraction` with one option per parameter
    from sicnb.cli import main

    folder = tmp_path / "cifs"
    folder.mkdir()
    li2o.to(filename=str(folder / "Li2O.cif"))
    out = tmp_path / "toy.csv"
    assert main(["toy_li_fraction", "--input", str(folder), "--out", str(out), "--weight", "3", "--cache-dir", str(tmp_path / "c")]) == 0
    assert pd.read_csv(out)["li_fraction_dimensionless"].iloc[0] == pytest.approx(2.0)
    # ledger: registered with the ledger, scored under <name>.score
    from sicnb.ledger import build_ledger, known_conductor_labels, method_names

    assert TOY.name in method_names()
    pool = Dataset([Record("pymatgen:Li2O", li2o), Record("pymatgen:LiFePO4", lfp)], name="toy pool")
    ledger = build_ledger(pool, methods=[TOY.name, "topology"], labels=known_conductor_labels(pool, reference=None),
                          params={"topology": {"radius_angstrom": 6.0}}, cache_dir=tmp_path / "c", progress=False)
    assert ledger.table.loc["pymatgen:Li2O", f"{TOY.name}.score"] == pytest.approx(2 / 3)
    assert ledger.table["topology.score"].notna().all()


def test_toy_table_method_gets_batch_featurizer_cli_and_ledger_column(toy_table, tmp_path):
    li2o, lfp, li3n = pymatgen_structure("Li2O"), pymatgen_structure("LiFePO4"), pymatgen_structure("Li2O2")
    pool = {"a": li2o, "b": lfp, "c": li3n}
    fa, fb, fc = 2 / 3, 4 / 28, 2 / 4
    labels = pd.DataFrame({"y": [1, 0, 1]}, index=["a", "b", "c"])
    # batch: feature step (pmap, parameters bound), fit on the labels, score with canonical columns and provenance
    t = toy_table.batch(pool, {"scale": 2.0}, labels=labels, cache_dir=tmp_path / "c", progress=False)
    centre = (fa + fc) / 2
    assert t["li_fraction_distance_dimensionless"].to_dict() == pytest.approx({"a": 2 * abs(fa - centre), "b": 2 * abs(fb - centre),
                                                                             "c": 2 * abs(fc - centre)})
    assert t["method"].iloc[0].endswith("_toy_predict") and '"scale": 2.0' in t["params"].iloc[0]
    unlabelled = toy_table.batch(pool, {}, cache_dir=tmp_path / "c", progress=False)  # fit on the pool: another centre
    assert unlabelled.loc["b", "li_fraction_distance_dimensionless"] == pytest.approx(abs(fb - (fa + fb + fc) / 3))
    assert toy_table.feature_table({"a": li2o}, {"weight": 1.0}, cache_dir=tmp_path / "c", progress=False).attrs["n_cached"] == 1
    # scikit-learn featurizer: fit(X, y) runs the fit step, transform scores with what was fitted
    from sklearn.base import clone

    f = clone(M.MethodFeaturizer(TOY_TABLE.name, cache_dir=False))
    X = f.fit([li2o, lfp, li3n], [1, 0, 1]).transform([lfp])
    assert X.shape == (1, 1) and X[0, 0] == pytest.approx(abs(fb - centre))
    assert list(f.get_feature_names_out()) == ["li_fraction_distance_dimensionless"]
    # CLI: `sicnb toy_li_distance --labels CSV`, one option per parameter
    from sicnb.cli import main

    folder = tmp_path / "cifs"
    folder.mkdir()
    for name, s in (("Li2O", li2o), ("LiFePO4", lfp)):
        s.to(filename=str(folder / f"{name}.cif"))
    out = tmp_path / "toy.csv"
    assert main(["toy_li_distance", "--input", str(folder), "--out", str(out), "--scale", "3", "--cache-dir", str(tmp_path / "c")]) == 0
    got = pd.read_csv(out).set_index("id")["li_fraction_distance_dimensionless"]
    assert sorted(got.round(9)) == pytest.approx(sorted([3 * abs(fa - (fa + fb) / 2)] * 2))
    ids = list(got.index)
    pd.DataFrame({"id": ids, "y": [1 if "Li2O" in i else 0 for i in ids]}).to_csv(tmp_path / "labels.csv", index=False)
    assert main(["toy_li_distance", "--input", str(folder), "--out", str(out), "--labels", str(tmp_path / "labels.csv"),
                 "--cache-dir", str(tmp_path / "c")]) == 0
    assert sorted(pd.read_csv(out)["li_fraction_distance_dimensionless"]) == pytest.approx([0.0, fa - fb])
    # ledger: a generated adapter, fitted with the ledger's labels
    from sicnb.ledger import build_ledger, get_method, known_conductor_labels, method_names

    assert TOY_TABLE.name in method_names() and get_method(TOY_TABLE.name).direction == -1
    ds = Dataset([Record("pymatgen:Li2O", li2o), Record("pymatgen:LiFePO4", lfp)], name="toy pool")
    ledger = build_ledger(ds, methods=[TOY_TABLE.name], labels=known_conductor_labels(ds, reference=None),
                          cache_dir=tmp_path / "c", progress=False)
    assert ledger.table[f"{TOY_TABLE.name}.score"].to_list() == pytest.approx([abs(fa - fb) / 2] * 2)
    with pytest.raises(ParameterError, match="labels"):
        dataclasses.replace(TOY_TABLE, labels="required").batch({"a": li2o}, cache_dir=False, progress=False)


def test_classify_is_a_table_method_whose_batch_is_predict(tmp_path):
    """The declared classifier gives predict()'s numbers; model='train' fits the default's configuration on labels."""
    from sicnb.classify import predict
    from sicnb.classify.method import CLASSIFY

    pool = {n: pymatgen_structure(n) for n in ("Li2O", "LiFePO4", "Li3V2(PO4)3", "Li10GeP2S12")}
    ref = predict(pool, cache_dir=tmp_path / "c", progress=False)
    t = CLASSIFY.batch(pool, {}, cache_dir=tmp_path / "c", progress=False)
    for a, b in (("p_si", "p_si"), ("p_si_std", "p_si_std"), ("d_training", "d_training"), ("log10_sigma_S_per_cm_pred", "log10_sigma_pred")):
        np.testing.assert_array_equal(t[a].to_numpy(float), ref[b].to_numpy(float))  # bit-identical, NaN where a step failed
    assert t["error"].to_list() == ref["error"].to_list() and t["p_si"].notna().sum() >= 3
    assert M.get("classify") is CLASSIFY and "p_si" in M.VOCABULARY
    labels = pd.DataFrame({"log10_sigma": [-9.0, -10.0, -3.0, -2.0]}, index=list(pool))
    trained = CLASSIFY.batch(pool, {"model": "train"}, labels=labels, cache_dir=tmp_path / "c", progress=False)
    ok = trained["error"].eq("")
    assert trained.loc[ok, "p_si"].notna().all() and trained.loc["Li10GeP2S12", "p_si"] > trained.loc["LiFePO4", "p_si"]
    with pytest.raises(ParameterError, match="labels"):
        CLASSIFY.batch(pool, {"model": "train"}, cache_dir=tmp_path / "c", progress=False)


def test_unregister_removes_the_ledger_entry(toy):
    from sicnb.ledger import method_names

    M.unregister(TOY.name)
    assert TOY.name not in method_names() and TOY.name not in [m.name for m in M.registered()]


def test_declaration_errors_say_what_is_wrong():
    with pytest.raises(ParameterError, match="frozen dataclass"):
        Method(name="x", title="x", function=li_fraction, params=dict, features={"li_fraction": "x"}, score="x", direction=1)
    with pytest.raises(ParameterError, match="direction"):
        dataclasses.replace(TOY, direction=0)
    with pytest.raises(ParameterError, match="score"):
        dataclasses.replace(TOY, score="band_gap_eV")


def test_old_column_names_are_accepted_with_a_deprecation_warning():
    old = pd.DataFrame({"E_a": [0.3], "e_hull_ev_per_atom": [0.01], "band_gap_ev": [4.0]})
    with pytest.warns(DeprecationWarning, match="E_a"):
        new = M.canonical_columns(old)
    assert list(new.columns) == ["activation_energy_eV", "e_above_hull_eV_per_atom", "band_gap_eV"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert M.canonical_columns(new) is new  # canonical names pass silently


def test_every_declared_feature_column_is_in_the_vocabulary():
    for m in M.registered():
        assert set(m.features.values()) <= set(M.VOCABULARY), m.name
        assert m.citations, f"{m.name} cites nothing"


@pytest.mark.parametrize("name", _params_for_suite())
def test_invariance_suite_of_every_registered_method(name, descriptor_suite, request):
    if name in (TOY.name, TOY_TABLE.name):
        request.getfixturevalue("toy" if name == TOY.name else "toy_table")
    m = _method(name)
    s = pymatgen_structure(m.testing.get("structures", ("Li2O",))[0])
    descriptor_suite(m.function, s, m.function_params(m.testing.get("params")), keys=_suite_keys(m),
                     atol=m.testing.get("atol", 1e-6), rtol=0.0, nan_allowed=m.testing.get("nan_allowed", ()))


@pytest.mark.slow  # one local Dask cluster per method (tens of seconds on a busy 2-core box)
@pytest.mark.parametrize("name", [m.name for m in M.registered()] + [TOY.name, TOY_TABLE.name])
def test_workers_suite_of_every_registered_method(name, workers_suite, request):
    if name in (TOY.name, TOY_TABLE.name):
        request.getfixturevalue("toy" if name == TOY.name else "toy_table")
    m = _method(name)
    structures = [pymatgen_structure(n) for n in m.testing.get("structures", ("Li2O",))]
    workers_suite(m.function, structures, m.function_params(m.testing.get("params")), keys=_suite_keys(m),
                  nan_allowed=m.testing.get("nan_allowed", ()))


def test_cache_key_binds_parameters_to_the_function(tmp_path):
    """Notebook (parameters left out), CLI (every option written) and ledger spell parameters differently but
    hit one cache entry; an entry written before the binding (format 2) is still read."""
    from sicnb.data.records import structure_hash
    from sicnb.parallel import ResultCache, bind_params, cache_key, pmap
    from sicnb.parallel.cache import legacy_cache_key

    h = structure_hash(pymatgen_structure("Li2O"))
    assert bind_params(li_fraction, {}) == {"weight": 1.0}
    assert cache_key(li_fraction, {}, h) == cache_key(li_fraction, {"weight": 1.0}, h) != cache_key(li_fraction, {"weight": 2.0}, h)
    # an old-format entry under the spelling {} is found and copied to the bound key
    cache = ResultCache(tmp_path / "c")
    cache.put(legacy_cache_key(li_fraction, {}, h), {"ok": True, "result": {"li_fraction": -1.0}, "error": ""})
    t = pmap(li_fraction, {"a": pymatgen_structure("Li2O")}, {}, cache_dir=tmp_path / "c", progress=False)
    assert t.loc["a", "li_fraction"] == -1.0 and t.attrs["n_cached"] == 1
    assert cache.get(cache_key(li_fraction, {"weight": 1.0}, h)) is not None
    # cache_only: nothing computed, missing items say so
    t = pmap(li_fraction, {"b": pymatgen_structure("LiFePO4")}, {}, cache_dir=tmp_path / "c", progress=False, cache_only=True)
    assert t.loc["b", "error"].startswith("NotCached") and t.attrs["n_computed"] == 0 and np.isnan(t.get("li_fraction", pd.Series([np.nan])).iloc[0])
