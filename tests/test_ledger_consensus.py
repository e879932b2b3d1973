"""Out-of-fold inputs, missing scores and the learned-consensus weights (issue 22)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import pymatgen_structure
from sicnb.data import Dataset, Record
from sicnb.errors import ParameterError
from sicnb.ledger.consensus import LearnedConsensus, loco_evidence, roc_auc, stack_features
from sicnb.ledger.oof import ClassifyScorer, ClusterScorer, oof_scores


@pytest.fixture(scope="module")
def pool(embedded_small) -> Dataset:
    recs = [Record(f"pymatgen:{n}", pymatgen_structure(n)) for n in ("Li2O", "LiFePO4")]
    return Dataset(recs + list(embedded_small[:8]), name="oof pool")


class _Recorder:
    """Wraps a scorer and records every training set it was fitted on, per test id."""

    def __init__(self, inner):
        self.inner, self.name, self.direction, self.seen = inner, inner.name, inner.direction, {}

    def score(self, train_ids, test_ids):
        for i in test_ids:
            self.seen.setdefault(i, []).append(set(train_ids))
        return self.inner.score(train_ids, test_ids)


def test_classify_oof_score_never_comes_from_a_model_trained_on_it(pool, tmp_path):
    from sicnb.ledger.core import get_method

    ids = pool.ids
    labels = pd.DataFrame({"y": [1, 0] * (len(ids) // 2), "log10_sigma": [-3.0, -8.0] * (len(ids) // 2)}, index=ids)
    scorer = ClassifyScorer(pool, labels, params={"n_estimators": 20}, cache_dir=tmp_path)
    fits = []
    orig = scorer.fit
    scorer.fit = lambda train: (fits.append(set(train)), orig(train))[1]
    folds = pd.Series([k // 2 for k in range(len(ids))], index=ids)  # 5 folds of 2 structures
    rec = _Recorder(scorer)
    out = oof_scores(rec, folds)
    assert len(fits) == folds.nunique()
    for i in ids:
        (train,) = rec.seen[i]  # scored exactly once, by a model that never saw it or its fold
        assert i not in train and not (set(folds.index[folds.eq(folds[i])]) & train)
    assert out["score"].notna().sum() >= len(ids) - 2 and out.loc[out["score"].isna(), "error"].ne("").all()
    # the held-out scores are what the ledger's classify adapter gives for the same fitted model
    test = list(folds.index[folds.eq(0)])
    model = orig([i for i in ids if i not in test])
    via_adapter = get_method("classify").compute(Dataset([pool[i] for i in test]), {"model": model},
                                                 {"cache_dir": tmp_path, "progress": False})
    np.testing.assert_allclose(out.loc[test, "score"].to_numpy(float), via_adapter.loc[test, "p_si"].to_numpy(float), rtol=1e-9)


def test_cluster_oof_uses_only_the_training_labels_of_its_ward_cluster(pool, tmp_path):
    ids = pool.ids
    sig = pd.Series([-2.0, -9.0, -7.0, -3.0, np.nan, -6.0, -4.0, -5.0, -8.0, -2.5], index=ids)
    labels = pd.DataFrame({"log10_sigma": sig, "y": (sig > -4).astype(int)})
    params = {"depth": 2, "options": {"r_cut": 3.0, "n_max": 2, "l_max": 2, "average": "outer"}}
    sc = ClusterScorer(pool, labels, params=params, cache_dir=tmp_path)
    cl = sc.clusters
    assert cl.nunique() == 2
    folds = pd.Series(np.arange(len(ids)) % 3, index=ids)
    out = oof_scores(sc, folds)
    for i in cl.index:  # by hand: mean label of the labelled members of its cluster that are outside its fold
        mates = [o for o in cl.index if cl[o] == cl[i] and folds[o] != folds[i] and np.isfinite(sig[o])]
        if mates:
            assert out.loc[i, "score"] == pytest.approx(np.mean(sig[mates]))
        else:
            assert np.isnan(out.loc[i, "score"]) and out.loc[i, "error"] == "no labelled training structure in its Ward cluster"


class _Cheat:
    """A 'supervised method' that returns a structure's own label when it was trained on it, else no information."""

    name, direction = "cheat", 1

    def __init__(self, y):
        self.y = y

    def score(self, train_ids, test_ids):
        s = [float(self.y[i]) if i in set(train_ids) else 0.5 for i in test_ids]
        return pd.DataFrame({"score": s, "error": ""}, index=pd.Index(test_ids, name="id"))


def test_nested_loco_evidence_never_fits_anything_on_the_held_out_cluster(monkeypatch):
    rng = np.random.default_rng(0)
    ids = [f"s{i:02d}" for i in range(36)]
    y = pd.Series(([1, 0, 0] * 12), index=ids)
    signal = y + rng.normal(0, 0.4, len(ids))
    unsup = pd.DataFrame({"good": signal.where(np.arange(36) % 5 != 0), "noise": rng.normal(size=36)}, index=ids)
    folds = {s: pd.Series(np.random.default_rng(s).permutation(np.arange(36) % 4), index=ids) for s in (0, 1)}
    stack_fits = []
    orig_fit = LearnedConsensus.fit

    def recording_fit(self, scores, yy):
        stack_fits.append(set(scores.index))
        return orig_fit(self, scores, yy)

    monkeypatch.setattr(LearnedConsensus, "fit", recording_fit)
    cheat = _Recorder(_Cheat(y))
    ev = loco_evidence(unsup, {"cheat": cheat}, y, folds, n_boot=50)
    # every stacker fit excludes one whole held-out cluster, and nothing scored a structure after training on it
    assert len(stack_fits) == 8 and all(len(f) == 27 for f in stack_fits)
    assert all(i not in tr for i, trs in cheat.seen.items() for tr in trs)
    m = ev.metrics.set_index("model")
    assert m.loc["single: cheat", "roc_auc"] == pytest.approx(0.5)  # a leak would make it 1.0
    assert m.loc["single: good", "roc_auc"] > 0.75
    assert ev.oof.groupby(["seed", "model"]).size().eq(36).all()  # every structure predicted once per seed and model
    assert ev.oof["score"].notna().all()
    assert bool(m.loc["single: noise", "no_better_than_chance"]) and not bool(m.loc["single: good", "no_better_than_chance"])
    assert m.loc["learned consensus (logistic)", "roc_auc"] > 0.7


def test_missing_scores_become_neutral_percentiles_with_an_indicator():
    s = pd.DataFrame({"a": [3.0, np.nan, 1.0, 2.0], "b": [np.nan] * 4}, index=list("wxyz"))
    X = stack_features(s, ["a", "b", "absent"])
    assert X.loc["x", "a.percentile"] == 0.5 and X.loc["x", "a.missing"] == 1.0
    assert X.loc["w", "a.percentile"] == pytest.approx(1.0) and X.loc["y", "a.percentile"] == pytest.approx(1 / 3)
    assert (X["b.missing"] == 1).all() and (X["absent.missing"] == 1).all() and (X["absent.percentile"] == 0.5).all()
    model = LearnedConsensus(["a", "b"], coef=[2.0, -1.0, 0.5, 0.0], intercept=-1.0)
    dec = model.decision(s)
    by_hand = 2.0 * 0.5 - 1.0 * 1.0 + 0.5 * 0.5 + 0.0 - 1.0  # x: a missing, b missing
    assert dec.loc["x", "logit"] == pytest.approx(by_hand)
    assert dec["consensus"].between(0, 1).all() and dec["consensus"].notna().all()


def test_learned_weights_round_trip_and_refuse_a_mismatched_file(tmp_path):
    rng = np.random.default_rng(1)
    ids = [f"s{i}" for i in range(40)]
    y = pd.Series(rng.integers(0, 2, 40), index=ids)
    scores = pd.DataFrame({"a": y + rng.normal(0, 0.5, 40), "b": rng.normal(size=40)}, index=ids)
    scores.loc[ids[:7], "b"] = np.nan
    model = LearnedConsensus(["a", "b"], C=0.5).fit(scores, y)
    model.card = {"command": "test"}
    back = LearnedConsensus.load(model.save(tmp_path / "w.json"))
    assert back.coef == model.coef and back.intercept == model.intercept and back.card == {"command": "test"}
    pd.testing.assert_series_equal(back.predict(scores), model.predict(scores))
    assert model.weights().set_index("method").loc["a", "percentile_weight"] > 0
    d = json.loads((tmp_path / "w.json").read_text())
    d["features"] = d["features"][:-1]
    (tmp_path / "bad.json").write_text(json.dumps(d))
    with pytest.raises(ParameterError):
        LearnedConsensus.load(tmp_path / "bad.json")


def test_shipped_weights_load_and_the_ledger_uses_them_on_request(tmp_path):
    from sicnb.ledger import build_ledger
    from sicnb.ledger.consensus import load_learned_consensus, method_evidence

    shipped = load_learned_consensus()
    assert shipped.card["command"].startswith("python bench/bench_ledger.py") and len(shipped.coef) == 2 * len(shipped.methods)
    ev = method_evidence()
    assert {"learned consensus", "equal-weight consensus"} <= set(ev.index) and ev["auc_pr_lo"].le(ev["auc_pr"]).all()
    recs = [Record(f"pymatgen:{n}", pymatgen_structure(n)) for n in ("Li2O", "LiFePO4", "Li10GeP2S12")]
    ds = Dataset(recs, name="three")
    topo = pd.DataFrame({"r_connected": [3.1, np.nan, 2.6], "error": ["", "InputError: no score", ""]}, index=ds.ids)
    htvs = pd.DataFrame({"e_hull_ev_per_atom": [0.0, 0.05, np.nan], "error": ["", "", "StructureError: partial occupancies"]},
                        index=ds.ids)
    from sicnb.ledger import known_conductor_labels

    labels = known_conductor_labels(ds, reference=None)
    tables = {"topology": topo, "htvs": htvs}
    led = build_ledger(ds, methods=["topology", "htvs"], tables=tables, labels=labels, progress=False, cache_dir=tmp_path,
                       consensus="learned")
    t = led.table
    assert t["consensus"].notna().all() and t["consensus"].between(0, 1).all()  # missing scores handled
    assert {"consensus_equal", "consensus_logit", "topology.consensus_contribution"} <= set(t.columns)
    assert "learned" in led.consensus_settings["aggregation"]
    w = shipped.weights().set_index("method").loc["topology"]
    missing_value = 0.5 if shipped.inputs == "percentile" else 0.0  # LiFePO4 has no topology score
    assert t.loc["pymatgen:LiFePO4", "topology.consensus_contribution"] == pytest.approx(
        missing_value * w[f"{shipped.value_feature}_weight"] + w["missing_weight"])
    # the default is the equal-weight consensus (it generalizes at least as well on LOCO: the card's evidence)
    eq = build_ledger(ds, methods=["topology", "htvs"], tables=tables, labels=labels, progress=False, cache_dir=tmp_path)
    np.testing.assert_allclose(eq.table["consensus"], t["consensus_equal"])
    assert "consensus_equal" not in eq.table and "learned" not in eq.consensus_settings["aggregation"]
    # a ledger without any of the learned model's methods falls back to the equal-weight consensus and says so
    only = build_ledger(ds, methods=["htvs"], tables={"htvs": htvs}, labels=labels, progress=False, cache_dir=tmp_path,
                        consensus="learned")
    assert "equal-weight" in only.consensus_settings["aggregation"]
    assert only.table["consensus"].notna().tolist() == [True, True, False]  # nothing scored Li10GeP2S12


def test_roc_auc_is_sklearns():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 60)
    p = np.round(rng.random(60), 1)  # ties
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p))


def test_zscore_inputs_use_training_statistics_and_round_trip(tmp_path):
    ids = [f"s{i}" for i in range(6)]
    y = pd.Series([1, 0, 1, 0, 1, 0], index=ids)
    scores = pd.DataFrame({"a": [3.0, 1.0, 2.5, np.nan, 2.0, 0.0]}, index=ids)
    model = LearnedConsensus(["a"], inputs="zscore").fit(scores, y)
    known = scores["a"].dropna()
    assert model.center["a"] == pytest.approx(known.mean()) and model.scale["a"] == pytest.approx(known.std())
    new = pd.DataFrame({"a": [known.mean() + known.std(), np.nan]}, index=["p", "q"])  # a pool of its own
    dec = model.decision(new)
    assert dec.loc["p", "a.zscore.contribution"] == pytest.approx(model.coef[0])  # z = 1, independent of the pool
    assert dec.loc["q", "a.zscore.contribution"] == 0.0 and dec.loc["q", "a.missing.contribution"] == pytest.approx(model.coef[1])
    back = LearnedConsensus.load(model.save(tmp_path / "z.json"))
    assert back.inputs == "zscore" and back.center == model.center
    pd.testing.assert_series_equal(back.predict(new), model.predict(new))


def test_logit_inputs_pass_a_calibrated_probability_through_and_round_trip(tmp_path):
    """inputs="logit": the classifier's P_SI enters as its log-odds, so a calibrated probability next to a method
    without signal is reproduced (coefficient ≈ 1, the other ≈ 0); the z-score of P_SI cannot do that."""
    rng = np.random.default_rng(7)
    n = 4000
    ids = [f"s{i}" for i in range(n)]
    p = pd.Series(1 / (1 + np.exp(-rng.normal(-0.6, 1.8, n))), index=ids)
    y = pd.Series((rng.random(n) < p).astype(int), index=ids)
    noise = pd.Series(rng.normal(size=n), index=ids).where(rng.random(n) < 0.7)  # no signal, 30 % missing at random
    scores = pd.DataFrame({"classify": p, "noise": noise})
    model = LearnedConsensus(["classify", "noise"], C=1.0, inputs="logit").fit(scores, y)
    assert model.features == ["classify.logit", "classify.missing", "noise.zscore", "noise.missing"]
    c = dict(zip(model.features, model.coef))
    assert c["classify.logit"] == pytest.approx(1.0, abs=0.1) and abs(c["noise.zscore"]) < 0.1
    pred = model.predict(scores)
    dev = float(np.abs(pred - p).mean())
    assert dev < 0.015  # the stacker reproduces the calibrated probability (mean |Δp| 0.007 here)
    z = LearnedConsensus(["classify", "noise"], C=1.0, inputs="zscore").fit(scores, y).predict(scores)
    assert float(np.abs(z - p).mean()) > 2 * dev  # linear in P_SI instead of its log-odds: distorted (0.029 here)
    # the log-odds feature and its missing value, by hand
    lo = np.log(p / (1 - p))
    assert model.center["classify"] == pytest.approx(lo.mean()) and model.scale["classify"] == 1.0
    new = pd.DataFrame({"classify": [0.8, np.nan], "noise": [np.nan, 0.0]}, index=["a", "b"])
    dec = model.decision(new)
    assert dec.loc["a", "classify.logit.contribution"] == pytest.approx(c["classify.logit"] * (np.log(4.0) - lo.mean()))
    assert dec.loc["b", "classify.logit.contribution"] == 0.0 and dec.loc["b", "classify.missing.contribution"] == c["classify.missing"]
    w = model.weights().set_index("method")
    assert w.loc["classify", "value_feature"] == "logit" and w.loc["classify", "value_weight"] == c["classify.logit"]
    back = LearnedConsensus.load(model.save(tmp_path / "l.json"))
    assert back.inputs == "logit" and back.logit_methods == ["classify"] and back.features == model.features
    pd.testing.assert_series_equal(back.predict(new), model.predict(new))
    with pytest.raises(ParameterError):
        LearnedConsensus(["a"], inputs="logits")
    with pytest.raises(ParameterError):  # a score that is not a probability cannot be fed as log-odds
        LearnedConsensus(["classify"], inputs="logit").fit(pd.DataFrame({"classify": [2.0, 0.1, 0.5]}, index=ids[:3]), y[:3])


def test_loco_evidence_reports_further_input_variants_on_the_same_folds():
    rng = np.random.default_rng(2)
    ids = [f"s{i:02d}" for i in range(48)]
    y = pd.Series([1, 0, 0] * 16, index=ids)
    p = (1 / (1 + np.exp(-(2.0 * y - 1 + rng.normal(0, 1.0, 48))))).rename("classify")
    unsup = pd.DataFrame({"classify": p, "noise": rng.normal(size=48)}, index=ids)
    folds = {0: pd.Series(np.arange(48) % 4, index=ids)}
    ev = loco_evidence(unsup, {}, y, folds, n_boot=20, inputs="logit", also_inputs=("logit", "zscore", "percentile"))
    models = set(ev.oof["model"])
    assert {"learned consensus (logistic)", "learned consensus (logistic, zscore inputs)",
            "learned consensus (logistic, percentile inputs)"} <= models
    assert "learned consensus (logistic, logit inputs)" not in models  # the primary variant is not repeated
    assert ev.oof.groupby("model").size().eq(48).all() and ev.oof["score"].notna().all()
    assert ev.settings["inputs"] == "logit"


def test_logit_offset_keeps_the_probability_at_coefficient_one_and_shrinks_the_rest_to_it(tmp_path):
    """inputs="logit_offset": the classifier's log-odds is an offset (coefficient 1, not penalised); with strong L2 the
    other weights vanish and the stacker ranks exactly as the classifier; an informative method still earns weight."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(11)
    n = 600
    ids = [f"s{i}" for i in range(n)]
    x = pd.Series(rng.normal(size=n), index=ids)  # a label-free method with its own signal
    p = pd.Series(1 / (1 + np.exp(-rng.normal(-0.5, 1.5, n))), index=ids)
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-(np.log(p / (1 - p)) + 1.0 * x)))).astype(int), index=ids)
    scores = pd.DataFrame({"classify": p, "x": x, "noise": rng.normal(size=n)}, index=ids)
    strong = LearnedConsensus(["classify", "x", "noise"], C=1e-6, inputs="logit_offset").fit(scores, y)
    c = dict(zip(strong.features, strong.coef))
    assert c["classify.logit"] == 1.0 and max(abs(c["x.zscore"]), abs(c["noise.zscore"])) < 1e-3
    assert spearmanr(strong.predict(scores), p)[0] > 0.9999  # = the classifier's ranking
    free = LearnedConsensus(["classify", "x", "noise"], C=1.0, inputs="logit_offset").fit(scores, y)
    c = dict(zip(free.features, free.coef))
    assert c["classify.logit"] == 1.0 and c["x.zscore"] == pytest.approx(1.0, abs=0.3) and abs(c["noise.zscore"]) < 0.25
    # same objective as sklearn's L2 logistic regression when nothing is an offset (checks the hand-written gradient)
    from sicnb.ledger.consensus import _fit_with_offset

    X = pd.DataFrame({"a": x, "b": scores["noise"]})
    coef, b0 = _fit_with_offset(X, y.to_numpy(), [], C=0.7)
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=0.7, max_iter=5000, tol=1e-10).fit(X.to_numpy(), y.to_numpy())
    assert coef == pytest.approx(list(lr.coef_[0]), abs=1e-3) and b0 == pytest.approx(float(lr.intercept_[0]), abs=1e-3)
    back = LearnedConsensus.load(free.save(tmp_path / "o.json"))
    assert back.inputs == "logit_offset" and back.logit_methods == ["classify"]
    pd.testing.assert_series_equal(back.predict(scores), free.predict(scores))


def test_the_ledger_applies_logit_weights_from_a_file(tmp_path):
    from sicnb.ledger import build_ledger, known_conductor_labels
    from sicnb.viz.ledger import weights_figure

    model = LearnedConsensus(["topology", "htvs", "classify"], coef=[0.3, 0.1, -0.2, 0.4, 1.0, 0.5], intercept=-0.5,
                             inputs="logit_offset", center={"topology": -3.0, "htvs": -0.05, "classify": -0.5},
                             scale={"topology": 1.0, "htvs": 0.1, "classify": 1.0}, card={"command": "test"})
    path = model.save(tmp_path / "w.json")
    recs = [Record(f"pymatgen:{n}", pymatgen_structure(n)) for n in ("Li2O", "LiFePO4", "Li10GeP2S12")]
    ds = Dataset(recs, name="three")
    topo = pd.DataFrame({"r_connected": [3.1, np.nan, 2.6], "error": ["", "InputError: no score", ""]}, index=ds.ids)
    htvs = pd.DataFrame({"e_hull_ev_per_atom": [0.0, 0.05, np.nan], "error": ["", "", "StructureError: partial"]}, index=ds.ids)
    led = build_ledger(ds, methods=["topology", "htvs"], tables={"topology": topo, "htvs": htvs},
                       labels=known_conductor_labels(ds, reference=None), progress=False, cache_dir=tmp_path,
                       consensus="learned", consensus_weights=path)
    t = led.table
    # htvs is oriented (lower E_hull first): Li2O z = (−0.0 − (−0.05)) / 0.1 = 0.5 → 0.5 × −0.2; Li10GeP2S12 missing → 0.4
    assert t.loc["pymatgen:Li2O", "htvs.consensus_contribution"] == pytest.approx(-0.1)
    assert t.loc["pymatgen:Li10GeP2S12", "htvs.consensus_contribution"] == pytest.approx(0.4)
    assert t.loc["pymatgen:LiFePO4", "topology.consensus_contribution"] == pytest.approx(0.1)  # missing weight only
    assert "logit_offset" in led.consensus_settings["aggregation"] and t["consensus"].between(0, 1).all()
    assert weights_figure(model.weights()) is not None


def test_evidence_only_methods_enter_the_every_method_equal_row_only():
    """Methods outside ``methods`` are scored as singles and averaged only in ``equal-weight consensus (every
    method)``, which must equal the ledger's own equal-weight consensus of all of them (mean percentile, 0.5 if missing)."""
    from sicnb.ledger.stats import consensus_scores

    rng = np.random.default_rng(3)
    ids = [f"s{i:02d}" for i in range(40)]
    y = pd.Series([1, 0] * 20, index=ids)
    unsup = pd.DataFrame({"a": y + rng.normal(0, 1, 40), "b": rng.normal(size=40), "c": rng.normal(size=40)}, index=ids)
    unsup.loc[ids[:10], "c"] = np.nan
    folds = {0: pd.Series(np.arange(40) % 4, index=ids)}
    ev = loco_evidence(unsup, {}, y, folds, methods=["a", "b"], n_boot=20, inputs="zscore")
    wide = ev.oof.pivot_table(index="id", columns="model", values="score")
    assert "single: c" in wide and "equal-weight consensus (every method)" in wide
    np.testing.assert_allclose(wide["equal-weight consensus"], consensus_scores(unsup[["a", "b"]])["consensus"].loc[wide.index])
    np.testing.assert_allclose(wide["equal-weight consensus (every method)"], consensus_scores(unsup)["consensus"].loc[wide.index])
    ev2 = loco_evidence(unsup[["a", "b"]], {}, y, folds, n_boot=20, inputs="zscore")
    assert "equal-weight consensus (every method)" not in set(ev2.oof["model"])  # nothing extra: no extra row


def test_evidence_gated_consensus_keeps_what_beats_chance_on_the_training_clusters():
    """Per outer fold, the gate keeps the methods better than chance on the training clusters' labels only (the same
    rule as the evidence table), and the held-out cluster is ranked by their equal-weight mean percentile."""
    from sicnb.ledger.consensus import better_than_chance_methods, gated_consensus_scores
    from sicnb.ledger.stats import consensus_scores

    rng = np.random.default_rng(4)
    ids = [f"s{i:02d}" for i in range(60)]
    y = pd.Series([1, 0, 0] * 20, index=ids)
    unsup = pd.DataFrame({"good": y + rng.normal(0, 0.5, 60), "noise": rng.normal(size=60),
                          "anti": -y + rng.normal(0, 0.5, 60)}, index=ids)
    folds = {0: pd.Series(np.arange(60) % 4, index=ids)}
    ev = loco_evidence(unsup, {}, y, folds, methods=["good", "noise"], n_boot=200, inputs="zscore")
    gates = ev.settings["gated_methods_per_fold"]
    assert [g["methods"] for g in gates] == [["good"]] * 4  # noise and the anti-predictive method stay out
    for g in gates:  # decided on the training clusters alone
        train = folds[0].index[folds[0].ne(g["fold"])]
        assert better_than_chance_methods(unsup, y.loc[train], n_boot=200) == g["methods"]
    wide = ev.oof.pivot_table(index="id", columns="model", values="score")
    np.testing.assert_allclose(wide["learned consensus (evidence-gated equal weights)"],
                               consensus_scores(unsup[["good"]])["consensus"].loc[wide.index])
    # nothing better than chance: the gate falls back to every method
    table, used = gated_consensus_scores(unsup[["noise", "anti"]], [])
    assert used == ["noise", "anti"]
    np.testing.assert_allclose(table["consensus"], consensus_scores(unsup[["noise", "anti"]])["consensus"])

