"""Tests of sicnb.classify (McHaffie et al. 2025): features, AtomSets, validation, ensemble, CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from sicnb.classify import (
    AtomSetsClassifier, SuperionicEnsemble, atom_features, classification_metrics, control_metrics,
    elemental_embeddings, kfold_splits, loco_splits, predict, sendek_features, site_embeddings,
)
from sicnb.classify.atomsets import AtomSetsNet, stack_sets
from sicnb.classify.screening import top_candidates, training_like
from sicnb.errors import ModelUnavailableError, StructureError

from conftest import needs_matgl, needs_shared


def _emb(el):
    els, table = elemental_embeddings()
    return table[els.index(el)]


def _half_li_na():
    return Structure(Lattice.cubic(4.2), [{"Li": 0.5, "Na": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


# ---- V0: occupancy-weighted embeddings (acceptance) -----------------------------------------------
def test_half_li_half_na_site_is_mean_of_embeddings():
    v = site_embeddings(_half_li_na())
    np.testing.assert_allclose(v[0], (_emb("Li") + _emb("Na")) / 2, atol=1e-12)
    np.testing.assert_allclose(v[1], _emb("Cl"), atol=1e-12)
    assert v.shape == (2, 16)


def test_partial_occupancy_scales_embedding_and_unknown_element_raises():
    s = Structure(Lattice.cubic(4.0), [{"Li": 0.25}, "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    np.testing.assert_allclose(site_embeddings(s)[0], 0.25 * _emb("Li"))
    with pytest.raises(StructureError, match="Og"):
        site_embeddings(Structure(Lattice.cubic(4.0), ["Og", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]))


def test_atom_features_invariant(descriptor_suite, lifepo4, lgps):
    descriptor_suite(atom_features, lifepo4, {"level": 0, "representation": "CAMN"})
    ref = descriptor_suite(atom_features, lgps, {"level": 0, "representation": "CAMNS"})
    assert ref["is_disordered"] and ref["n_features"] == 16


def test_atom_features_workers(workers_suite, li2o, lifepo4):
    workers_suite(atom_features, [li2o, lifepo4], {"level": 0, "representation": "CAN"})


def test_representations_change_atoms(li2o):
    n = {rep: atom_features(li2o, 0, rep)["n_atoms"] for rep in ("CAMN", "CAN", "CAMNS", "CANS")}
    assert n["CAMN"] == n["CAMNS"] == len(li2o) and n["CAN"] == n["CANS"] == li2o.composition["O"]
    # CAMNS maps O(2-) to S: the anion rows become the S embedding
    rows = np.array(atom_features(li2o, 0, "CAMNS")["features"])
    assert any(np.allclose(r, _emb("S")) for r in rows) and not any(np.allclose(r, _emb("O")) for r in rows)


@needs_matgl
def test_shipped_embeddings_match_model_and_v1_matches_matgl_forward(li2o):
    import torch

    from sicnb.classify.features import EFORM_MODEL, megnet_node_features
    from sicnb.potentials import load_matgl_model

    wrapped = load_matgl_model(EFORM_MODEL)
    net = wrapped.model
    els, table = elemental_embeddings()
    assert els == list(net.element_types)
    np.testing.assert_allclose(table, net.embedding.layer_node_embedding.weight.detach().double().numpy(), atol=1e-7)
    # our occupancy-weighted forward = matgl's own forward on an ordered structure (node features + output)
    feats, out = megnet_node_features(li2o, 1, return_output=True)
    ref_out = float(wrapped.predict_structure(li2o))
    assert out == pytest.approx(ref_out, abs=1e-5)
    gc1 = net.feature_dict["gc_1"]["node_feat"].detach().double().numpy()
    np.testing.assert_allclose(feats, gc1, atol=1e-5)
    # half Li / half Na at V1: the input to the encoder is the mean embedding
    v0 = megnet_node_features(_half_li_na(), 0)
    np.testing.assert_allclose(v0[0], (_emb("Li") + _emb("Na")) / 2, atol=1e-6)
    assert torch.is_tensor(net.embedding.layer_node_embedding.weight)


@needs_matgl
def test_v1_v3_shapes_and_invariance(descriptor_suite, lgps):
    ref = descriptor_suite(atom_features, lgps, {"level": 1, "representation": "CAMNS"}, rtol=1e-4, atol=1e-4, cell_choice=False)
    assert ref["n_features"] == 32 and ref["n_atoms"] == len(lgps)


def test_v1_without_model_raises_clear_error(monkeypatch, li2o):
    monkeypatch.delenv("SICNB_MATGL_MODELS", raising=False)
    with pytest.raises(ModelUnavailableError, match="SICNB_MATGL_MODELS"):
        atom_features(li2o, level=1)


# ---- AtomSets ---------------------------------------------------------------------------------------
def test_set2set_readout_is_permutation_invariant():
    import torch

    rng = np.random.default_rng(0)
    net = AtomSetsNet(16, hidden=(8,), set2set_steps=3, dense=(8,), dropout=0.0).eval()
    sets = [rng.normal(size=(n, 16)).astype(np.float32) for n in (5, 9, 3)]
    with torch.no_grad():
        ref = net(*stack_sets(sets), 3).numpy()
        perm = [s[rng.permutation(len(s))] for s in sets]
        got = net(*stack_sets(perm), 3).numpy()
        # and the set order within a batch does not matter either
        rev = net(*stack_sets(perm[::-1]), 3).numpy()[::-1]
    np.testing.assert_allclose(got, ref, atol=1e-5)
    np.testing.assert_allclose(rev, ref, atol=1e-5)
    assert len(set(np.round(ref, 6))) == 3  # different sets give different outputs


def test_atomsets_learns_and_roundtrips():
    rng = np.random.default_rng(1)
    y = np.array([0, 1] * 20)
    X = [rng.normal(loc=(1.0 if t else -1.0), size=(rng.integers(2, 8), 4)) for t in y]
    clf = AtomSetsClassifier(hidden=(8,), dense=(8,), epochs=15, batch_size=16, lr=1e-2, random_state=0).fit(X, y)
    p = clf.predict_proba(X)[:, 1]
    assert classification_metrics(y, p)["auc_pr"] > 0.95
    clone = AtomSetsClassifier.from_json(json.loads(json.dumps(clf.to_json())))
    np.testing.assert_allclose(clone.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    assert clf.get_params()["hidden"] == (8,) and clf.citations()


# ---- validation ------------------------------------------------------------------------------------
def test_metrics_and_controls():
    y = np.array([1, 1, 0, 0, 0, 0, 1, 0, 0, 0])
    m = classification_metrics(y, y.astype(float))
    assert m["auc_pr"] == pytest.approx(1.0) and m["mcc"] == pytest.approx(1.0)
    c = control_metrics(y, y_train=np.array([0, 1, 0, 0]))
    assert c["mean"]["auc_pr"] == pytest.approx(y.mean()) and c["mean"]["mcc"] == 0.0
    assert set(c["shuffled"]) == {"auc_pr", "mcc"}


def test_elmd_closed_form_matches_elmd_package():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ElMD import ElMD

    from sicnb.classify.validation import elmd_distance_matrix

    comps = ["Li7La3Zr2O12", "Li10GeP2S12", "Li3InCl6", "LiFePO4"]
    d = elmd_distance_matrix(comps)
    np.testing.assert_allclose(d, d.T)
    np.testing.assert_allclose(np.diag(d), 0)
    for i in range(len(comps)):
        ref = ElMD(comps[i])
        for j in range(i + 1, len(comps)):
            assert d[i, j] == pytest.approx(ref.elmd(comps[j]), abs=1e-6) and d[i, j] > 0


def test_splits_partition_the_data():
    folds = kfold_splits(23, 5, random_state=0)
    assert sorted(np.concatenate([va for _, _, va in folds]).tolist()) == list(range(23))
    loco = loco_splits([0, 0, 1, 2, 2, 2])
    assert [n for n, _, _ in loco] == ["cluster0", "cluster1", "cluster2"]
    for _, tr, va in loco:
        assert not set(tr) & set(va)


# ---- Sendek baseline ------------------------------------------------------------------------------
def test_sendek_features_li2o(li2o):
    f = sendek_features(li2o)
    a = li2o.lattice.abc[0] * np.sqrt(2) if li2o.lattice.alpha < 80 else li2o.lattice.abc[0]
    li = [s for s in li2o if s.specie.symbol == "Li"]
    o = [s for s in li2o if s.specie.symbol == "O"]
    d_lio = min(li[0].distance(x) for x in o)
    assert f["LASD"] == pytest.approx(d_lio, rel=1e-6)
    assert 0 < f["LLSD"] < a and f["LLB"] >= 0 and f["AFC"] >= 0 and np.isnan(f["SBI"])  # no non-Li cations
    with pytest.raises(StructureError):
        sendek_features(Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]))


# ---- ensemble, default model, screening -----------------------------------------------------------
def test_ensemble_save_load_and_tamper(tmp_path):
    rng = np.random.default_rng(2)
    y = np.array([0, 1] * 12)
    X = [rng.normal(loc=t, size=(3, 16)) for t in y]
    ens = SuperionicEnsemble(n_models=2, configs=[{"hidden": (8,), "dense": (8,), "epochs": 5}]).fit(X, y)
    df = ens.predict_frame(X[:4], ids=list("abcd"))
    assert list(df.columns) == ["p_si", "p_si_std", "d_training", "superionic"]
    assert (df["d_training"] < 1e-6).all()  # training structures are their own nearest neighbour
    ens.save(tmp_path / "m")
    back = SuperionicEnsemble.load(tmp_path / "m")
    pd.testing.assert_frame_equal(back.predict_frame(X[:4], ids=list("abcd")), df, atol=1e-5)
    w = tmp_path / "m" / "weights.json"
    w.write_text(w.read_text().replace('"data":"', '"data":"AAAA', 1))
    with pytest.raises(ModelUnavailableError, match="checksum"):
        SuperionicEnsemble.load(tmp_path / "m")


def test_default_model_predicts_offline(monkeypatch, lgps, li2o):
    monkeypatch.delenv("SICNB_MATGL_MODELS", raising=False)
    monkeypatch.delenv("SICNB_DATA_DIR", raising=False)
    bad = Structure(Lattice.cubic(4.0), ["Og", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    out = predict({"lgps": lgps, "li2o": li2o, "bad": bad}, progress=False)
    assert list(out.index) == ["lgps", "li2o", "bad"]
    ok = out.loc[["lgps", "li2o"]]
    assert ok["p_si"].between(0, 1).all() and (ok["p_si_std"] >= 0).all() and (ok["d_training"] > 0).all()
    assert ok.loc["lgps", "p_si"] > 0.5  # Li10GeP2S12, σ ≈ 1e-2 S/cm (Kamaya 2011)
    assert (ok["log10_sigma_lo"] < ok["log10_sigma_pred"]).all() and (ok["log10_sigma_pred"] < ok["log10_sigma_hi"]).all()
    # the paper's AtomSets ensemble stays available by name
    paper = predict({"li2o": li2o}, model="atomsets", progress=False)
    assert 0 <= paper.loc["li2o", "p_si"] <= 1 and np.isnan(paper.loc["li2o", "log10_sigma_pred"])
    assert bool(ok.loc["lgps", "is_disordered"]) and not bool(ok.loc["li2o", "is_disordered"])
    assert "Og" in out.loc["bad", "error"] and np.isnan(out.loc["bad", "p_si"])


def test_training_like_and_top_table():
    flags = training_like(["Li6PS5Cl", "Li6.1PS5.1Cl0.9", "Li3InCl6"], ["Li6PS5Cl"], tol=0.05)
    assert flags.tolist() == [True, True, False]
    scr = pd.DataFrame({"formula": ["A", "B", "C"], "p_si": [0.9, 0.8, 0.7], "p_si_std": [0.1, 0.1, 0.1],
                        "d_training": [1.0, 2.0, 3.0], "is_disordered": [True, False, True],
                        "band_gap_ev": [0.5, 2.0, 3.0], "passes_eg": [False, True, True],
                        "training_like": [False, True, False]}, index=["a", "b", "c"])
    top = top_candidates(scr, n=5)
    assert list(top.index) == ["c"] and top.iloc[0]["P_SI (SD)"] == "0.70 (0.10)"


def test_cli_predict(tmp_path, li2o):
    from sicnb.cli import main

    li2o.to(filename=str(tmp_path / "Li2O.cif"))
    out = tmp_path / "preds.csv"
    assert main(["classify", "predict", "--input", str(tmp_path / "Li2O.cif"), "--out", str(out), "--cache-dir", "none"]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["id", "formula", "p_si", "p_si_std", "d_training", "in_training", "log10_sigma_pred",
                                "log10_sigma_lo", "log10_sigma_hi", "is_disordered", "error"]
    assert not bool(df.loc[0, "in_training"])  # Li2O is not an OBELiX-train composition of the shipped model
    assert 0 <= df.loc[0, "p_si"] <= 1


@needs_shared
def test_default_model_puts_clear_cut_training_cases_on_the_right_side():
    """A well-known superionic conductor and a well-known insulator of OBELiX's training split:
    Li10Ge(PS6)2 (LGPS, obelix:mtn, σ = 2.5e-2 S/cm) and Li3PO4 (obelix:w7d, σ = 4e-18 S/cm)."""
    import importlib
    import warnings

    from conftest import SHARED_DATA
    from sicnb.data.obelix import parse_conductivity

    ob = importlib.import_module("sicnb.data.obelix")
    root = SHARED_DATA / "obelix"
    table = ob._read_split(root, "train").set_index("ID")  # the training split only (no test row can be read here)
    cases = {"mtn": ("Li10Ge(PS6)2", True), "w7d": ("Li3PO4", False)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structures = {i: Structure.from_file(ob._cif_dir(root) / f"{i}.cif") for i in cases}
    out = predict(structures, progress=False)
    for i, (formula, superionic) in cases.items():
        assert structures[i].composition.reduced_formula == formula
        assert bool(parse_conductivity(table.loc[i, ob.SIGMA_COLUMN])[0] >= -4) is superionic
        assert bool(out.loc[i, "p_si"] > 0.5) is superionic, f"{formula}: P_SI = {out.loc[i, 'p_si']:.3f}"
