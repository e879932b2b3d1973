"""Tests of issue 17: pooled features, JSON forests, repeated LOCO selection, the forest default and its card."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sicnb.classify.tabular import TabularModel, _arrays, train_tabular, tree_predictions, trees_to_json
from sicnb.classify.selection import (ElmdKNN, PrevalenceModel, ShuffledLabels, average_predictions, composition_embeddings,
                                      pooled_site_embeddings, repeated_loco, score_oof)
from sicnb.classify.validation import loco_clusters, loco_splits
from conftest import needs_shared

FORMULAS = ["Li7La3Zr2O12", "Li10GeP2S12", "Li6PS5Cl", "Li3InCl6", "LiFePO4", "Li2O", "Li3N", "LiCoO2", "Li3PO4",
            "Li4SiO4", "LiTi2(PO4)3", "Li1.3Al0.3Ti1.7(PO4)3", "Li3YCl6", "Li2S", "LiBH4", "Li7P3S11", "LiNbO3",
            "LiTaO3", "Li3BO3", "Li2SiO3", "LiAlO2", "Li5La3Ta2O12", "Li0.33La0.56TiO3", "Li3ScCl6", "Li2ZrCl6",
            "Li6PS5Br", "Li4GeS4", "Li3PS4", "LiI", "LiBr", "Li2CO3", "LiMn2O4"]


def test_pooled_embeddings_are_disorder_aware(lgps, li2o):
    v = pooled_site_embeddings(li2o)
    assert len(v) == 64 and all(np.isfinite(list(v.values())))
    # Li2O has one Li and one O environment per formula: the mean is (2 W_Li + W_O)/3 over sites
    c = composition_embeddings("Li2O")
    assert np.allclose([v[f"e{k}_mean"] for k in range(16)], c[:16])
    d = pooled_site_embeddings(lgps)
    assert not np.allclose([d[f"e{k}_max"] for k in range(16)], [d[f"e{k}_min"] for k in range(16)])


def test_json_trees_equal_sklearn():
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    X = np.array([composition_embeddings(f) for f in FORMULAS])
    y = np.array([1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    rf = RandomForestClassifier(n_estimators=20, random_state=0).fit(X[:24], y[:24])
    p = tree_predictions(_arrays(trees_to_json(rf)), X).mean(axis=0)
    np.testing.assert_allclose(p, rf.predict_proba(X)[:, 1], atol=1e-12)
    reg = RandomForestRegressor(n_estimators=10, random_state=0).fit(X[:24], y[:24] * 3.0 - 5)
    np.testing.assert_allclose(tree_predictions(_arrays(trees_to_json(reg)), X).mean(axis=0), reg.predict(X), atol=1e-12)


def test_logistic_tabular_model_equals_sklearn_and_round_trips(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X = np.array([composition_embeddings(f)[:6] for f in FORMULAS])
    X[3, 2] = np.nan  # a missing feature is imputed with the training median
    y = np.array([1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    s = -6.0 + 3.0 * y + X[:, 0]
    m = TabularModel(("sendek",), classifier="logistic", regressor="ridge", n_estimators=50).fit(X, y, s)
    Xi = np.where(np.isnan(X), np.nanmedian(X, axis=0), X)
    sc = StandardScaler().fit(Xi)
    ref = LogisticRegression(C=1.0, max_iter=1000).fit(sc.transform(Xi), y)
    np.testing.assert_allclose(m.predict_proba(X)[:, 1], ref.predict_proba(sc.transform(Xi))[:, 1], atol=1e-9)
    df = m.predict_frame(X, ids=FORMULAS, formulas=FORMULAS)
    assert (df["p_si_std"] > 0).all() and (df["log10_sigma_lo"] < df["log10_sigma_hi"]).all()
    m.save(tmp_path / "m", card={"training_entries": [{"id": "a", "reduced_composition": "Li6PS5Cl"}]})
    back = TabularModel.load(tmp_path / "m")
    pd.testing.assert_frame_equal(back.predict_frame(X, ids=FORMULAS, formulas=FORMULAS).drop(columns="in_training"),
                                  df.drop(columns="in_training"), atol=1e-5)
    assert back.predict_frame(X[:3], formulas=FORMULAS[:3])["in_training"].tolist() == [False, False, True]


def test_loco_folds_never_share_a_cluster():
    cl = loco_clusters(FORMULAS, n_neighbors=8, min_samples=3, eps=4.0)["cluster"].to_numpy()
    splits = loco_splits(cl)
    assert len(splits) == len(set(cl.tolist())) >= 2
    seen = []
    for _, tr, va in splits:
        assert set(cl[tr].tolist()).isdisjoint(cl[va].tolist())
        assert len(tr) + len(va) == len(FORMULAS)
        seen.extend(va.tolist())
    assert sorted(seen) == list(range(len(FORMULAS)))


def test_fast_metrics_equal_sklearn():
    from sicnb.classify.selection import fast_metrics
    from sicnb.classify.validation import classification_metrics

    rng = np.random.default_rng(0)
    for k in range(20):
        y = rng.integers(0, 2, 40)
        p = np.round(rng.random(40), 1 if k % 2 else 6)  # with and without tied scores
        a, b = fast_metrics(y, p), classification_metrics(y, p)
        assert abs(a["auc_pr"] - b["auc_pr"]) < 1e-12 and abs(a["mcc"] - b["mcc"]) < 1e-12


def test_paired_difference():
    from sicnb.classify.selection import paired_difference

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 80)
    good = np.clip(y * 0.6 + rng.random(80) * 0.4, 0, 1)
    noise = rng.random(80)
    d = paired_difference(y, good, noise, n_boot=200)
    assert d["auc_pr"][1] > 0 and d["mcc"][1] > 0  # a clearly better model: the whole interval above zero
    same = paired_difference(y, noise, noise, n_boot=50)
    assert same["auc_pr"] == (0.0, 0.0, 0.0)


def test_elmd_knn_and_controls():
    from sicnb.classify.validation import elmd_distance_matrix

    D = elmd_distance_matrix(["Li6PS5Cl", "Li6PS5Br", "LiFePO4", "LiCoO2"])
    knn = ElmdKNN(D, k=1).fit(np.array([[0], [2]]), [1, 0])
    p = knn.predict_proba(np.array([[1], [3]]))[:, 1]
    assert p.tolist() == [1.0, 0.0]  # the argyrodite's nearest neighbour is the argyrodite
    assert PrevalenceModel().fit(None, [1, 0, 0, 0]).predict_proba([0, 0])[:, 1].tolist() == [0.25, 0.25]


@pytest.fixture(scope="module")
def obelix_small():
    from sicnb.classify import training_set
    from sicnb.data import load

    recs, labels = training_set(load("obelix:train"))
    pick = sorted(list(np.where(labels["y"] == 1)[0][:25]) + list(np.where(labels["y"] == 0)[0][:35]))
    return [recs[i] for i in pick], labels.iloc[pick]


@needs_shared
def test_tiny_repeated_loco_beats_shuffled(obelix_small, tmp_path):
    """A tiny LOCO run on real OBELiX entries: the forest beats the same forest on permuted labels and the mean."""
    from sklearn.ensemble import RandomForestClassifier

    from sicnb.classify.tabular import tabular_features

    recs, labels = obelix_small
    tab, X = tabular_features(recs, ("site_pool", "magpie"), cache_dir=tmp_path)
    ok = tab["has_features"].to_numpy()
    y = labels["y"].to_numpy()[ok]
    comps = labels["composition"].to_numpy()[ok].tolist()
    rf = lambda s: RandomForestClassifier(n_estimators=60, random_state=s, n_jobs=1)  # noqa: E731
    models = {"rf": (X, rf), "shuffled": (X, lambda s: ShuffledLabels(rf(s), random_state=s)),
              "mean": (X, lambda s: PrevalenceModel())}
    oof = repeated_loco(models, y, comps, seeds=(0, 1), kfold=3, loco_params={"n_neighbors": 10, "min_samples": 4})
    oof = average_predictions(oof, ["rf", "shuffled"], name="avg")
    s = score_oof(oof, n_boot=0).set_index(["scheme", "model"])
    assert s.loc[("loco", "rf"), "pooled_auc_pr"] > s.loc[("loco", "shuffled"), "pooled_auc_pr"]
    assert s.loc[("kfold", "rf"), "pooled_auc_pr"] > s.loc[("kfold", "mean"), "pooled_auc_pr"] + 0.1
    # every entry is predicted exactly once per (scheme, seed, model)
    counts = oof.predictions.groupby(["scheme", "seed", "model"])["row"].agg(lambda r: sorted(r) == list(range(len(y))))
    assert counts.all()


@needs_shared
def test_forest_card_roundtrip_and_in_training(obelix_small, tmp_path, li2o):
    from sicnb.classify import predict

    recs, labels = obelix_small
    model, card = train_tabular(recs[:40], n_estimators=20, cache_dir=tmp_path)
    model.save(tmp_path / "m", card={**card, "command": "test"})
    back = TabularModel.load(tmp_path / "m")
    entries = back.card_["training_entries"]
    assert len(entries) == back.n_train_ == card["n_train"] >= 35
    assert {e["id"] for e in entries} <= set(labels.index[:40])
    assert {e["reduced_composition"] for e in entries} == {str(labels.at[e["id"], "reduced_composition"]) for e in entries}
    known = [r for r in recs[:40] if r.id == entries[0]["id"]]
    novel = {"li2o": li2o} if "Li2O" not in back.training_formulas() else {}
    out = predict({**{known[0].id: known[0].structure}, **novel}, model=tmp_path / "m", cache_dir=tmp_path, progress=False)
    assert bool(out.loc[known[0].id, "in_training"])
    if novel:
        assert not bool(out.loc["li2o", "in_training"])
    row = out.iloc[0]
    assert row["log10_sigma_lo"] <= row["log10_sigma_pred"] <= row["log10_sigma_hi"]
    assert 0 <= row["p_si"] <= 1 and row["d_training"] < 1e-4  # a training structure is its own nearest neighbour
    (tmp_path / "m" / "trees.json").write_text((tmp_path / "m" / "trees.json").read_text().replace("0.5", "0.6", 1))
    from sicnb.errors import ModelUnavailableError

    with pytest.raises(ModelUnavailableError, match="checksum"):
        TabularModel.load(tmp_path / "m")


def test_loco_regression_never_trains_on_the_held_out_cluster_and_knn_regressor_is_nearest():
    from sicnb.classify.selection import ElmdKNNRegressor, repeated_loco_regression, score_regression

    class Memo:  # remembers its training rows; refuses to predict any of them
        def fit(self, X, s):
            self.seen = set(np.asarray(X)[:, 0].astype(int).tolist())
            return self

        def predict(self, X):
            assert not self.seen & set(np.asarray(X)[:, 0].astype(int).tolist())
            return np.zeros(len(X))

    X = np.arange(12, dtype=float).reshape(-1, 1)
    s = np.r_[np.zeros(6), np.full(6, -6.0)]
    clusters = {0: np.repeat([0, 1, 2], 4)}
    # extra rows 100/101 anchored to rows 0 and 11: they may only train when their anchor does
    extras = {"memo+extra": (np.array([[0.0], [11.0]]), np.array([0.0, -6.0]), np.array([0, 11]))}
    oof = repeated_loco_regression({"memo": (X, lambda seed: Memo()), "memo+extra": (X, lambda seed: Memo())}, s, clusters, extras=extras)
    assert len(oof) == 3 * 12 and sorted(oof[oof["model"] == "memo"]["row"]) == list(range(12))
    mean = oof[oof["model"] == "mean"].set_index("row")["pred"]
    assert mean[0] == pytest.approx(-6.0 * 6 / 8)  # training mean of the other two clusters
    D = np.abs(np.subtract.outer(X[:, 0], X[:, 0]))
    knn = ElmdKNNRegressor(D, k=1).fit(np.arange(6).reshape(-1, 1), s[:6])
    assert knn.predict(np.array([[7]])) == pytest.approx(0.0)
    sc = score_regression(oof).set_index("model")
    assert sc.loc["memo", "pooled_mae"] == pytest.approx(3.0)  # predicts 0: exact on the six zeros, 6 off on the rest


def test_one_bootstrap_interval_serves_selection_and_ledger_evidence():
    """The ledger's evidence intervals and the selection intervals are one function (metrics as an argument);
    both give exactly the intervals they gave as two copies (values recorded from the copies, same fixed input)."""
    from sicnb.classify.selection import bootstrap_interval
    from sicnb.ledger.consensus import _metrics

    rng = np.random.default_rng(7)
    y = (rng.random(40) < 0.3).astype(int)
    P = [rng.random(40), rng.random(40)]
    assert bootstrap_interval(y, P, "auc_pr", 50) == (0.3637751932621069, 0.6972714101040757)
    assert bootstrap_interval(y, P, "mcc", 50) == (-0.05949715876688315, 0.407807353814378)
    assert bootstrap_interval(y, P, "auc_pr", 50, metrics=_metrics) == (0.3637751932621069, 0.6972714101040757)
    assert bootstrap_interval(y, P, "roc_auc", 50, metrics=_metrics) == (0.47671545206711446, 0.724257662835249)


def test_elmd_knn_classifier_and_regressor_share_the_neighbour_average():
    D = np.abs(np.subtract.outer(np.arange(6.0), np.arange(6.0)))
    X, y = np.array([[0], [1], [4]]), np.array([1.0, 0.0, 1.0])
    p = ElmdKNN(D, k=2).fit(X, y).predict_proba(np.array([[2], [5]]))[:, 1]
    from sicnb.classify.selection import ElmdKNNRegressor

    r = ElmdKNNRegressor(D, k=2).fit(X, y).predict(np.array([[2], [5]]))
    assert np.array_equal(p, r)
    w = 1 / (np.array([1.0, 2.0]) + 1e-3)  # row 2: neighbours 1 (d=1, y=0) and 0 or 4 (d=2, y=1)
    assert p[0] == pytest.approx(w[1] / w.sum())
