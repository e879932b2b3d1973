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
                          cache_dir=tmp_path / "cache", progress=False)
    t = ledger.table
    assert list(t.index) == pool.ids
    status = ledger.methods.set_index("name")["status"].to_dict()
    assert status == {"topology": "present", "htvs": "present", "pes": "present", "always_fails": "failed"}
    assert t["always_fails.error"].str.startswith("MethodFailed: SicnbError: model file missing").all()
    assert t["pes.error"].str.startswith("NotCached").all()  # read from the (empty) cache only, never computed here
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


def test_absent_method_is_explicit_and_agreement_runs(pool, labels, tmp_path):
    ledger = build_ledger(pool, methods=["topology", "htvs"], labels=labels, cache_dir=tmp_path / "c", progress=False)
    m = ledger.methods.set_index("name")
    assert m.loc["htvs", "status"] == "absent" and "no per-structure function" in m.loc["htvs", "reason"]
    assert ledger.table["htvs.error"].str.startswith("MethodAbsent").all()
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


def test_report_card_html_and_figures(pool, labels, tmp_path):
    from sicnb.ledger.report import report_card
    from sicnb.viz.ledger import (agreement_heatmap, consensus_difference_figure, enrichment_figure, method_coverage_figure,
                                  save_report_card, topk_overlap_figure)

    ledger = build_ledger(pool, methods=["topology", "htvs"], labels=labels, cache_dir=tmp_path / "c", progress=False)
    card = report_card(ledger, pool, "pymatgen:Li2O")
    assert card.formula == "Li2O" and card.headline["r_connected (Å)"] == pytest.approx(ledger.table.loc["pymatgen:Li2O", "topology.score"])
    assert card.barcode is not None and card.barcode["intervals"][0].shape[1] == 2
    assert any("level-map" in n for n in card.notes)
    path = save_report_card(card, tmp_path / "card.html", include_plotlyjs="cdn")
    text = path.read_text()
    assert "pymatgen:Li2O" in text and "MethodAbsent" in text and "r_connected (Å)" in text
    with pytest.raises(ParameterError, match="not in the ledger"):
        report_card(ledger, pool, "missing-id")
    res = agreement(ledger, ks=(1, 3), n_boot=30)
    for fig in (method_coverage_figure(ledger.methods, len(pool)), topk_overlap_figure(res.overlap),
                enrichment_figure(res.enrichment), consensus_difference_figure(res.paired)):
        assert len(fig.data) >= 1
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
    rc = main(["ledger", "--input", str(folder), "--out", str(out), "--method", "topology", "--method", "htvs",
               "--cache-dir", str(tmp_path / "c"), "--n-boot", "20"])
    assert rc == 0
    table = pd.read_csv(out)
    assert len(table) == 4 and {"id", "topology.score", "consensus", "htvs.error"} <= set(table.columns)
    methods = pd.read_csv(tmp_path / "out" / "ledger.methods.csv")
    assert methods.set_index("id").loc["htvs", "status"] == "absent"
