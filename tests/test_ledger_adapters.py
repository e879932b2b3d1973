"""The classify, cluster and BVSE ledger adapters carry their method's own numbers into the ledger (issue 18)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import pymatgen_structure
from sicnb.data import Dataset, Record
from sicnb.ledger import build_ledger, known_conductor_labels
from sicnb.ledger.methods import leave_one_out_cluster_scores


@pytest.fixture(scope="module")
def small_pool(embedded_small) -> Dataset:
    recs = [Record(f"pymatgen:{n}", pymatgen_structure(n)) for n in ("Li10GeP2S12", "Li2O", "LiFePO4")]
    return Dataset(recs + [r for r in embedded_small if len(r.structure) <= 8][:5], name="adapter pool")


def test_classify_adapter_is_predict(small_pool, tmp_path):
    from sicnb.classify import predict

    pool = Dataset([small_pool[i] for i in small_pool.ids[:4]], name="classify pool")
    ledger = build_ledger(pool, methods=["classify"], labels=known_conductor_labels(pool, reference=None), cache_dir=tmp_path, progress=False)
    direct = predict(pool.with_structures(), progress=False)
    t = ledger.table
    np.testing.assert_allclose(t["classify.score"].to_numpy(float), direct.reindex(t.index)["p_si"].to_numpy(float), rtol=1e-6)
    np.testing.assert_allclose(t["classify.p_si_std"].to_numpy(float), direct.reindex(t.index)["p_si_std"].to_numpy(float), rtol=1e-6)
    assert t.loc["pymatgen:Li10GeP2S12", "classify.score"] > 0.5
    assert t.loc["pymatgen:Li10GeP2S12", "classify.percentile"] == pytest.approx(t["classify.percentile"].max())


def test_bvse_adapter_is_bvse_barriers_with_the_06_ev_flag(small_pool, tmp_path):
    from sicnb.bvse import bvse_barriers

    pool = Dataset([small_pool["pymatgen:Li2O"], small_pool["mbdiel-0074"]], name="bvse pool")  # Li2O, NaLiS
    ledger = build_ledger(pool, methods=["bvse"], labels=known_conductor_labels(pool, reference=None), cache_dir=tmp_path, progress=False)
    t = ledger.table
    for rid in pool.ids:
        direct = bvse_barriers(pool[rid].structure)
        assert t.loc[rid, "bvse.score"] == pytest.approx(direct["E_a"], abs=1e-9)
        assert bool(t.loc[rid, "bvse.pass_Ea"]) is bool(direct["E_a"] < 0.6)
    assert t["bvse.pass_Ea"].astype(bool).tolist().count(True) == 1  # one on each side of 0.6 eV (0.29 and 0.86 eV)
    # direction −1: the lower barrier is the more promising one
    low, high = sorted(pool.ids, key=lambda r: t.loc[r, "bvse.score"])
    assert t.loc[low, "bvse.score"] < t.loc[high, "bvse.score"] and t.loc[low, "bvse.percentile"] > t.loc[high, "bvse.percentile"]


def test_cluster_adapter_scores_leave_one_out_means_of_its_own_clusters(small_pool, tmp_path):
    ids = small_pool.ids
    labels = pd.DataFrame({"log10_sigma": [-2.0, -9.0, -7.0, -3.0, np.nan, -6.0, np.nan, -4.0][: len(ids)]}, index=ids)
    labels = labels.join(known_conductor_labels(small_pool, reference=None).drop(columns="log10_sigma"))
    # the adapter caps the depth at max(2, n // 3) = 2 for 8 structures
    params = {"cluster": {"depth": 2, "options": {"r_cut": 3.0, "n_max": 2, "l_max": 2, "average": "outer"}}}
    ledger = build_ledger(small_pool, methods=["cluster"], labels=labels, params=params, cache_dir=tmp_path, progress=False)
    t = ledger.table
    clusters = t["cluster.cluster"].dropna().astype(int)
    assert clusters.nunique() == 2 and (t["cluster.depth"].dropna() == 2).all()
    expected = leave_one_out_cluster_scores(clusters, labels["log10_sigma"], -5.0)
    for rid in clusters.index:  # by hand: mean label of the *other* labelled members of its cluster
        others = [o for o in clusters.index if o != rid and clusters[o] == clusters[rid] and np.isfinite(labels.loc[o, "log10_sigma"])]
        want = np.mean([labels.loc[o, "log10_sigma"] for o in others]) if others else np.nan
        got = t.loc[rid, "cluster.score"]
        assert (np.isnan(want) and np.isnan(got)) or got == pytest.approx(want)
        assert expected.loc[rid, "loo_n_labelled"] == len(others)
