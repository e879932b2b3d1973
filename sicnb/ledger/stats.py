"""Agreement statistics on a ledger's score table: ranks, correlations, top-k overlap, enrichment.

Every function here takes an *oriented* score table: a DataFrame indexed by structure id with one
column per method, where **higher = more promising** (the ledger multiplies each method's score by
its direction, so a BVSE barrier in eV enters as ``-E_a``). NaN means "this method produced no
score for this structure" (it failed, or was not run); such a structure is never on that method's
candidate list.

Conventions, stated once:

* **Ranking.** Descending oriented score. Ties are treated as ties: point estimates of hits at k
  count a tie group that straddles the cut-off fractionally (the expected number of hits under a
  random order within the group); bootstrap replicates break ties at random.
* **Candidate list at k.** The ``min(k, N)`` best-ranked *scored* structures; a method that scored
  fewer than k structures proposes fewer.
* **Enrichment factor** EF@k = (hits@k / min(k, N)) / (n_pos / N): the hit rate of the list over
  the base rate of known conductors in the whole pool. Structures without a label count as
  not-known (the usual virtual-screening convention: unlabelled = decoy), so EF is a lower bound on
  the enrichment of true conductors.
* **Bootstrap.** Stratified (positives and the rest resampled separately, so every replicate holds
  ``n_pos`` positives and the base rate is fixed); percentile intervals. The *paired* bootstrap
  scores the consensus and each single method on the same replicates, so the interval of their
  difference reflects only the ranking difference, not the luck of the pool.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from sicnb.errors import ParameterError

__all__ = [
    "DEFAULT_KS", "percentile_ranks", "consensus_scores", "rank_order", "top_k", "rank_correlations",
    "topk_overlap", "expected_hits", "enrichment", "paired_enrichment", "ConsensusVerdict", "consensus_verdict",
]

DEFAULT_KS: tuple[int, ...] = (10, 50, 100)


def _check_scores(scores: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(scores, pd.DataFrame):
        raise ParameterError(f"scores must be a DataFrame (ids × methods), got {type(scores).__name__}")
    if scores.index.has_duplicates:
        dup = scores.index[scores.index.duplicated()].unique()[:3].tolist()
        raise ParameterError(f"scores has duplicated ids {dup}; build it from a ledger (one row per structure)")
    return scores.apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)


def _check_ks(ks: Sequence[int]) -> list[int]:
    out = []
    for k in ks:
        if int(k) != k or k < 1:
            raise ParameterError(f"k={k!r}: list sizes must be positive integers (e.g. ks=(10, 50, 100))")
        out.append(int(k))
    return out


def _positives(labels: pd.Series, index: pd.Index) -> np.ndarray:
    if not isinstance(labels, pd.Series):
        raise ParameterError(f"labels must be a boolean Series indexed by id, got {type(labels).__name__}")
    lab = labels.reindex(index)
    return lab.fillna(False).astype(bool).to_numpy()


def percentile_ranks(scores: pd.DataFrame) -> pd.DataFrame:
    """Per-method percentile rank in (0, 1] among the structures the method scored (1 = most promising).

    Ties get the average rank; NaN scores stay NaN. ``rank / n_scored`` with ascending ranks of the
    oriented score, so the best of n structures gets 1 and the worst 1/n.
    """
    s = _check_scores(scores)
    return s.rank(method="average", ascending=True, na_option="keep").div(s.notna().sum(axis=0).replace(0, np.nan), axis=1)


def consensus_scores(scores: pd.DataFrame, missing: str = "neutral", min_methods: int = 1) -> pd.DataFrame:
    """Consensus of several methods: the mean percentile rank (a normalised Borda count).

    Why this aggregation: the methods' scores live on incomparable scales (Å, eV, probabilities)
    and their distributions differ, so only ranks are comparable; the mean of percentile ranks is
    the Borda count normalised per method, the best-studied positional rank aggregation, and it
    accepts methods that scored different subsets of the pool.

    Missing scores, explicitly: ``missing="neutral"`` (default) counts a method that did not score a
    structure as percentile 0.5 ("no opinion"), which shrinks structures seen by few methods toward
    the middle instead of letting one method's top pick become a consensus top pick;
    ``missing="skip"`` averages only the methods that scored it. Structures scored by fewer than
    ``min_methods`` methods get NaN (never on the consensus list).

    Returns columns ``consensus`` (0–1, higher = more promising), ``n_methods`` (how many methods
    scored the structure) and ``consensus_rank`` (1 = best; ties share the lower rank).
    """
    if missing not in ("neutral", "skip"):
        raise ParameterError(f"missing={missing!r}: use 'neutral' (missing = percentile 0.5) or 'skip' (average the available ones)")
    pr = percentile_ranks(scores)
    n = pr.notna().sum(axis=1)
    if pr.shape[1] == 0:
        raise ParameterError("no method columns to aggregate; the ledger has no present method with scores")
    cons = pr.fillna(0.5).mean(axis=1) if missing == "neutral" else pr.mean(axis=1, skipna=True)
    cons = cons.where(n >= max(int(min_methods), 1))
    out = pd.DataFrame({"consensus": cons, "n_methods": n.astype(int)})
    out["consensus_rank"] = out["consensus"].rank(method="min", ascending=False)
    return out


def rank_order(score: pd.Series) -> pd.Index:
    """Ids ordered best first (descending score); unscored ids last; ties kept in index order."""
    s = pd.to_numeric(score, errors="coerce").replace([np.inf, -np.inf], np.nan)
    return s.sort_values(ascending=False, na_position="last", kind="mergesort").index


def top_k(score: pd.Series, k: int) -> pd.Index:
    """The ``k`` best-scored ids (unscored ids are never listed; ties at the cut-off in index order)."""
    (k,) = _check_ks([k])
    s = pd.to_numeric(score, errors="coerce").dropna()
    return rank_order(s)[:k]


def rank_correlations(scores: pd.DataFrame, min_common: int = 3) -> pd.DataFrame:
    """Spearman ρ and Kendall τ-b (with two-sided p-values) for every pair of methods.

    Computed on the structures both methods scored (``n``); pairs with fewer than ``min_common``
    common structures, or a constant score, get NaN.
    """
    s = _check_scores(scores)
    rows = []
    for a, b in itertools.combinations(s.columns, 2):
        both = s[[a, b]].dropna()
        row = {"method_a": a, "method_b": b, "n": len(both), "spearman_rho": np.nan, "spearman_p": np.nan,
               "kendall_tau": np.nan, "kendall_p": np.nan}
        if len(both) >= min_common and both[a].nunique() > 1 and both[b].nunique() > 1:
            rho, p = sps.spearmanr(both[a], both[b])
            tau, pk = sps.kendalltau(both[a], both[b])
            row.update(spearman_rho=float(rho), spearman_p=float(p), kendall_tau=float(tau), kendall_p=float(pk))
        rows.append(row)
    return pd.DataFrame(rows, columns=["method_a", "method_b", "n", "spearman_rho", "spearman_p", "kendall_tau", "kendall_p"])


def topk_overlap(scores: pd.DataFrame, ks: Sequence[int] = DEFAULT_KS) -> pd.DataFrame:
    """Overlap of every pair of methods' top-k lists: intersection size and Jaccard index.

    Lists come from :func:`top_k` (deterministic: ties at the cut-off resolved by id order).
    """
    s = _check_scores(scores)
    ks = _check_ks(ks)
    rows = []
    for k in ks:
        lists = {m: set(top_k(s[m], k)) for m in s.columns}
        for a, b in itertools.combinations(s.columns, 2):
            inter = len(lists[a] & lists[b])
            union = len(lists[a] | lists[b])
            rows.append({"k": k, "method_a": a, "method_b": b, "n_a": len(lists[a]), "n_b": len(lists[b]),
                         "intersection": inter, "jaccard": inter / union if union else np.nan})
    return pd.DataFrame(rows, columns=["k", "method_a", "method_b", "n_a", "n_b", "intersection", "jaccard"])


def expected_hits(score: pd.Series, positives: pd.Series, k: int) -> float:
    """Expected number of positives among the top ``k`` scored ids, ties broken uniformly at random.

    A tie group straddling the cut-off contributes ``slots_left × (positives in group / group size)``.
    """
    (k,) = _check_ks([k])
    s = pd.to_numeric(score, errors="coerce").replace([np.inf, -np.inf], np.nan).dropna()
    pos = _positives(positives, s.index)
    frame = pd.DataFrame({"s": s.to_numpy(), "p": pos.astype(float)})
    groups = frame.groupby("s", sort=True)["p"].agg(["size", "sum"]).iloc[::-1]
    hits, left = 0.0, k
    for size, npos in zip(groups["size"], groups["sum"]):
        if left <= 0:
            break
        take = min(left, int(size))
        hits += take * npos / size
        left -= take
    return float(hits)


def _boot_indices(pos: np.ndarray, n_boot: int, rng: np.random.Generator, stratified: bool) -> np.ndarray:
    n = len(pos)
    if not stratified:
        return rng.integers(0, n, size=(n_boot, n))
    ip, ineg = np.flatnonzero(pos), np.flatnonzero(~pos)
    parts = []
    if len(ip):
        parts.append(ip[rng.integers(0, len(ip), size=(n_boot, len(ip)))])
    if len(ineg):
        parts.append(ineg[rng.integers(0, len(ineg), size=(n_boot, len(ineg)))])
    return np.concatenate(parts, axis=1)


def _boot_hits(values: np.ndarray, pos: np.ndarray, idx: np.ndarray, ks: list[int], rng: np.random.Generator) -> np.ndarray:
    """Hits at each k for each replicate (rows of ``idx``): shape (n_boot, len(ks))."""
    v = values[idx]
    scored = np.isfinite(v)
    key = np.where(scored, -v, np.inf)  # ascending sort = best first, unscored last
    tie = rng.random(v.shape)
    order = np.lexsort((tie, key), axis=-1)
    hit = (pos[idx] & scored)
    hit_sorted = np.take_along_axis(hit, order, axis=1)
    csum = np.cumsum(hit_sorted, axis=1)
    n = idx.shape[1]
    return np.stack([csum[:, min(k, n) - 1] for k in ks], axis=1).astype(float)


def _interval(x: np.ndarray, ci: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(x, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return float(lo), float(hi)


def _check_boot(n_boot: int, ci: float) -> None:
    if int(n_boot) != n_boot or n_boot < 1:
        raise ParameterError(f"n_boot={n_boot!r}: the number of bootstrap replicates must be a positive integer (e.g. 2000)")
    if not 0 < ci < 1:
        raise ParameterError(f"ci={ci!r}: the interval level must lie in (0, 1), e.g. 0.95")


def enrichment(scores: pd.DataFrame, labels: pd.Series, ks: Sequence[int] = DEFAULT_KS, n_boot: int = 2000,
               ci: float = 0.95, seed: int = 0, stratified: bool = True) -> pd.DataFrame:
    """Enrichment of known conductors (``labels`` True) in each method's top-k, with bootstrap intervals.

    Returns one row per (method, k): ``hits`` (expected, ties fractional), ``n_listed``
    (= min(k, n_scored)), ``n_pos``, ``n``, ``hit_rate`` = hits / min(k, n), ``base_rate``, ``ef``
    (enrichment factor), ``ef_lo``/``ef_hi`` (bootstrap percentile interval at level ``ci``),
    ``recall`` = hits / n_pos. EF is NaN when the pool holds no positive.
    """
    s = _check_scores(scores)
    ks = _check_ks(ks)
    _check_boot(n_boot, ci)
    pos = _positives(labels, s.index)
    n, n_pos = len(s), int(pos.sum())
    base = n_pos / n if n else np.nan
    rng = np.random.default_rng(seed)
    idx = _boot_indices(pos, int(n_boot), rng, stratified)
    rows = []
    pos_series = pd.Series(pos, index=s.index)
    for m in s.columns:
        vals = s[m].to_numpy(dtype=float)
        bh = _boot_hits(vals, pos, idx, ks, rng) if n_pos else None
        n_scored = int(np.isfinite(vals).sum())
        for j, k in enumerate(ks):
            denom = min(k, n)
            h = expected_hits(s[m], pos_series, k)
            ef = (h / denom) / base if n_pos else np.nan
            lo, hi = _interval(bh[:, j] / denom / base, ci) if n_pos else (np.nan, np.nan)
            rows.append({"method": m, "k": k, "hits": h, "n_listed": min(k, n_scored), "n_pos": n_pos, "n": n,
                         "hit_rate": h / denom, "base_rate": base, "ef": ef, "ef_lo": lo, "ef_hi": hi,
                         "recall": h / n_pos if n_pos else np.nan})
    return pd.DataFrame(rows)


def paired_enrichment(scores: pd.DataFrame, labels: pd.Series, reference: str, ks: Sequence[int] = DEFAULT_KS,
                      n_boot: int = 2000, ci: float = 0.95, seed: int = 0, stratified: bool = True) -> pd.DataFrame:
    """Paired bootstrap of EF@k(reference) − EF@k(method) for every other method column.

    One row per (method, k): ``ef_reference``, ``ef_method`` (point estimates), ``diff`` and its
    interval ``diff_lo``/``diff_hi``, and ``p_reference_better`` / ``p_method_better``: the share
    of replicates in which the reference's EF is strictly higher / strictly lower.
    """
    s = _check_scores(scores)
    if reference not in s.columns:
        raise ParameterError(f"reference={reference!r} is not a column of scores ({list(s.columns)})")
    ks = _check_ks(ks)
    _check_boot(n_boot, ci)
    pos = _positives(labels, s.index)
    n, n_pos = len(s), int(pos.sum())
    if n_pos == 0:
        raise ParameterError("labels mark no structure of the pool as a known conductor; enrichment is undefined — "
                             "use a pool that contains known conductors (OBELiX labels or the known-conductor table)")
    base = n_pos / n
    rng = np.random.default_rng(seed)
    idx = _boot_indices(pos, int(n_boot), rng, stratified)
    tie_seed = int(rng.integers(0, 2**31 - 1))
    pos_series = pd.Series(pos, index=s.index)

    def ef_boot(col: str) -> np.ndarray:  # same replicates and same tie draws for every method
        return _boot_hits(s[col].to_numpy(dtype=float), pos, idx, ks, np.random.default_rng(tie_seed)) / np.array(
            [min(k, n) for k in ks]) / base

    ref = ef_boot(reference)
    rows = []
    for m in s.columns:
        if m == reference:
            continue
        other = ef_boot(m)
        for j, k in enumerate(ks):
            denom = min(k, n)
            e_ref = expected_hits(s[reference], pos_series, k) / denom / base
            e_m = expected_hits(s[m], pos_series, k) / denom / base
            d = ref[:, j] - other[:, j]
            lo, hi = _interval(d, ci)
            rows.append({"reference": reference, "method": m, "k": k, "ef_reference": e_ref, "ef_method": e_m,
                         "diff": e_ref - e_m, "diff_lo": lo, "diff_hi": hi,
                         "p_reference_better": float((d > 0).mean()), "p_method_better": float((d < 0).mean())})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ConsensusVerdict:
    """Does the consensus beat the best single method at list size k? (numbers, no prose judgement)."""

    k: int
    best_method: str
    ef_consensus: float
    ef_consensus_ci: tuple[float, float]
    ef_best: float
    ef_best_ci: tuple[float, float]
    diff: float
    diff_ci: tuple[float, float]
    p_consensus_better: float
    outcome: str  # "consensus better" | "best single method better" | "no clear difference"

    def sentence(self) -> str:
        lo, hi = self.diff_ci
        return (f"k={self.k}: consensus EF {self.ef_consensus:.2f} [{self.ef_consensus_ci[0]:.2f}, {self.ef_consensus_ci[1]:.2f}] "
                f"vs best single method '{self.best_method}' EF {self.ef_best:.2f} [{self.ef_best_ci[0]:.2f}, {self.ef_best_ci[1]:.2f}]; "
                f"difference {self.diff:+.2f} [{lo:+.2f}, {hi:+.2f}] → {self.outcome}")


def consensus_verdict(enrich: pd.DataFrame, paired: pd.DataFrame, reference: str = "consensus") -> list[ConsensusVerdict]:
    """For each k: the best single method by point EF (ties: higher lower bound, then name), and whether the
    paired-bootstrap interval of (consensus − best) excludes zero.

    Choosing the best method on the same data favours that method, so "consensus better" is a
    conservative call and "best single method better" an optimistic one.
    """
    out = []
    for k, grp in enrich[enrich["method"] != reference].groupby("k", sort=True):
        grp = grp.sort_values(["ef", "ef_lo", "method"], ascending=[False, False, True])
        best = grp.iloc[0]
        ref = enrich[(enrich["method"] == reference) & (enrich["k"] == k)]
        pr = paired[(paired["method"] == best["method"]) & (paired["k"] == k)]
        if ref.empty or pr.empty:
            continue
        ref, pr = ref.iloc[0], pr.iloc[0]
        lo, hi = float(pr["diff_lo"]), float(pr["diff_hi"])
        outcome = "consensus better" if lo > 0 else "best single method better" if hi < 0 else "no clear difference"
        out.append(ConsensusVerdict(int(k), str(best["method"]), float(ref["ef"]), (float(ref["ef_lo"]), float(ref["ef_hi"])),
                                    float(best["ef"]), (float(best["ef_lo"]), float(best["ef_hi"])), float(pr["diff"]),
                                    (lo, hi), float(pr["p_reference_better"]), outcome))
    return out
