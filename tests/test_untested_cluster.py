"""Cluster features that had no test (issue 18): the Table A.1 SOAP grid and the App. A.3 α-union scan."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sicnb.cluster.screening import Combination, alpha_scan, soap_grid, union_table
from sicnb.cluster.transformers import descriptor_table
from sicnb.cluster.ward import cluster_assignments, w_sigma_curve, ward_tree


def test_soap_grid_is_the_full_product_with_the_given_values():
    grid = soap_grid(r_cut=(2, 4.5), n_max=(2, 5), l_max=(3,), average=("outer", "inner"), simplification="CAN-40")
    assert len(grid) == 8 and len(set(grid)) == 8
    assert all(c.descriptor == "soap" and c.simplification == "CAN-40" for c in grid)
    opts = {tuple(dict(c.options)[k] for k in ("r_cut", "n_max", "l_max", "average")) for c in grid}
    assert (4.5, 5, 3, "inner") in opts and (2.0, 2, 3, "outer") in opts
    assert all(isinstance(dict(c.options)["n_max"], int) for c in grid)
    assert grid[0] == Combination.make("soap", "CAN-40", r_cut=2.0, n_max=2, l_max=3, average="outer")


@pytest.fixture(scope="module")
def two_tables():
    from sicnb.data import embedded

    pool = embedded()[:12].with_structures()
    a = descriptor_table(pool, "density", "none", {}, "Li", cache_dir=False, progress=False)
    b = descriptor_table(pool, "band_center", "none", {}, "Li", cache_dir=False, progress=False)
    labels = pd.Series([-3.0, -4.0, -9.0, -6.5, -2.5, -8.0, -5.0], index=pool.ids[:7])
    return a, b, labels


def _curve(table, labels, depths):
    return w_sigma_curve(cluster_assignments(ward_tree(table), depths), labels, n_control=0)["W_sigma"].to_numpy()


def test_alpha_scan_limits_are_the_first_order_trees(two_tables):
    a, b, labels = two_tables
    depths = range(2, 9)
    scan = alpha_scan(a, b, labels, alphas=[1e-9, 1e9], depths=depths)
    assert sorted(scan["alpha"].unique()) == [0.0, 1e-9, 1e9]
    w = {al: g.sort_values("depth")["W_sigma"].to_numpy() for al, g in scan.groupby("alpha")}
    u0 = union_table(a, b, 1.0)
    a_only = u0[[c for c in u0.columns if c.startswith("A:")]]
    b_only = u0[[c for c in u0.columns if c.startswith("B:")]]
    np.testing.assert_allclose(w[0.0], _curve(a_only, labels, depths), rtol=1e-9)  # α = 0: d_A alone
    np.testing.assert_allclose(w[1e-9], w[0.0], rtol=1e-9)  # a vanishing α leaves d_A's tree
    np.testing.assert_allclose(w[1e9], _curve(b_only, labels, depths), rtol=1e-9)  # a huge α is d_B's tree
    assert not np.allclose(w[0.0], w[1e9])  # the two descriptors do cluster these structures differently


def test_union_table_scales_b_by_alpha(two_tables):
    a, b, _ = two_tables
    u1, u3 = union_table(a, b, 1.0), union_table(a, b, 3.0)
    bcols = [c for c in u1.columns if c.startswith("B:")]
    np.testing.assert_allclose(u3[bcols].to_numpy(), 3.0 * u1[bcols].to_numpy())
    np.testing.assert_array_equal(u3.drop(columns=bcols).to_numpy(), u1.drop(columns=bcols).to_numpy())
