"""The 22 MTL clustering features in the authors' layout (barcode2feature.py), checked on barcodes computed by hand."""
from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sicnb.errors import ParameterError
from sicnb.topology import (
    MTL_FEATURE_NAMES, MTL_LI_ONLY_FEATURE_NAMES, TopologicalFeaturizer, barcode_statistics, mtl_feature_names,
    topology_features,
)

S2 = np.sqrt(2.0)


def test_feature_layout_is_the_authors_order():
    # statistic_vp: [count, min, max, mean, std, sum, median]; statistic_feature: birth, death, length x [min, max, mean, std, sum]
    assert MTL_FEATURE_NAMES[:7] == tuple(f"lifree_h0_death_{s}" for s in ("count", "min", "max", "mean", "std", "sum", "median"))
    assert MTL_FEATURE_NAMES[7:12] == tuple(f"lifree_h1_birth_{s}" for s in ("min", "max", "mean", "std", "sum"))
    assert MTL_FEATURE_NAMES[12] == "lifree_h1_death_min" and MTL_FEATURE_NAMES[-1] == "lifree_h1_length_sum"
    assert len(MTL_FEATURE_NAMES) == 22 == len(set(MTL_FEATURE_NAMES))
    assert MTL_LI_ONLY_FEATURE_NAMES == tuple(n.replace("lifree", "lionly") for n in MTL_FEATURE_NAMES)
    with pytest.raises(ParameterError):
        mtl_feature_names("anion")


def test_barcode_statistics_by_hand():
    """H0 window 0.1 < d <= cutoff; H1 values clipped to the cutoff, length from the clipped birth and death."""
    h0 = [0.05, 0.1, 0.2, 10.0, 10.5]  # only 0.2 and 10.0 are kept
    h1 = [[2.0, np.inf], [1.0, 3.0], [11.0, 12.0]]  # clipped: births 2, 1, 10; deaths 10, 3, 10; lengths 8, 2, 0
    v = barcode_statistics(h0, h1, cutoff_angstrom=10.0)
    np.testing.assert_allclose(v[:7], [2, 0.2, 10.0, 5.1, 4.9, 10.2, 5.1])
    np.testing.assert_allclose(v[7:12], [1, 10, 13 / 3, np.std([2, 1, 10]), 13])
    np.testing.assert_allclose(v[12:17], [3, 10, 23 / 3, np.std([10, 3, 10]), 23])
    np.testing.assert_allclose(v[17:22], [0, 8, 10 / 3, np.std([8, 2, 0]), 10])
    # no bars at all: zeros, as the authors' code
    np.testing.assert_array_equal(barcode_statistics([], np.zeros((0, 2))), np.zeros(22))


def test_li_sublattice_and_framework_barcodes_by_hand():
    """Simple cubic Li (a = 3 Å) with Cl at the body centre, sphere R = 4.5 Å around the Li.

    Li-only cloud: the centre, 6 neighbours at 3 Å and 12 at 3√2 Å. At d = 3 the Rips complex is a graph with
    V = 19, E = 6 + 24 = 30 and no triangle (every other distance is ≥ 3√2), so β1 = 30 − 19 + 1 = 12 squares;
    at d = 3√2 the centre joins every point (a cone), so all 12 die: twelve H1 bars [3, 3√2]; the 18 H0 deaths
    are all 3. Li-free cloud: the 8 Cl at the cube corners (edge 3): β1 = 12 − 8 + 1 = 5 at d = 3, and at 3√2 the
    1-skeleton is K8 minus the 4 space diagonals, whose clique complex is a 3-sphere: five bars [3, 3√2].
    So r_connected = 3 and rho_cycles_lifree_sphere = β1(Li-free, d = 3) / 1 Li site = 5; the cell holds one Li
    site, so the authors' rho_cycles (Li sites of the cell) is 0."""
    s = Structure(Lattice.cubic(3.0), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    res = topology_features(s, radius_angstrom=4.5, li_only_features=True)
    L = 3 * S2 - 3
    want_li = [18, 3, 3, 3, 0, 54, 3] + [3, 3, 3, 0, 36] + [3 * S2, 3 * S2, 3 * S2, 0, 36 * S2] + [L, L, L, 0, 12 * L]
    want_fw = [7, 3, 3, 3, 0, 21, 3] + [3, 3, 3, 0, 15] + [3 * S2, 3 * S2, 3 * S2, 0, 15 * S2] + [L, L, L, 0, 5 * L]
    np.testing.assert_allclose([res[k] for k in MTL_LI_ONLY_FEATURE_NAMES], want_li, atol=1e-9)
    np.testing.assert_allclose([res[k] for k in MTL_FEATURE_NAMES], want_fw, atol=1e-9)
    assert res["r_connected"] == pytest.approx(3.0)
    assert res["beta1_at_r_connected"] == 5 and res["rho_cycles_lifree_sphere"] == pytest.approx(5.0)
    assert res["rho_cycles"] == 0 and res["beta1_li_cell_at_r_connected"] == 0


def test_mtl_features_cell_choice_invariant(lifepo4):
    """Averages over every Li site of the cell: a supercell gives the same 22 + 22 values; the H0 count is the
    older ``lifree_h0_count`` column (two code paths, one quantity)."""
    a = topology_features(lifepo4, radius_angstrom=6.0, li_only_features=True)
    b = topology_features(lifepo4 * (2, 1, 1), radius_angstrom=6.0, li_only_features=True)
    for k in MTL_FEATURE_NAMES + MTL_LI_ONLY_FEATURE_NAMES:
        assert b[k] == pytest.approx(a[k], rel=1e-9, abs=1e-9), k
    assert a["lifree_h0_death_count"] == pytest.approx(a["lifree_h0_count"]) and a["lifree_h0_death_count"] > 10
    assert a["lionly_h1_death_max"] <= 6.0 and a["lifree_h1_length_sum"] > 0
    assert "lionly_h0_death_count" not in topology_features(lifepo4, radius_angstrom=6.0)  # Li-only only on request


def test_featurizer_mtl_feature_set(lifepo4):
    X = TopologicalFeaturizer(radius_angstrom=6.0, feature_set="mtl").fit_transform([lifepo4])
    assert X.shape == (1, 22) and np.isfinite(X).all()
    assert list(TopologicalFeaturizer(feature_set="mtl").fit([lifepo4]).get_feature_names_out()) == list(MTL_FEATURE_NAMES)


def test_topological_screen_rho_lower_bound():
    """The authors' list after the rho filter keeps 0 < rho < 0.6; rho_cycles_min=0 reproduces that rule."""
    import pandas as pd

    from sicnb.topology import topological_screen

    t = pd.DataFrame({"r_connected": [3.0, 3.0, 3.0, 6.0], "rho_cycles": [0.0, 0.3, 0.6, 0.3], "error": ""}, index=list("abcd"))
    assert topological_screen(t)["pass_topology"].tolist() == [True, True, False, False]
    assert topological_screen(t, rho_cycles_min=0.0)["pass_topology"].tolist() == [False, True, False, False]


def test_rho_cycles_authors_reading_on_li2o_by_hand():
    """Authors' rho_cycles: β1 of the Li sites of the given cell (no images) at d = r_connected, over n.

    Antifluorite Li2O, conventional cell (a = 4.61 Å): the 8 Li on 8c sit at {1/4, 3/4}^3, a cube of edge a/2;
    the Li sublattice is simple cubic of edge a/2, so r_connected = a/2. At d = a/2 the cube is a graph with
    V = 8, E = 12 and no triangle (face diagonal a/√2 > d): β1 = 5, rho_cycles = 5/8. The primitive cell holds
    2 Li: β1 = 0. Like the authors' values, the number depends on the cell."""
    from sicnb.topology import cell_mobile_beta1

    a = 4.61
    conv = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["O", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    res = topology_features(conv)
    assert res["n_mobile_sites"] == 8 and res["r_connected"] == pytest.approx(a / 2, abs=1e-9)
    assert res["beta1_li_cell_at_r_connected"] == 5 and res["rho_cycles"] == pytest.approx(5 / 8)
    assert cell_mobile_beta1(conv, a / 2 - 0.01) == 0  # below the cube edge: 8 isolated points
    assert cell_mobile_beta1(conv, a / np.sqrt(2) + 0.01) == 0  # faces filled: the cube's surface has no 1-cycle
    assert topology_features(conv.get_primitive_structure())["rho_cycles"] == 0
