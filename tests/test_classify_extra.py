"""Tests of sicnb.classify hyperparameter search and the ordered-vs-disordered comparison (Fig. 2)."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Lattice, Species, Structure

from sicnb.classify.features import REPRESENTATIONS, atom_features, elemental_embeddings
from sicnb.classify.hpo import tune_atomsets
from sicnb.classify.ordering import order_framework, ordered_vs_disordered
from sicnb.errors import ParameterError, StructureError


def _disordered_rocksalt(a: float = 4.2) -> Structure:
    """Tetragonally stretched rock salt with a half Ti4+/half Mg2+ cation sublattice (4 sites) and Li+ in two
    tetrahedral holes; the stretch makes layering along c differ in Ewald energy from layering along a/b."""
    fcc = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    species = [{Species("Ti", 4): 0.5, Species("Mg", 2): 0.5}] * 4 + [Species("O", -2)] * 4 + [Species("Li", 1)] * 2
    coords = fcc + [[(x + 0.5) % 1, y, z] for x, y, z in fcc] + [[0.25, 0.25, 0.25], [0.75, 0.75, 0.75]]
    return Structure(Lattice.tetragonal(a, 1.25 * a), species, coords)


def test_paper_representation_names_map_to_simplify_schemes(li2o):
    assert REPRESENTATIONS == {"CAMN": "none", "CAN": "no_mobile", "CAMNS": "CAMN", "CANS": "CAN"}
    els, table = elemental_embeddings()
    rows = np.array(atom_features(li2o, 0, "CAN")["features"])  # CAN: Li removed, species unchanged (O stays O)
    assert np.allclose(rows, table[els.index("O")])


def test_order_framework_is_the_lowest_ewald_ordering():
    s = _disordered_rocksalt()
    out = order_framework(s)
    ordered = Structure.from_dict(out["ordered"])
    assert ordered.is_ordered and "Li" not in {e.symbol for e in ordered.composition}
    assert ordered.composition.element_composition.as_dict() == {"Ti": 2, "Mg": 2, "O": 4}
    assert out["multiplier"] == 1 and out["n_configurations"] == 6 and out["was_disordered"]
    # brute force over the C(4,2) = 6 decorations of the cation sublattice, Li removed
    cat = [i for i, site in enumerate(s) if not site.is_ordered]
    energies = []
    for ti in itertools.combinations(cat, 2):
        sp = [Species("Ti", 4) if i in ti else Species("Mg", 2) if i in cat else s[i].specie for i in range(len(s))]
        keep = [i for i in range(len(s)) if sp[i].symbol != "Li"]
        energies.append(EwaldSummation(Structure(s.lattice, [sp[i] for i in keep], s.frac_coords[keep])).total_energy)
    assert out["ewald_ev"] == pytest.approx(min(energies), abs=1e-6)
    assert max(energies) - min(energies) > 0.1  # the choice matters, so the test can fail


def test_order_framework_limits_and_ordered_input(li2o):
    with pytest.raises(StructureError, match="max_configurations"):
        order_framework(_disordered_rocksalt(), max_configurations=5)
    third = Structure(Lattice.cubic(4.2), [{"Ti": 1 / 3, "Mg": 2 / 3}, "O", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]])
    with pytest.raises(StructureError, match="not integer"):
        order_framework(third, max_multiplier=2)
    assert order_framework(third, max_multiplier=3)["multiplier"] == 3
    plain = order_framework(li2o)
    assert not plain["was_disordered"] and Structure.from_dict(plain["ordered"]).composition.reduced_formula == "O2"


def test_ordered_vs_disordered_uses_same_structures_and_splits(li2o):
    recs = {f"d{i}": _disordered_rocksalt(4.0 + 0.1 * i) for i in range(2)}
    for i in range(4):
        s = li2o.copy()
        s.scale_lattice(s.volume * (1 + 0.05 * i))
        recs[f"o{i}"] = s
    y = pd.Series([0, 1] * 3, index=list(recs), dtype=float)
    cv = ordered_vs_disordered(recs, y, n_splits=2, model_params={"hidden": (4,), "dense": (4,), "epochs": 2},
                               cache_dir=False)
    assert cv.attrs["n_used"] == 6 and cv.attrs["n_ordered_by_transformation"] == 2
    assert set(cv["features"]) == {"linear combination", "ordered (lowest Ewald)", "controls"}
    per = cv[cv["model"] == "AtomSets"].groupby("features")["split"].apply(list)
    assert per["linear combination"] == per["ordered (lowest Ewald)"] == ["fold0", "fold1"]


def _toy(n=16, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    return [rng.normal(loc=(0.8 if t else -0.8), size=(rng.integers(2, 5), 4)) for t in y], y


def test_tune_atomsets_baseline_first_and_budget_stop():
    X, y = _toy()
    base = {"hidden": (4,), "dense": (4,), "epochs": 3}
    res = tune_atomsets(X, y, n_trials=2, epochs=3, n_splits=2, baseline=base)
    assert list(res.trials["trial"]) == [0, 1] and bool(res.trials.loc[0, "baseline"])
    assert res.trials.loc[0, "params"]["hidden"] == [4]
    assert res.best_value == pytest.approx(res.trials["auc_pr_mean"].max())
    assert res.budget["n_structures"] == len(y) and res.cpu_s > 0
    # a CPU budget that is spent after the first trial stops the search there
    assert len(tune_atomsets(X, y, n_trials=5, cpu_budget_s=1e-9, epochs=2, n_splits=2).trials) == 1
    with pytest.raises(ParameterError, match="lacks a class"):
        tune_atomsets(X[:4], np.array([0, 0, 0, 1]), n_splits=2)
