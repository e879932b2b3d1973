"""W_σ with the frozen-state strategy (thesis App. A.1), Ward depth cuts, control, candidates, unions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sicnb.cluster import (
    cluster_assignments, filter_candidates, frozen_ward_variance, random_control, select_candidates, union_table,
    w_sigma_curve, ward_tree,
)
from sicnb.errors import InputError, ParameterError

# Four labelled leaves a, b, c, d with log10 σ = 0, 2, 4, 10 on a line at x = 0, 1, 3, 100:
# Ward merges {a,b}, then {a,b,c}, then everything.
Y = np.array([0.0, 2.0, 4.0, 10.0])
X_LINE = np.array([[0.0], [1.0], [3.0], [100.0]])


def test_frozen_state_matches_hand_computation():
    # depth 2: {a,b,c},{d}; depth 3: {a,b},{c},{d}; depth 4: all alone
    A = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 2], [1, 2, 3]])
    W = frozen_ward_variance(A, Y)
    # depth 1 PV = (y-4)^2 = 16,4,0,36.  depth 2: a,b,c around 2 -> 4,0,4; d alone keeps 36 -> 44
    # depth 3: a,b around 1 -> 1,1; c alone keeps 4; d keeps 36 -> 42.  depth 4: all frozen -> 42
    np.testing.assert_allclose(W, [44.0, 42.0, 42.0])


def test_without_freezing_the_score_would_collapse():
    A = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 2], [1, 2, 3]])
    W = frozen_ward_variance(A, Y)
    naive_depth4 = 0.0  # every cluster holds one label
    assert W[-1] > naive_depth4 + 40


def test_label_alone_among_unlabelled_members_keeps_previous_partial_variance():
    # label c sits in a cluster with unlabelled structures only: still "the only label" -> frozen
    tree = ward_tree(np.array([[0.0], [1.0], [3.0], [3.1], [3.2], [100.0]]), ids=list("abcuvd"), standardize=False)
    A = cluster_assignments(tree, range(2, 7))
    labels = pd.Series({"a": 0.0, "b": 2.0, "c": 4.0, "d": 10.0})
    curve = w_sigma_curve(A, labels, n_control=0)
    assert curve.loc[curve.depth == 2, "W_sigma"].item() == pytest.approx(44.0)
    assert curve.loc[curve.depth == 3, "W_sigma"].item() == pytest.approx(42.0)
    assert curve["W_sigma"].iloc[-1] == pytest.approx(42.0)


def test_ward_depth_cuts_follow_the_hierarchy_and_match_scipy():
    from scipy.cluster.hierarchy import cut_tree

    tree = ward_tree(X_LINE, ids=list("abcd"), standardize=False)
    A = cluster_assignments(tree, range(2, 5))
    assert A.loc["a", 2] == A.loc["b", 2] == A.loc["c", 2] != A.loc["d", 2]
    assert A.loc["a", 3] == A.loc["b", 3] != A.loc["c", 3]
    pts = np.random.default_rng(3).normal(size=(80, 3))
    t2 = ward_tree(pts)
    ours = cluster_assignments(t2, range(2, 31))
    ref = cut_tree(t2.Z, n_clusters=list(range(2, 31)))
    for j, d in enumerate(range(2, 31)):
        pairs = set(zip(ours[d].to_numpy(), ref[:, j]))
        assert len(pairs) == d == ours[d].nunique()


def test_control_is_worse_than_a_clustering_that_sorts_the_labels():
    rng = np.random.default_rng(0)
    y = np.repeat([-8.0, -5.0, -2.0], 20) + rng.normal(0, 0.1, 60)
    pts = np.repeat([[0.0], [10.0], [20.0]], 20, axis=0) + rng.normal(0, 0.5, (60, 1))
    tree = ward_tree(pts, ids=[f"s{i}" for i in range(60)], standardize=False)
    A = cluster_assignments(tree, range(2, 30))
    labels = pd.Series(y, index=tree.ids)
    curve = w_sigma_curve(A, labels, n_control=20, seed=1)
    assert (curve["W_sigma"] < curve["W_sigma_control_mean"]).all()
    assert curve.loc[curve.depth == 3, "ratio_to_control"].item() < 0.05
    m1, _ = random_control(A, labels, n_draws=5, seed=7)
    m2, _ = random_control(A, labels, n_draws=5, seed=7)
    np.testing.assert_array_equal(m1, m2)
    mu, _ = random_control(A, labels, n_draws=5, mode="uniform", seed=7)
    assert np.isfinite(mu).all()


def test_bad_inputs_raise_named_errors():
    with pytest.raises(ParameterError):
        frozen_ward_variance(np.zeros((3, 2), dtype=int), np.zeros(4))
    tree = ward_tree(X_LINE, ids=list("abcd"), standardize=False)
    A = cluster_assignments(tree, [2, 4])
    with pytest.raises(ParameterError, match="consecutive"):
        w_sigma_curve(A, pd.Series({"a": 1.0, "b": 2.0}), n_control=0)
    with pytest.raises(InputError):
        w_sigma_curve(cluster_assignments(tree, range(2, 5)), pd.Series({"a": 1.0, "zz": 2.0}), n_control=0)


def test_candidates_take_hot_clusters_and_their_nearest_neighbour():
    pts = np.array([[0.0], [0.2], [0.4], [5.0], [5.2], [50.0], [50.3]])
    ids = ["hi", "u1", "u2", "lo", "u3", "far1", "far2"]
    tree = ward_tree(pts, ids=ids, standardize=False)
    A = cluster_assignments(tree, range(2, 4))
    labels = pd.Series({"hi": -3.0, "lo": -9.0})
    cand = select_candidates(tree, A, labels, depth=3)
    assert set(cand.index) == {"hi", "u1", "u2", "lo", "u3"}
    assert set(cand.loc[["u1", "u2"], "relation"]) == {"contains high-σ label"}
    assert cand.loc["u3", "relation"].startswith("adjacent to cluster")
    ranked = filter_candidates(cand, band_gap_eV=pd.Series({"u1": 2.0, "u2": 0.5}),
                               bvse_Ea_eV=pd.Series({"u1": 0.3, "u2": 0.2, "u3": 0.9}))
    assert list(ranked.index[ranked["passes"]]) == ["u1"]
    assert "hi" not in ranked.index  # labelled structures are not candidates
    assert ranked.loc["u3", "filter_notes"] == "no E_hull; no E_g"


def test_union_alpha_zero_reduces_to_first_descriptor_and_large_alpha_to_the_second():
    rng = np.random.default_rng(2)
    ids = [f"s{i}" for i in range(12)]
    a = pd.DataFrame(rng.normal(size=(12, 3)), index=ids).assign(error="")
    b = pd.DataFrame(rng.normal(size=(12, 2)), index=ids).assign(error="")
    u0 = union_table(a, b, 0.0)
    assert np.allclose(u0.filter(like="B:").to_numpy(), 0.0)
    big = union_table(a, b, 1e6)
    assert np.abs(big.filter(like="B:").to_numpy()).max() > 1e5


def test_paper_combinations_restrict_and_no_rescaled_compositions():
    from sicnb.cluster import paper_combinations

    combos = {c.label for c in paper_combinations(["band_center", "ofm", "ewald"], restrict={"ofm": ["none", "CAN"]})}
    assert combos == {"band_center-none", "band_center-CAMN", "band_center-CAN", "band_center-AM", "band_center-A",
                      "ofm-none", "ofm-CAN", "ewald-none"}


def test_labelled_subpool_keeps_every_label_and_draws_unlabelled_reproducibly(embedded_small):
    from sicnb.cluster.screening import labelled_subpool
    from sicnb.data import Dataset

    pool = Dataset(embedded_small)
    labels = pd.Series({embedded_small[1].id: -3.0, embedded_small[6].id: -7.0})
    a = labelled_subpool(pool, labels, 3, seed=1)
    b = labelled_subpool(pool, labels, 3, seed=1)
    ids = [r.id for r in a]
    assert len(ids) == 5 and set(labels.index) <= set(ids) and ids == [r.id for r in b]
    assert ids == [r.id for r in embedded_small if r.id in set(ids)]  # pool order kept
    assert len(list(labelled_subpool(pool, labels, 100))) == len(embedded_small)


def test_ward_tree_uses_the_descriptor_as_computed_unless_asked_to_standardize():
    # "big" separates {a,b} from {c,d} by 100 units, "small" separates {a,c} from {b,d} by 1 unit; the error row is dropped
    table = pd.DataFrame({"big": [0.0, 0.0, 100.0, 100.0, 0.0], "small": [0.0, 1.0, 0.0, 1.0, 0.5],
                          "error": ["", "", "", "", "StructureError: no anion"]}, index=list("abcde"))
    raw = ward_tree(table)
    assert raw.ids == list("abcd") and list(raw.dropped.index) == ["e"]
    A = cluster_assignments(raw, [2])[2]
    assert A["a"] == A["b"] != A["c"] == A["d"]
    np.testing.assert_allclose(raw.X[:, 0], [0, 0, 100, 100])  # not rescaled
    std = ward_tree(table, standardize=True)
    np.testing.assert_allclose(std.X.std(axis=0), 1.0)

