"""Notebook 04's whole-study steps on small real inputs (issue 18: compare_features, sendek_cv and
heldout_evaluation had no test)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from sicnb.classify.ensemble import featurize
from sicnb.classify.validation import kfold_splits
from sicnb.classify.workflow import compare_features, heldout_evaluation, sendek_cv
from sicnb.data import Dataset, Record

TINY = {"hidden": (8,), "dense": (8,), "set2set_steps": 1, "epochs": 3, "batch_size": 8}


@pytest.fixture(scope="module")
def pool(embedded_small) -> Dataset:
    from sicnb.data import embedded

    recs = [r for r in embedded() if r.structure.is_ordered and len(r.structure) <= 12][:16]
    return Dataset(recs, name="workflow pool")


def test_heldout_evaluation_scores_exactly_the_held_out_ids(pool):
    fs = featurize(pool, level=0, representation="CAMN", cache_dir=False, progress=False)
    ids = fs.ids
    y = np.array([i % 2 for i in range(len(ids))])
    log10_sigma = np.linspace(-9.0, -2.0, len(ids))
    df, metrics = heldout_evaluation(fs.X(ids), y, log10_sigma, ids, test_fraction=0.25, n_models=1, configs=[TINY])
    assert metrics["n_test"] == 4 and metrics["n_train"] == len(ids) - 4 and metrics["positive_fraction_test"] == 0.5
    assert set(df.index) <= set(ids) and len(df) == 4
    by_id = dict(zip(ids, zip(y, log10_sigma)))
    for rid, row in df.iterrows():  # each held-out row carries its own label and σ
        assert row["y"] == by_id[rid][0] and row["log10_sigma"] == pytest.approx(by_id[rid][1])
    assert df["p_si"].between(0, 1).all() and {"auc_pr", "mcc"} <= set(metrics)


def test_sendek_cv_learns_a_label_that_one_of_its_features_defines(pool):
    from sicnb.classify.sendek import sendek_features
    from sicnb.parallel import pmap

    feats = pmap(sendek_features, pool, {}, cache_dir=False, progress=False)
    ok = feats[feats["error"] == ""]
    assert len(ok) >= 10
    y = (ok["LLB"] > ok["LLB"].median()).astype(int)  # a label the Sendek features carry by construction
    recs = Dataset([pool[i] for i in ok.index], name="sendek")
    cv = sendek_cv(recs, y, kfold_splits(len(y), n_splits=3, random_state=0), C=10.0, cache_dir=False)
    assert list(cv["features"].unique()) == ["Sendek"] and cv.attrs["n_failed"] == 0
    assert cv["n_val"].sum() == len(y)
    assert cv["auc_pr"].mean() > 0.8


def test_compare_features_drops_what_cannot_be_featurised_and_adds_controls(pool):
    bad = Record("bad:Og", Structure(Lattice.cubic(4.0), ["Li", "Og"], [[0, 0, 0], [0.5, 0.5, 0.5]]))
    recs = Dataset(list(pool)[:11] + [bad], name="with a bad one")
    y = pd.Series([i % 2 for i in range(12)], index=recs.ids)
    table = compare_features(recs, y, kfold_splits(12, n_splits=3, random_state=0), levels=(0,), representations=("CAN", "CAMN"),
                             model_params=TINY)
    assert set(table["features"]) == {"CAN-V0", "CAMN-V0"} and (table["n_dropped"] == 1).all()
    assert set(table["model"]) == {"AtomSets", "shuffled", "mean"}
    for _, g in table[table["model"] == "AtomSets"].groupby("features"):
        assert g["n_val"].sum() == 11  # every featurised structure validated once, the bad one nowhere
