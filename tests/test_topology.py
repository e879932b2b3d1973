"""Tests of sicnb.topology: hand-checkable barcodes and descriptors, invariance, screening, rules, CLI, viewer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from sicnb.errors import InputError, ParameterError, StructureError
from sicnb.topology import (
    FEATURE_NAMES, affinity_clusters, betti_at, chemical_rules, cluster_enrichment, funnel, h0_deaths,
    known_conductor_flags, r_connected, rips_barcode, site_clouds, structure_site_topologies, topological_screen,
    topology_features,
)
from sicnb.topology.chemistry import apply_chemical_rules, default_rules

CELL_KEYS = [k for k in FEATURE_NAMES] + ["beta1_at_r_connected", "r_connected_min", "r_connected_max", "lifree_h0_count"]


def cubic(a: float, mobile: str = "Li", framework: str | None = "Cl") -> Structure:
    """Mobile ion at the origin of a cubic cell of edge a (Å); optional framework atom at the body centre."""
    species, coords = [mobile], [[0, 0, 0]]
    if framework:
        species.append(framework)
        coords.append([0.5, 0.5, 0.5])
    return Structure(Lattice.cubic(a), species, coords)


# --- barcodes on hand-checkable point sets ---------------------------------------------------------------

def test_square_and_hexagon_h1_bars():
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    h1 = rips_barcode(square, 5.0, 1).dim(1)
    np.testing.assert_allclose(h1, [[1.0, np.sqrt(2)]], atol=1e-12)
    ang = np.arange(6) * np.pi / 3
    hexagon = np.column_stack([np.cos(ang), np.sin(ang), np.zeros(6)])
    np.testing.assert_allclose(rips_barcode(hexagon, 5.0, 1).dim(1), [[1.0, np.sqrt(3)]], atol=1e-12)
    # H0: five deaths at 1 and one essential bar
    h0 = rips_barcode(hexagon, 5.0, 1).dim(0)
    assert np.isinf(h0[:, 1]).sum() == 1 and np.allclose(np.sort(h0[np.isfinite(h0[:, 1]), 1]), 1.0)


def test_octahedron_h2_and_threshold_truncation():
    octa = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
    h2 = rips_barcode(octa, 5.0, 2).dim(2)
    np.testing.assert_allclose(h2, [[np.sqrt(2), 2.0]], atol=1e-12)
    # truncated below the antipodal distance 2: the void never dies
    assert np.isinf(rips_barcode(octa, 1.9, 2).dim(2)[0, 1])


def test_fast_backend_equals_uncollapsed_simplex_tree(lifepo4):
    """Ripser (default), Ripser + edge collapse and SimplexTree + edge collapse all give the diagrams of the
    uncollapsed gudhi SimplexTree, value for value (same double-precision filtration)."""
    c = site_clouds(lifepo4, [i for i, s in enumerate(lifepo4) if s.specie.symbol == "Li"][0], 7.0)
    ref = rips_barcode(c.framework_points, 7.0, 1, collapse=False, backend="simplex_tree")
    assert len(ref.dim(1)) > 10
    for kw in ({}, {"collapse": True}, {"collapse": True, "backend": "simplex_tree"}):
        bc = rips_barcode(c.framework_points, 7.0, 1, **kw)
        for k in (0, 1):
            np.testing.assert_array_equal(bc.dim(k), ref.dim(k), err_msg=str(kw))
    with pytest.raises(ParameterError):
        rips_barcode(c.framework_points, 7.0, 1, backend="dionysus")


def test_structure_clouds_match_brute_force_images(lifepo4):
    """One neighbour search for all sites gives, per site, exactly the atoms of the periodic crystal within R,
    found here by brute force over an explicit supercell, split into Li-only and Li-free."""
    from sicnb.topology import structure_clouds

    R = 6.0
    li = [i for i, s in enumerate(lifepo4) if s.specie.symbol == "Li"]
    clouds = structure_clouds(lifepo4, li, R)
    g = np.arange(-3, 4)
    shifts = np.array([(a, b, c) for a in g for b in g for c in g], float)
    is_li = np.array([s.specie.symbol == "Li" for s in lifepo4])
    for i, c in zip(li, clouds):
        cart = (lifepo4.frac_coords[None, :, :] + shifts[:, None, :]) @ lifepo4.lattice.matrix - lifepo4[i].coords
        d = np.linalg.norm(cart, axis=2)
        inside = (d <= R + 1e-6) & (d > 1e-8)
        want_li = np.vstack([np.zeros((1, 3)), cart[inside & is_li[None, :]]])
        want_fw = cart[inside & ~is_li[None, :]]
        key = lambda p: p[np.lexsort(np.round(p, 6).T[::-1])]  # noqa: E731
        np.testing.assert_allclose(key(c.mobile_points), key(want_li), atol=1e-9)
        np.testing.assert_allclose(key(c.framework_points), key(want_fw), atol=1e-9)
        one = site_clouds(lifepo4, i, R)
        np.testing.assert_array_equal(one.framework_points, c.framework_points)
        assert one.framework_species == c.framework_species and set(c.framework_species) == {"Fe", "P", "O"}


def test_h0_deaths_is_rips_h0(lifepo4):
    c = site_clouds(lifepo4, 0, 10.0)
    deaths, n_comp = h0_deaths(c.mobile_points, 10.0)
    h0 = rips_barcode(c.mobile_points, 10.0, 0).dim(0)
    assert n_comp == 1 and np.isinf(h0[:, 1]).sum() == 1
    np.testing.assert_allclose(np.sort(h0[np.isfinite(h0[:, 1]), 1]), deaths, atol=1e-12)


# --- r_connected and rho_cycles on crystals derived by hand -------------------------------------------------

@pytest.mark.parametrize("a", [2.5, 3.0, 4.2])
def test_simple_cubic_r_connected_equals_spacing(a):
    assert r_connected(cubic(a), radius_angstrom=10.0) == pytest.approx(a, abs=1e-9)


def test_disconnected_sphere_gives_radius():
    # spacing 6 Å with R = 5 Å: the sphere holds only the central ion → r_connected = R
    assert r_connected(cubic(6.0), radius_angstrom=5.0) == pytest.approx(5.0)


def test_li2o_r_connected_is_half_the_cubic_edge():
    a = 4.61  # ideal antifluorite Li2O: Li on 8c forms a simple cubic lattice of edge a/2
    res = topology_features(ideal_li2o())
    assert res["r_connected"] == pytest.approx(a / 2, abs=1e-6)  # Li forms a simple cubic lattice of edge a/2
    # O–O = a/√2 > a/2: no framework edge at d = r_connected, hence no cycle
    assert res["beta1_at_r_connected"] == 0 and res["rho_cycles_lifree_sphere"] == 0
    assert res["rho_cycles"] == 0  # primitive cell: 2 Li sites, no cycle among them


def test_rho_cycles_on_cubic_framework_matches_graph_count():
    """Framework = simple cubic Cl lattice (edge a) around Li; at d = a the Rips complex is the cubic grid
    graph inside the sphere (no triangle: diagonals are a√2 > d), so β1 = E − V + 1 (Euler)."""
    a, R = 3.0, 10.0
    s = cubic(a)
    # count grid points of the Cl lattice within R of the Li at the origin, and their nearest-neighbour pairs
    g = np.arange(-5, 6)
    pts = np.array([(x + 0.5, y + 0.5, z + 0.5) for x in g for y in g for z in g]) * a
    pts = pts[np.linalg.norm(pts, axis=1) <= R]
    dm = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    edges = int(np.count_nonzero(np.isclose(np.triu(dm, 1), a)))
    beta1 = edges - len(pts) + 1
    res = topology_features(s, radius_angstrom=R)
    assert res["r_connected"] == pytest.approx(a)
    assert res["beta1_at_r_connected"] == beta1
    assert res["rho_cycles_lifree_sphere"] == pytest.approx(beta1 / 1)  # one Li site per cell
    assert beta1 > 0


def test_mobile_ion_parameter_sodium():
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert r_connected(nacl, mobile_ion="Na") == pytest.approx(5.64 / np.sqrt(2), abs=1e-9)
    with pytest.raises(StructureError):
        topology_features(nacl, mobile_ion="Li")


def test_bad_parameters_raise():
    with pytest.raises(ParameterError):
        topology_features(cubic(3.0), radius_angstrom=-1)
    with pytest.raises(ParameterError):
        topology_features(cubic(3.0), mobile_ion="Xx")
    with pytest.raises(StructureError):
        site_clouds(cubic(3.0), 1)  # the Cl site


def ideal_li2o() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]]).get_primitive_structure()


def test_features_cell_choice_invariant(lifepo4):
    """Primitive vs conventional vs supercell: every site-averaged quantity agrees within 1e-6 Å."""
    for s in (ideal_li2o(), lifepo4):
        cells = {"given": s}
        for name, m in {"other_cell": [[-1, 1, 1], [1, -1, 1], [1, 1, -1]], "supercell": [2, 1, 1]}.items():
            c = s.copy()
            c.make_supercell(m)
            cells[name] = c
        ref = topology_features(cells["given"])
        for name, c in cells.items():
            res = topology_features(c)
            for k in CELL_KEYS:
                assert res[k] == pytest.approx(ref[k], abs=1e-6), (s.composition.reduced_formula, name, k)
        # rho_cycles_lifree_sphere divides by the number of Li sites of the given cell (eq. 2), so it scales with the cell
        res = topology_features(cells["supercell"])
        assert res["rho_cycles_lifree_sphere"] * res["n_mobile_sites"] == pytest.approx(
            ref["rho_cycles_lifree_sphere"] * ref["n_mobile_sites"], abs=1e-9)
    conv = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    assert topology_features(conv)["r_connected"] == pytest.approx(topology_features(ideal_li2o())["r_connected"], abs=1e-6)


def test_descriptor_suite(descriptor_suite, lifepo4, lgps):
    descriptor_suite(topology_features, ideal_li2o(), {"radius_angstrom": 8.0}, keys=CELL_KEYS + ["rho_cycles_lifree_sphere"], atol=1e-6)
    # pymatgen's bundled LiFePO4 and LGPS are symmetric only to ~1e-4 Å (symprec 0.01 groups their sites), so
    # the representative site of a class, which depends on site order, moves values by that much
    for s in (lifepo4, lgps):
        descriptor_suite(topology_features, s, {"radius_angstrom": 8.0}, keys=CELL_KEYS + ["rho_cycles_lifree_sphere"], rtol=1e-4, atol=1e-3)


def test_workers_suite(workers_suite, embedded_small):
    workers_suite(topology_features, [r.structure for r in embedded_small[:4]], {"radius_angstrom": 6.0}, keys=CELL_KEYS + ["rho_cycles_lifree_sphere"])


def test_feature_names_and_values(lifepo4):
    res = topology_features(lifepo4)
    assert len(FEATURE_NAMES) == 22 and len(set(FEATURE_NAMES)) == 22
    assert all(np.isfinite(res[k]) for k in FEATURE_NAMES)
    assert 0.1 < res["lifree_h0_death_min"] <= res["lifree_h0_death_median"] <= res["lifree_h0_death_max"] <= 10.0
    # every H1 bar is born before it dies, so (per site, hence site-averaged) min birth ≤ min death,
    # max birth ≤ max death and max persistence ≤ max death − min birth; LiFePO4's Li-free cloud has cycles
    assert 0.0 < res["lifree_h1_birth_min"] < res["lifree_h1_death_min"]
    assert res["lifree_h1_birth_max"] < res["lifree_h1_death_max"] <= 10.0
    assert 0.0 < res["lifree_h1_persistence_max"] <= res["lifree_h1_death_max"] - res["lifree_h1_birth_min"] + 1e-12
    # the site average of the raw barcodes, computed here from the bars themselves
    sites = structure_site_topologies(lifepo4, 10.0, "Li", 0.01, None)
    w = np.array([s.multiplicity for s in sites], dtype=float)
    bars = [np.asarray(s.lifree_h1, dtype=float).reshape(-1, 2) for s in sites]
    assert all(len(b) for b in bars)
    assert res["lifree_h1_birth_min"] == pytest.approx(np.average([b[:, 0].min() for b in bars], weights=w))
    assert res["lifree_h1_death_max"] == pytest.approx(np.average([min(b[:, 1].max(), 10.0) for b in bars], weights=w))


# --- table-level steps ---------------------------------------------------------------------------------------

def _table():
    return pd.DataFrame(
        {"r_connected": [3.0, 4.99, 5.0, 2.0], "rho_cycles": [0.1, 0.5, 0.1, 0.6], "error": ["", "", "", ""]},
        index=pd.Index(list("abcd"), name="id"),
    )


def test_topological_screen_thresholds_are_parameters():
    t = topological_screen(_table())
    assert t["pass_topology"].tolist() == [True, True, False, False]
    t = topological_screen(_table(), r_connected_max_angstrom=6.0, rho_cycles_max=0.7)
    assert t["pass_topology"].all()
    with pytest.raises(InputError):
        topological_screen(pd.DataFrame({"x": [1]}))


def test_affinity_clusters_and_enrichment():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.1, (10, 22)), rng.normal(5, 0.1, (10, 22))])
    t = pd.DataFrame(X, columns=list(FEATURE_NAMES), index=[f"s{i}" for i in range(20)])
    cl = affinity_clusters(t)
    assert cl.iloc[:10].nunique() == 1 and cl.iloc[10:].nunique() == 1 and cl.iloc[0] != cl.iloc[10]
    known = pd.Series([True] * 3 + [False] * 17, index=t.index)
    enr = cluster_enrichment(cl, known)
    assert enr["size"].sum() == 20 and enr["n_known"].sum() == 3
    assert enr.loc[enr["cluster"] == cl.iloc[0], "enrichment"].iloc[0] == pytest.approx((3 / 10) / (3 / 20))
    f = funnel({"all": t.index, "clustered with known": cl[cl == cl.iloc[0]].index})
    assert f["n"].tolist() == [20, 10]


def test_known_conductor_flags_prefers_measured_labels():
    formulas = pd.Series(["Li10GeP2S12", "Li2O", "Li3PS4"], index=["x", "y", "z"])
    lit = known_conductor_flags(formulas)
    assert lit.tolist() == [True, False, True]
    meas = known_conductor_flags(formulas, pd.Series([-2.0, -3.5, -7.0], index=formulas.index))
    assert meas.tolist() == [True, True, False]


# --- chemical rules ---------------------------------------------------------------------------------------------

def test_chemical_rules_name_why(li2o, lifepo4, lgps):
    r = chemical_rules(li2o)
    assert r["rule_min_elements"] is False and "min_elements" in r["chem_reasons"] and r["pass_chemistry"] is False
    r = chemical_rules(lifepo4)
    assert r["rule_no_transition_metals"] is False and "Fe" in r["chem_reasons"]
    assert r["rule_min_elements"] and r["rule_common_oxidation_states"]
    li3po4 = Structure(Lattice.cubic(5.0), ["Li", "Li", "Li", "P", "O", "O", "O", "O"],
                       [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0.25, 0.25, 0.25], [0.4, 0.4, 0.1], [0.1, 0.4, 0.4], [0.4, 0.1, 0.4], [0.1, 0.1, 0.1]])
    assert "Li-P-O system" in chemical_rules(li3po4)["chem_reasons"]
    li3ps4 = li3po4.copy()
    li3ps4.replace_species({"O": "S"})
    assert "Li-P-S system" in chemical_rules(li3ps4)["chem_reasons"]
    mixed = Structure(Lattice.cubic(4.0), [{"Li": 0.5, "Mg": 0.5}, "Cl", "Br"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]])
    assert chemical_rules(mixed)["rule_no_shared_mobile_sites"] is False
    alloy = Structure(Lattice.cubic(4.0), ["Li", "Mg", "Al"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]])
    assert chemical_rules(alloy)["rule_no_alloys"] is False
    assert chemical_rules(lgps, rules=["max_atoms"]) == {"rule_max_atoms": True, "pass_chemistry": True, "chem_reasons": ""}
    with pytest.raises(ParameterError):
        chemical_rules(lgps, rules=["no_such_rule"])


def test_apply_chemical_rules_reports_first_rule(li2o, lifepo4):
    t = apply_chemical_rules({"li2o": li2o, "lfp": lifepo4}, default_rules())
    assert t.loc["li2o", "removed_by"] == "min_elements"
    assert t.loc["lfp", "removed_by"] == "no_transition_metals"


# --- CLI and viewer ---------------------------------------------------------------------------------------------

def test_cli_topology(tmp_path, li2o, lifepo4):
    from sicnb.cli import main

    d = tmp_path / "in"
    d.mkdir()
    li2o.to(filename=str(d / "li2o.cif"))
    lifepo4.to(filename=str(d / "lfp.cif"))
    out = tmp_path / "f.csv"
    assert main(["topology", "--input", str(d), "--out", str(out), "--radius", "8", "--cache-dir", "none"]) == 0
    t = pd.read_csv(out)
    assert len(t) == 2 and {"id", "formula", "n_mobile_sites", "r_connected", "rho_cycles", "pass_r_connected",
                            "pass_rho_cycles", "rule_no_transition_metals", "seconds"} <= set(t.columns)
    assert set(FEATURE_NAMES) <= set(t.columns)


def test_barcode_figure(li2o):
    from sicnb.viz.barcode import barcode_figure

    c = site_clouds(li2o, [i for i, x in enumerate(li2o) if x.specie.symbol == "Li"][0], 6.0)
    bc = rips_barcode(c.framework_points, 6.0, 1)
    fig = barcode_figure(c.framework_points, bc.intervals, d=3.3, r_connected=2.33)
    assert "β0 = " in fig.layout.title.text and "β1 = " in fig.layout.title.text
    assert len(fig.data) == 4  # H0 bars, H1 bars, edges, atoms
    assert betti_at(bc.dim(0), 0.0) == len(c.framework_points)
