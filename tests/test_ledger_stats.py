"""Ledger statistics on small tables whose answers can be checked by hand."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from sicnb.errors import ParameterError
from sicnb.ledger.stats import (
    consensus_scores, consensus_verdict, enrichment, expected_hits, paired_enrichment, percentile_ranks,
    rank_correlations, rank_order, top_k, topk_overlap,
)

IDS = ["a", "b", "c", "d", "e"]


def _scores(**cols):
    return pd.DataFrame(cols, index=pd.Index(IDS[: len(next(iter(cols.values())))], name="id"))


def test_percentile_ranks_best_is_one_ties_average_nan_kept():
    s = _scores(m=[3.0, 1.0, 2.0, np.nan], t=[1.0, 1.0, 2.0, 0.0])
    pr = percentile_ranks(s)
    assert pr["m"].tolist()[:3] == [1.0, 1 / 3, 2 / 3]
    assert math.isnan(pr.loc["d", "m"])
    # t: 0 → rank 1, two ties at 1 → rank 2.5, 2 → rank 4; divided by 4
    assert pr["t"].tolist() == [2.5 / 4, 2.5 / 4, 1.0, 0.25]


def test_consensus_mean_percentile_with_explicit_missing_rule():
    s = _scores(m=[3.0, 2.0, 1.0], n=[1.0, 2.0, np.nan])
    neutral = consensus_scores(s, missing="neutral")
    # a: m=1, n=1/2 → 0.75; b: m=2/3, n=1 → 5/6; c: m=1/3, n missing → (1/3 + 0.5)/2
    assert neutral["consensus"].tolist() == pytest.approx([0.75, 5 / 6, (1 / 3 + 0.5) / 2])
    assert neutral["n_methods"].tolist() == [2, 2, 1]
    assert neutral["consensus_rank"].tolist() == [2, 1, 3]
    skip = consensus_scores(s, missing="skip")
    assert skip.loc["c", "consensus"] == pytest.approx(1 / 3)
    strict = consensus_scores(s, missing="skip", min_methods=2)
    assert math.isnan(strict.loc["c", "consensus"])
    with pytest.raises(ParameterError, match="missing="):
        consensus_scores(s, missing="zero")


def test_rank_order_and_top_k_put_unscored_last_and_never_list_them():
    s = pd.Series([1.0, np.nan, 5.0, 1.0], index=["w", "x", "y", "z"])
    assert list(rank_order(s)) == ["y", "w", "z", "x"]
    assert list(top_k(s, 2)) == ["y", "w"]
    assert list(top_k(s, 10)) == ["y", "w", "z"]
    with pytest.raises(ParameterError, match="positive integers"):
        top_k(s, 0)


def test_rank_correlations_match_scipy_on_common_rows():
    s = _scores(m=[1.0, 2.0, 3.0, 4.0, 5.0], n=[2.0, 1.0, 4.0, 3.0, np.nan], c=[7.0, 7.0, 7.0, 7.0, 7.0])
    out = rank_correlations(s).set_index(["method_a", "method_b"])
    row = out.loc[("m", "n")]
    assert row["n"] == 4
    rho, p = sps.spearmanr([1, 2, 3, 4], [2, 1, 4, 3])
    assert row["spearman_rho"] == pytest.approx(rho) and row["spearman_p"] == pytest.approx(p)
    assert row["spearman_rho"] == pytest.approx(0.6)  # 1 - 6*4/(4*15)
    assert row["kendall_tau"] == pytest.approx(1 / 3)  # 4 concordant, 2 discordant pairs
    assert math.isnan(out.loc[("m", "c"), "spearman_rho"])  # constant score


def test_topk_overlap_jaccard_by_hand():
    s = _scores(m=[5.0, 4.0, 3.0, 2.0, 1.0], n=[5.0, 1.0, 4.0, 3.0, 2.0])
    out = topk_overlap(s, ks=(1, 2, 3)).set_index("k")
    assert out.loc[1, "jaccard"] == 1.0  # {a} vs {a}
    assert out.loc[2, "intersection"] == 1 and out.loc[2, "jaccard"] == pytest.approx(1 / 3)  # {a,b} vs {a,c}
    assert out.loc[3, "jaccard"] == pytest.approx(2 / 4)  # {a,b,c} vs {a,c,d}


def test_expected_hits_counts_straddling_tie_group_fractionally():
    score = pd.Series([1.0, 1.0, 0.0, 0.0], index=["a", "b", "c", "d"])
    pos = pd.Series([True, False, False, False], index=score.index)
    assert expected_hits(score, pos, 1) == pytest.approx(0.5)
    assert expected_hits(score, pos, 2) == pytest.approx(1.0)
    score2 = pd.Series([3.0, 2.0, 2.0, 2.0, np.nan], index=IDS)
    pos2 = pd.Series([False, True, True, False, True], index=IDS)
    assert expected_hits(score2, pos2, 2) == pytest.approx(2 / 3)  # one slot from {b,c,d} holding 2 positives
    assert expected_hits(score2, pos2, 5) == pytest.approx(2.0)  # e is unscored, never listed


def test_enrichment_factor_by_hand_and_interval_brackets_it():
    # 10 structures, 2 known conductors; the method ranks one of them first and the other last
    ids = [f"s{i}" for i in range(10)]
    scores = pd.DataFrame({"m": np.arange(10, 0, -1, dtype=float)}, index=ids)
    known = pd.Series(False, index=ids)
    known[["s0", "s9"]] = True
    out = enrichment(scores, known, ks=(1, 5, 10), n_boot=400, seed=1).set_index("k")
    # base rate 0.2; top-1 holds 1 hit → EF 5; top-5 holds 1 → 0.2/0.2 = 1; top-10 → 1
    assert out.loc[1, "ef"] == pytest.approx(5.0)
    assert out.loc[5, "ef"] == pytest.approx(1.0)
    assert out.loc[10, "ef"] == pytest.approx(1.0) and out.loc[10, "recall"] == pytest.approx(1.0)
    for k in (1, 5, 10):
        assert out.loc[k, "ef_lo"] <= out.loc[k, "ef"] + 1e-9 <= out.loc[k, "ef_hi"] + 2e-9
    # stratified bootstrap keeps the base rate, so top-10 of 10 always holds both positives
    assert out.loc[10, "ef_lo"] == pytest.approx(1.0) and out.loc[10, "ef_hi"] == pytest.approx(1.0)
    assert out.loc[1, "n_pos"] == 2 and out.loc[1, "base_rate"] == pytest.approx(0.2)


def test_enrichment_unscored_structures_are_never_hits():
    scores = pd.DataFrame({"m": [np.nan, 1.0, 2.0]}, index=["p", "q", "r"])
    known = pd.Series([True, False, False], index=scores.index)
    out = enrichment(scores, known, ks=(2,), n_boot=50)
    assert out.loc[0, "hits"] == 0.0 and out.loc[0, "ef"] == 0.0 and out.loc[0, "n_listed"] == 2
    assert out.loc[0, "ef_hi"] == 0.0


def test_paired_bootstrap_detects_a_strictly_better_ranking_and_verdict_says_so():
    rng = np.random.default_rng(0)
    n = 200
    ids = [f"s{i}" for i in range(n)]
    known = pd.Series(False, index=ids)
    known.iloc[:10] = True
    perfect = pd.Series(np.linspace(1, 0, n), index=ids)  # the 10 positives on top
    shuffled = pd.Series(rng.permutation(np.linspace(1, 0, n)), index=ids)
    scores = pd.DataFrame({"consensus": perfect, "random": shuffled})
    enr = enrichment(scores, known, ks=(10,), n_boot=300, seed=2)
    paired = paired_enrichment(scores, known, "consensus", ks=(10,), n_boot=300, seed=2)
    row = paired.iloc[0]
    assert row["ef_reference"] == pytest.approx(20.0)  # 10/10 hits over base rate 0.05
    assert row["diff_lo"] > 0 and row["p_reference_better"] > 0.95
    (verdict,) = consensus_verdict(enr, paired)
    assert verdict.best_method == "random" and verdict.outcome == "consensus better"
    assert "consensus EF 20.00" in verdict.sentence()
    # and the other way round: the consensus loses to a perfect method
    flipped = pd.DataFrame({"consensus": shuffled, "oracle": perfect})
    enr2 = enrichment(flipped, known, ks=(10,), n_boot=300, seed=2)
    (v2,) = consensus_verdict(enr2, paired_enrichment(flipped, known, "consensus", ks=(10,), n_boot=300, seed=2))
    assert v2.outcome == "best single method better" and v2.diff_ci[1] < 0


def test_paired_enrichment_refuses_pool_without_known_conductors():
    scores = _scores(consensus=[1.0, 2.0, 3.0], m=[3.0, 2.0, 1.0])
    with pytest.raises(ParameterError, match="no structure of the pool"):
        paired_enrichment(scores, pd.Series(False, index=scores.index), "consensus", ks=(1,), n_boot=10)
    with pytest.raises(ParameterError, match="reference="):
        paired_enrichment(scores, pd.Series(True, index=scores.index), "nope", ks=(1,), n_boot=10)


def test_duplicate_ids_rejected_with_advice():
    s = pd.DataFrame({"m": [1.0, 2.0]}, index=["a", "a"])
    with pytest.raises(ParameterError, match="duplicated ids"):
        percentile_ranks(s)
