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
from sicnb.methods import Method


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


@pytest.fixture
def toy():
    M.register(TOY, replace=True)
    yield TOY
    M.unregister(TOY.name)


def _method(name: str) -> Method:
    return TOY if name == TOY.name else M.get(name)


def _params_for_suite():
    return [pytest.param(m.name, marks=[pytest.mark.slow] if (m.slow or m.testing.get("slow")) else []) for m in M.registered()] + [TOY.name]


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
    if name == TOY.name:
        request.getfixturevalue("toy")
    m = _method(name)
    s = pymatgen_structure(m.testing.get("structures", ("Li2O",))[0])
    descriptor_suite(m.function, s, m.function_params(m.testing.get("params")), keys=list(m.features),
                     atol=m.testing.get("atol", 1e-6), rtol=0.0, nan_allowed=m.testing.get("nan_allowed", ()))


@pytest.mark.slow  # one local Dask cluster per method (tens of seconds on a busy 2-core box)
@pytest.mark.parametrize("name", [m.name for m in M.registered()] + [TOY.name])
def test_workers_suite_of_every_registered_method(name, workers_suite, request):
    if name == TOY.name:
        request.getfixturevalue("toy")
    m = _method(name)
    structures = [pymatgen_structure(n) for n in m.testing.get("structures", ("Li2O",))]
    workers_suite(m.function, structures, m.function_params(m.testing.get("params")), keys=list(m.features),
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
