"""The ledger on real structures: join, absent/failed methods, labels, report card, figures, CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import pymatgen_structure
from sicnb.data import Dataset, Record
from sicnb.errors import ParameterError, SicnbError
from sicnb.ledger import MethodAdapter, agreement, build_ledger, known_conductor_labels, method_names, register_method
from sicnb.ledger.core import _REGISTRY
from sicnb.ledger.methods import leave_one_out_cluster_scores


@pytest.fixture(scope="module")
def pool(embedded_small) -> Dataset:
    recs = [Record(f"pymatgen:{n}", pymatgen_structure(n)) for n in ("Li10GeP2S12", "Li2O", "LiFePO4")]
    return Dataset(recs + list(embedded_small[:6]), name="test pool")


@pytest.fixture(scope="module")
def labels(pool) -> pd.DataFrame:
    return known_conductor_labels(pool, reference=None)


def _fail(dataset, params, run):
    raise SicnbError("model file missing on purpose")


def _never(dataset, params, run):
    raise AssertionError("an absent method must not be computed")


@pytest.fixture
def absent_method():
    ad = register_method(MethodAdapter(name="not_installed", title="not installed", score="x", direction=-1, compute=_never,
                                       requires=("sicnb.no_such_module:score",)), replace=True)
    yield ad
    _REGISTRY.pop("not_installed", None)


@pytest.fixture
def failing_method():
    ad = register_method(MethodAdapter(name="always_fails", title="fails", score="x", direction=1, compute=_fail), replace=True)
    yield ad
    _REGISTRY.pop("always_fails", None)


def test_labels_mark_lgps_from_the_literature_table(labels):
    assert bool(labels.loc["pymatgen:Li10GeP2S12", "superionic"]) is True
    assert labels.loc["pymatgen:Li10GeP2S12", "label_source"] == "known_conductors"
    assert labels.loc["pymatgen:Li10GeP2S12", "label_ref"] == "10.1038/nmat3066"
    assert labels.loc["pymatgen:Li2O", "label_source"] == ""
    assert pd.isna(labels.loc["pymatgen:Li2O", "superionic"])


def test_labels_prefer_reference_table_median_and_respect_censoring(pool):
    ref = pd.DataFrame({"composition": ["Li2O", "Li2O", "Li2O", "LiFePO4"], "log10_sigma": [-9.0, -3.0, -8.0, -3.0],
                        "sigma_censored": ["", "", "", "upper"], "ref_id": ["a", "b", "c", "d"]})
    lab = known_conductor_labels(pool, reference=ref)
    assert lab.loc["pymatgen:Li2O", "log10_sigma"] == -8.0 and bool(lab.loc["pymatgen:Li2O", "superionic"]) is False
    assert lab.loc["pymatgen:Li2O", "label_ref"] == "a;b;c"
    # "σ < 1e-3" says nothing about the 1e-4 threshold
    assert pd.isna(lab.loc["pymatgen:LiFePO4", "superionic"])


def test_leave_one_out_cluster_scores_by_hand():
    clusters = pd.Series([1, 1, 1, 2, 2], index=list("abcde"))
    sigma = pd.Series({"a": -3.0, "b": -7.0, "d": -4.0})
    out = leave_one_out_cluster_scores(clusters, sigma, high_log10_sigma=-5.0)
    assert out.loc["a", "loo_cluster_log10_sigma"] == -7.0  # its own label never counts
    assert out.loc["c", "loo_cluster_log10_sigma"] == -5.0  # mean of a and b
    assert bool(out.loc["b", "pass_cluster"]) and not bool(out.loc["a", "pass_cluster"])
    assert np.isnan(out.loc["d", "loo_cluster_log10_sigma"]) and out.loc["e", "loo_cluster_log10_sigma"] == -4.0


def test_build_ledger_joins_methods_and_keeps_absent_and_failed_ones(pool, labels, tmp_path, failing_method):
    given = pd.DataFrame({"id": pool.ids[:5], "e_hull_ev_per_atom": [0.0, 0.05, 0.01, np.nan, 0.2],
                          "error": ["", "", "", "ValueError: no hull", ""]})
    ledger = build_ledger(pool, methods=["topology", "htvs", "pes", "always_fails"], tables={"htvs": given}, labels=labels,
                          params={"pes": {"top": 0}}, cache_dir=tmp_path / "cache", progress=False, consensus="equal")
    t = ledger.table
    assert list(t.index) == pool.ids
    status = ledger.methods.set_index("name")["status"].to_dict()
    assert status == {"topology": "present", "htvs": "present", "pes": "present", "always_fails": "failed"}
    assert t["always_fails.error"].str.startswith("MethodFailed: SicnbError: model file missing").all()
    # PES cascade with an empty shortlist and an empty cache: nothing scanned, every row says why
    assert t["pes.error"].str.startswith("NotScored: outside the PES cascade shortlist").all()
    assert t["pes.pes_selection"].eq("outside shortlist").all()
    # topology: real r_connected in Å, pass flags and provenance carried
    assert t["topology.score"].notna().all() and (t["topology.score"] > 0).all()
    assert t["topology.method"].str.startswith("sicnb.topology.features.topology_features").all()
    assert json.loads(t["topology.params"].iloc[0])["radius_angstrom"] == 10.0
    assert set(t["topology.pass_topology"].unique()) <= {True, False}
    # htvs from a given table: rows not in it and error rows have no score
    assert t.loc[pool.ids[3], "htvs.error"] == "ValueError: no hull" and np.isnan(t.loc[pool.ids[3], "htvs.score"])
    assert t.loc[pool.ids[6], "htvs.error"] == "not in the method's table"
    # oriented scores: lower E_hull is better → the E_hull = 0 structure has the top htvs percentile
    assert t.loc[pool.ids[0], "htvs.percentile"] == 1.0
    assert set(ledger.present) == {"topology", "htvs"}
    # consensus = mean percentile with a missing method counted as 0.5
    row = t.loc[pool.ids[6]]
    assert row["consensus"] == pytest.approx((row["topology.percentile"] + 0.5) / 2)
    assert row["consensus_n_methods"] == 1
    assert t["consensus_rank"].min() == 1


def test_absent_method_is_explicit_and_agreement_runs(pool, labels, tmp_path, absent_method):
    ledger = build_ledger(pool, methods=["topology", "not_installed"], labels=labels, cache_dir=tmp_path / "c", progress=False)
    m = ledger.methods.set_index("name")
    assert m.loc["not_installed", "status"] == "absent" and "sicnb.no_such_module cannot be imported" in m.loc["not_installed", "reason"]
    assert ledger.table["not_installed.error"].str.startswith("MethodAbsent").all()
    res = agreement(ledger, ks=(1, 3), n_boot=50)
    assert res.n_known == 1 and res.n_pool == len(pool)
    assert set(res.enrichment["method"]) == {"topology", "consensus"}
    assert len(res.verdicts) == 2 and res.verdicts[0].best_method == "topology"
    # with one method the consensus is that method's ranking: no difference
    assert res.verdicts[0].diff == pytest.approx(0.0)


def test_build_ledger_rejects_unknown_names(pool, labels):
    with pytest.raises(ParameterError, match="unknown ledger method"):
        build_ledger(pool, methods=["nope"], labels=labels, progress=False)
    with pytest.raises(ParameterError, match="unknown method"):
        build_ledger(pool, methods=["topology"], params={"topologgy": {}}, labels=labels, progress=False)
    assert method_names()[:6] == ["topology", "cluster", "pes", "classify", "bvse", "htvs"]


def test_report_card_html_and_figures(pool, labels, tmp_path, absent_method):
    from sicnb.ledger.report import report_card
    from sicnb.viz.ledger import (agreement_heatmap, consensus_difference_figure, enrichment_figure, method_coverage_figure,
                                  save_report_card, topk_overlap_figure)

    ledger = build_ledger(pool, methods=["topology", "not_installed"], labels=labels, cache_dir=tmp_path / "c", progress=False)
    card = report_card(ledger, pool, "pymatgen:Li2O")
    assert card.formula == "Li2O" and card.headline["r_connected (Å)"] == pytest.approx(ledger.table.loc["pymatgen:Li2O", "topology.score"])
    assert card.barcode is not None and card.barcode["intervals"][0].shape[1] == 2
    assert any("no PES energy grid in the cache" in n for n in card.notes)  # empty cache: said so, nothing scanned
    assert card.level_map is None
    path = save_report_card(card, tmp_path / "card.html", include_plotlyjs="cdn")
    text = path.read_text()
    assert "pymatgen:Li2O" in text and "MethodAbsent" in text and "r_connected (Å)" in text
    with pytest.raises(ParameterError, match="not in the ledger"):
        report_card(ledger, pool, "missing-id")
    res = agreement(ledger, ks=(1, 3), n_boot=30)
    cov = method_coverage_figure(ledger.methods, len(pool))
    assert list(cov.data[0].y) == list(ledger.methods["n_scored"])
    assert ledger.methods.set_index("name").loc["topology", "n_scored"] == len(pool)
    assert ledger.methods.set_index("name").loc["not_installed", "n_scored"] == 0
    over = topk_overlap_figure(res.overlap)
    assert len(over.data) == 2  # one heatmap per k
    for trace in over.data:
        z = np.asarray(trace.z, dtype=float)
        assert z.shape == (len(trace.x), len(trace.y)) and np.allclose(np.diag(z), 1.0)  # a list overlaps itself fully
    enr = enrichment_figure(res.enrichment)
    for trace in enr.data:
        sub = res.enrichment[res.enrichment["method"] == trace.name].sort_values("k")
        np.testing.assert_allclose(np.asarray(trace.y, dtype=float), sub["ef"].to_numpy(dtype=float))
    assert {t.name for t in enr.data} == set(res.enrichment["method"])
    diff = consensus_difference_figure(res.paired)
    assert sum(len(t.x) for t in diff.data) == len(res.paired)
    assert sorted(float(v) for t in diff.data for v in t.x) == pytest.approx(sorted(res.paired["diff"].astype(float)), nan_ok=True)
    ledger2 = build_ledger(pool, methods=["topology", "htvs"], labels=labels, cache_dir=tmp_path / "c", progress=False,
                           tables={"htvs": pd.DataFrame({"e_hull_ev_per_atom": np.arange(len(pool), dtype=float)}, index=pool.ids)})
    heat = agreement_heatmap(agreement(ledger2, ks=(1,), n_boot=10).correlations)
    assert heat.data[0].z.shape == (2, 2)


def test_cli_writes_ledger_and_method_table(pool, tmp_path, monkeypatch):
    from sicnb.cli import main

    monkeypatch.delenv("SICNB_DATA_DIR", raising=False)  # labels from the literature table only (no OBELiX load)
    folder = tmp_path / "cifs"
    folder.mkdir()
    for rec in list(pool)[:4]:
        rec.structure.to(filename=str(folder / f"{rec.id.split(':')[-1]}.cif"))
    out = tmp_path / "out" / "ledger.csv"
    rc = main(["ledger", "--input", str(folder), "--out", str(out), "--method", "topology", "--method", "pes", "--pes-top", "0",
               "--cache-dir", str(tmp_path / "c"), "--n-boot", "20"])
    assert rc == 0
    table = pd.read_csv(out)
    assert len(table) == 4 and {"id", "topology.score", "consensus", "pes.error", "pes.pes_selection"} <= set(table.columns)
    assert table["pes.error"].str.startswith("NotScored").all()
    methods = pd.read_csv(tmp_path / "out" / "ledger.methods.csv").set_index("id")
    assert methods.loc["pes", "n_scored"] == 0 and methods.loc["pes", "coverage"] == "cascade shortlist"
    assert not bool(methods.loc["pes", "in_consensus"]) and bool(methods.loc["topology", "in_consensus"])
    assert main(["ledger", "--input", str(folder), "--out", str(out), "--method", "pes", "--pes-top", "-1",
                 "--cache-dir", str(tmp_path / "c")]) == 2


# --- PES cascade -------------------------------------------------------------------------------------

def test_pes_shortlist_takes_the_top_by_consensus_skips_large_cells_and_breaks_ties_by_id(pool):
    from sicnb.ledger.methods import pes_shortlist

    ids = pool.ids
    big = "pymatgen:Li10GeP2S12"  # 50 sites
    cons = pd.Series(np.linspace(0.1, 0.9, len(ids)), index=ids)
    cons[big] = 1.0                       # best, but too large for max_atoms=30
    cons[ids[1]] = cons[ids[2]] = 0.95    # a tie for second place
    cons[ids[-1]] = np.nan
    short = pes_shortlist(cons, pool, top=2, max_atoms=30)
    assert short.loc[big, "selection"] == "too large" and short.loc[big, "cascade_rank"] == 1
    tied = sorted([ids[1], ids[2]])
    assert short.loc[tied[0], "selection"] == "shortlist" and short.loc[tied[1], "selection"] == "shortlist"
    assert short["selection"].eq("shortlist").sum() == 2
    assert short.loc[ids[-1], "selection"] == "no consensus"
    assert short.loc[ids[3], "selection"] == "outside shortlist"
    # without the size cap the large cell is first on the list
    assert pes_shortlist(cons, pool, top=1).loc[big, "selection"] == "shortlist"
    with pytest.raises(ParameterError):
        pes_shortlist(cons, pool, top=-1)


@pytest.fixture(scope="module")
def cascade(pool, labels, tmp_path_factory):
    """A ledger where a given whole-pool score puts Li2O first: the PES cascade (top 1) scans only Li2O (with the
    default potential, M3GNet-MP-2021.2.8, which needs the local matgl models)."""
    from conftest import MATGL_MODELS

    if MATGL_MODELS is None:
        pytest.skip("the PES cascade's default potential needs local matgl models (set SICNB_MATGL_MODELS)")
    cache = tmp_path_factory.mktemp("cascade-cache")
    e_hull = pd.Series(np.linspace(0.01, 0.2, len(pool)), index=pool.ids)
    e_hull["pymatgen:Li10GeP2S12"] = 0.0   # first, but 50 sites > max_atoms
    e_hull["pymatgen:Li2O"] = 0.001        # second → the shortlist of one
    ledger = build_ledger(pool, methods=["pes", "htvs"], tables={"htvs": e_hull.rename("e_hull_ev_per_atom").to_frame()},
                          params={"pes": {"top": 1, "max_atoms": 12, "step": 0.5}}, labels=labels, cache_dir=cache, progress=False,
                          consensus="equal")
    return ledger, cache


def test_pes_cascade_scans_only_the_shortlist_and_stays_out_of_the_consensus(cascade, pool):
    ledger, _ = cascade
    t = ledger.table
    assert list(ledger.methods["name"]) == ["htvs", "pes"]  # the cascade runs after the whole-pool methods
    scored = t.index[t["pes.score"].notna()].tolist()
    assert scored == ["pymatgen:Li2O"] and t.loc["pymatgen:Li2O", "pes.pes_selection"] == "shortlist"
    assert 0.0 < t.loc["pymatgen:Li2O", "pes.MPE"] < 5.0
    assert t.loc["pymatgen:Li10GeP2S12", "pes.error"].startswith("NotScored: cheap-consensus rank 1") and "max_atoms=12" in t.loc[
        "pymatgen:Li10GeP2S12", "pes.error"]
    others = t.drop(index=["pymatgen:Li2O", "pymatgen:Li10GeP2S12"])
    assert others["pes.error"].str.startswith("NotScored: outside the PES cascade shortlist").all()
    assert ledger.consensus_methods == ["htvs"] and ledger.cascade_methods == ["pes"]
    # the consensus is the htvs percentile alone: PES never votes in the ranking that chose its own shortlist
    assert np.allclose(t["consensus"], t["htvs.percentile"])
    assert "pes" in ledger.consensus_settings["left_out"]
    res = agreement(ledger, ks=(1, 3), n_boot=30)
    assert set(res.enrichment["method"]) == {"htvs", "consensus"}  # PES is not compared with whole-pool methods
    assert res.subset_notes and res.subset_notes[0].startswith("pes: 1 structure(s) scored")


def test_pes_cascade_reuses_the_cache_and_notebook_03_spelling(cascade, pool, labels):
    from sicnb.parallel import pmap
    from sicnb.pes import pes_descriptors

    ledger, cache = cascade
    # a structure scanned elsewhere (notebook 03's parameter spelling) is picked up without being on the shortlist
    lic = [r for r in pool if r.id == pool.ids[3]]
    pmap(pes_descriptors, lic, {"potential": "m3gnet", "step": 0.5}, cache_dir=cache, progress=False)
    again = build_ledger(pool, methods=["pes", "htvs"], tables={"htvs": pd.DataFrame({"e_hull_ev_per_atom": ledger.table["htvs.score"]})},
                         params={"pes": {"top": 1, "max_atoms": 12, "step": 0.5, "cache_only": True}}, labels=labels, cache_dir=cache,
                         progress=False)
    t = again.table
    assert set(t.index[t["pes.score"].notna()]) == {"pymatgen:Li2O", pool.ids[3]}
    assert t.loc[pool.ids[3], "pes.pes_selection"] == "cache"
    assert t.loc["pymatgen:Li2O", "pes.score"] == pytest.approx(ledger.table.loc["pymatgen:Li2O", "pes.score"])


def test_report_card_level_map_from_a_scan(cascade, pool, tmp_path):
    from sicnb.ledger.levelgrid import decode_grid, encode_grid
    from sicnb.ledger.report import report_card
    from sicnb.viz.ledger import report_card_figures, report_card_html

    ledger, cache = cascade
    grid = np.array([[[0.0, 0.25], [np.inf, 1.5]], [[2.0, np.inf], [0.125, 3.0]]])
    assert np.array_equal(decode_grid(encode_grid(grid), grid.shape), grid.astype(np.float16).astype(np.float32))
    card = report_card(ledger, pool, "pymatgen:Li2O", barcode=False, level_map="compute",
                       pes_params={"potential": "chgnet", "step": 0.5}, cache_dir=cache)
    lm = card.level_map
    assert lm is not None and lm["field"].ndim == 3 and all(n % 2 == 1 for n in lm["field"].shape)  # 2x2x2 supercell
    assert lm["structure"].composition.reduced_formula == "Li2O" and lm["threshold_ev"] == 0.5
    assert np.nanmin(lm["field"]) == pytest.approx(0.0, abs=1e-3) and np.isinf(lm["field"]).any()  # R_min exclusion kept
    figs = report_card_figures(card)
    mesh = [tr for f in figs for tr in f.data if tr.type == "mesh3d"]
    assert len(mesh) == 1 and len(mesh[0].x) > 0
    assert "level map LM = 0.5 eV" in report_card_html(card, include_plotlyjs=False)
    # a second card reads the grid from the cache; a structure never scanned says so instead of scanning
    assert report_card(ledger, pool, "pymatgen:Li2O", barcode=False, cache_dir=cache,
                       pes_params={"potential": "chgnet", "step": 0.5}).level_map is not None
    none = report_card(ledger, pool, pool.ids[4], barcode=False, cache_dir=cache, pes_params={"potential": "chgnet", "step": 0.5})
    assert none.level_map is None and any("no PES energy grid" in n for n in none.notes)
    with pytest.raises(ParameterError, match="level_map"):
        report_card(ledger, pool, "pymatgen:Li2O", level_map="always")
