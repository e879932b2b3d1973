"""The ``full`` classifier (issue 17): every open label deduplicated by reduced composition, shipped as a composition model."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sicnb.classify.full import (FULL_MODEL_WARNING, TrainingOverlapWarning, deduplicate_labels, parse_reported_composition,
                                 predict_compositions)
from sicnb.classify.tabular import TabularModel, labels_sha256
from sicnb.errors import ParameterError


def _full_model() -> TabularModel:
    from sicnb.classify import load_model

    with pytest.warns(TrainingOverlapWarning, match="never use it for benchmark claims"):
        return load_model("full")


def test_dedup_rule_on_a_hand_made_table_with_conflicts():
    m = pd.DataFrame([
        # A: LASKOWSKI repeats OBELiX's value (same measurement, dropped); the two left disagree -> tie -> OBELiX's value
        ("ob:1", "obelix:train", "LiA", -3.0), ("la:1", "laskowski2023", "LiA", -3.004), ("lv:1", "liverpool_ionics", "LiA", -5.0),
        # B: three different measurements on both sides of -4 -> median, flagged as a conflict
        ("la:2", "laskowski2023", "LiB", -6.0), ("lv:2", "liverpool_ionics", "LiB", -5.0), ("lv:3", "liverpool_ionics", "LiB", -2.0),
        # C: a tie between two Liverpool values only -> median of the priority source's values (both Liverpool)
        ("lv:4", "liverpool_ionics", "LiC", -3.5), ("lv:5", "liverpool_ionics", "LiC", -4.7),
        ("lv:6", "liverpool_ionics", "LiD", -2.5),
    ], columns=["id", "source", "reduced_composition", "log10_sigma"])
    t = deduplicate_labels(m)
    assert list(t.index) == ["LiA", "LiB", "LiC", "LiD"]
    a, b, c, d = (t.loc[k] for k in t.index)
    assert (a["log10_sigma"], a["y"], a["rule"], a["n_measurements"], a["n_repeats_dropped"]) == (-3.0, 1, "tie -> obelix:train", 2, 1)
    assert a["conflict"] and a["primary_source"] == "obelix:train" and a["ids"] == "ob:1;lv:1"
    assert a["sources"] == "obelix:train;liverpool_ionics"
    assert (b["log10_sigma"], b["y"], b["rule"], b["conflict"]) == (-5.0, 0, "median", True)
    assert c["rule"] == "tie -> liverpool_ionics" and c["log10_sigma"] == pytest.approx(-4.1) and c["y"] == 0
    assert (d["log10_sigma"], d["y"], d["conflict"], d["n_measurements"]) == (-2.5, 1, False, 1)
    with pytest.raises(ParameterError, match="priority"):
        deduplicate_labels(m.assign(source="somewhere"))


def test_reported_compositions_including_glass_notation():
    assert parse_reported_composition("0.75Li2S-0.25P2S5") == parse_reported_composition('"(Li2S)0.75 (P2S5)0.25"') == "Li1.5P0.5S2"
    assert parse_reported_composition("Li10GeP2S12") == "Li10Ge(PS6)2"
    assert parse_reported_composition("Li7La3Zr2O12-0.4Ga") == "Li7La3Zr2Ga0.4O12"
    assert parse_reported_composition("Li3PS4 – 2 wt% SiO2") == ""  # a composite, not a composition
    assert parse_reported_composition("Lio.1Zr1.1Nb0.9P3O12") == ""  # typo: no label rather than a wrong one


def test_shipped_full_model_card_and_predictions(tmp_path):
    model = _full_model()
    card = model.card_
    assert card["model"] == "full" and card["warning"] == FULL_MODEL_WARNING
    assert card["data"] == ["obelix:train", "laskowski2023", "liverpool_ionics"]
    entries = card["training_entries"]
    assert len(entries) == card["n_train"] == model.n_train_ == card["dedup"]["n_compositions"]
    assert card["labels_sha256"] == labels_sha256(entries)
    assert {e["reduced_composition"] for e in entries} == model.training_formulas()
    assert all(e["sources"].split(";")[0] == e["source"] for e in entries)
    assert card["dedup"]["n_measurements"] > card["n_train"] > 1000
    assert "validation" in card and "command" in card
    # a known superionic conductor above the threshold, two poor conductors below
    out = predict_compositions(["Li10GeP2S12", "Li7P3S11", "LiF", "Li2O", "Li3Zz", "Li9Ge2PS12Cl"], model=model)
    assert out.loc["Li10GeP2S12", "p_si"] >= 0.5 and out.loc["Li7P3S11", "p_si"] >= 0.5  # σ ≈ 1e-2 S/cm (Kamaya 2011)
    assert out.loc["LiF", "p_si"] < 0.5 and out.loc["Li2O", "p_si"] < 0.5  # σ < 1e-8 S/cm
    assert out.loc["Li10GeP2S12", "log10_sigma_pred"] > out.loc["LiF", "log10_sigma_pred"] + 3
    assert bool(out.loc["Li10GeP2S12", "in_training"]) and not bool(out.loc["Li9Ge2PS12Cl", "in_training"])
    assert out.loc["Li3Zz", "error"] == "unparsable composition" and np.isnan(out.loc["Li3Zz", "p_si"])
    # card and predictions round-trip through a model folder
    model.save(tmp_path / "m")
    again = TabularModel.load(tmp_path / "m")
    assert again.card_ == card
    back = predict_compositions(["Li10GeP2S12", "LiF"], model=again)
    pd.testing.assert_frame_equal(back, out.loc[["Li10GeP2S12", "LiF"]], check_dtype=False)


def test_cli_predict_full_warns_once(tmp_path, li2o, capsys):
    from sicnb.cli import main

    li2o.to(filename=str(tmp_path / "Li2O.cif"))
    out = tmp_path / "preds.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingOverlapWarning)  # the CLI says it on stderr, not twice
        assert main(["classify", "predict", "--model", "full", "--input", str(tmp_path / "Li2O.cif"), "--out", str(out),
                     "--cache-dir", "none"]) == 0
    err = capsys.readouterr().err
    assert err.count(FULL_MODEL_WARNING) == 1 and "\n" not in FULL_MODEL_WARNING
    df = pd.read_csv(out)
    assert df.loc[0, "formula"] == "Li2O" and df.loc[0, "p_si"] < 0.5 and bool(df.loc[0, "in_training"]) is False


def test_censored_cells_count_only_when_the_bound_fixes_the_label():
    from sicnb.classify.full import _censored_value
    from sicnb.data.labels import _censoring

    assert _censoring("<1E-10") == ("upper", -10.0) and _censoring(">1e-2") == ("lower", -2.0)
    assert _censoring("1.2E\u22124")[0] == "" and _censoring("3e-5")[0] == ""
    assert _censored_value(-10.0, "upper", -4.0) == -10.0  # certainly not superionic
    assert np.isnan(_censored_value(10.0, "upper", -4.0))  # "<1E10" (a typo) fixes nothing
    assert np.isnan(_censored_value(-6.0, "lower", -4.0)) and _censored_value(-2.0, "lower", -4.0) == -2.0
