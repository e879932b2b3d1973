"""Descriptor scoring of Maevskiy et al., Sec. II B (Fig. 3): Gaussian-smoothed two-class labels and the
partial ROC AUC over FPR ≤ 0.1 with bootstrap uncertainty.

* :func:`smoothed_label_weights` — a sample with conductivity σ ± δσ counts as positive with weight
  ``P(X > σ+)`` and as negative with weight ``P(X < σ-)``, ``X ~ Normal(σ, δσ)`` (linear S/cm);
  δσ = 100 % of σ where no uncertainty is given (the LASKOWSKI2023 procedure).
* :func:`partial_roc_auc` — area under the weighted ROC curve for FPR in [0, ``max_fpr``], divided by
  ``max_fpr`` (1 = perfect, ``max_fpr``/2 = random guess).
* :func:`score_descriptors` — one row per descriptor: score, bootstrap std, the random-guess line.
* :func:`paired_score_difference` — two descriptors on the same labelled structures (e.g. Ξ vs the BVSE
  barrier), scores and their difference over the same bootstrap resamples.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from sicnb.errors import ParameterError

__all__ = ["smoothed_label_weights", "partial_roc_auc", "score_descriptors", "paired_score_difference", "LASKOWSKI_THRESHOLDS_S_CM"]

#: σ+ = 0.05 mS/cm, σ- = 0.01 mS/cm (Sec. II B, LASKOWSKI2023 experimental labels), in S/cm
LASKOWSKI_THRESHOLDS_S_CM = (5e-5, 1e-5)


def smoothed_label_weights(sigma_S_cm: Sequence[float], sigma_err_S_cm: Sequence[float] | None = None,
                           sigma_plus: float = 5e-5, sigma_minus: float = 1e-5, relative_uncertainty: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative weights ``(w+, w-)`` per sample (Sec. II B Gaussian smoothing)."""
    s = np.asarray(sigma_S_cm, dtype=float)
    if sigma_plus < sigma_minus:
        raise ParameterError(f"sigma_plus ({sigma_plus}) must be >= sigma_minus ({sigma_minus})")
    err = np.full_like(s, np.nan) if sigma_err_S_cm is None else np.asarray(sigma_err_S_cm, dtype=float)
    err = np.where(np.isfinite(err) & (err > 0), err, relative_uncertainty * np.abs(s))
    err = np.maximum(err, 1e-300)
    w_pos = stats.norm.sf(sigma_plus, loc=s, scale=err)
    w_neg = stats.norm.cdf(sigma_minus, loc=s, scale=err)
    bad = ~np.isfinite(s)
    w_pos[bad] = 0.0
    w_neg[bad] = 0.0
    return w_pos, w_neg


def partial_roc_auc(score: np.ndarray, w_pos: np.ndarray, w_neg: np.ndarray, max_fpr: float = 0.1) -> float:
    """Weighted ROC area for FPR ≤ ``max_fpr`` divided by ``max_fpr`` (higher score = predicted better conductor)."""
    from sklearn.metrics import roc_curve

    score = np.asarray(score, dtype=float)
    ok = np.isfinite(score)
    score, w_pos, w_neg = score[ok], np.asarray(w_pos)[ok], np.asarray(w_neg)[ok]
    if w_pos.sum() <= 0 or w_neg.sum() <= 0:
        return float("nan")
    y = np.concatenate([np.ones_like(score), np.zeros_like(score)])
    fpr, tpr, _ = roc_curve(y, np.concatenate([score, score]), sample_weight=np.concatenate([w_pos, w_neg]))
    grid = np.linspace(0.0, max_fpr, 201)
    # step-wise interpolation: the ROC is piecewise linear between thresholds
    tpr_at = np.interp(grid, fpr, tpr)
    return float(np.trapezoid(tpr_at, grid) / max_fpr)


def score_descriptors(table: pd.DataFrame, descriptors: Sequence[str], sigma_col: str = "sigma_S_cm", sigma_err_col: str | None = None,
                      sigma_plus: float = 5e-5, sigma_minus: float = 1e-5, max_fpr: float = 0.1, n_bootstrap: int = 200,
                      lower_is_better: Sequence[str] = ("MPE",), seed: int = 0) -> pd.DataFrame:
    """Fig. 3 scores: partial ROC AUC (FPR ≤ ``max_fpr``) of each descriptor with bootstrap std over structures."""
    err = table[sigma_err_col].to_numpy() if sigma_err_col else None
    w_pos, w_neg = smoothed_label_weights(table[sigma_col].to_numpy(), err, sigma_plus, sigma_minus)
    rng = np.random.default_rng(seed)
    boots = [rng.integers(0, len(table), len(table)) for _ in range(n_bootstrap)]
    rows = []
    for d in descriptors:
        sc = table[d].to_numpy(dtype=float) * (-1.0 if d in lower_is_better else 1.0)
        val = partial_roc_auc(sc, w_pos, w_neg, max_fpr)
        bs = [partial_roc_auc(sc[b], w_pos[b], w_neg[b], max_fpr) for b in boots]
        rows.append({"descriptor": d, "score": val, "score_std": float(np.nanstd(bs)), "random": max_fpr / 2,
                     "n": int(np.isfinite(sc).sum()), "w_pos": float(w_pos.sum()), "w_neg": float(w_neg.sum())})
    return pd.DataFrame(rows)


def paired_score_difference(table: pd.DataFrame, a: str, b: str, sigma_col: str = "sigma_S_cm", sigma_plus: float = 5e-5,
                            sigma_minus: float = 1e-5, max_fpr: float = 0.1, n_bootstrap: int = 200,
                            lower_is_better: Sequence[str] = ("MPE",), seed: int = 0) -> dict[str, float]:
    """Partial ROC AUC (Sec. II B) of descriptors ``a`` and ``b`` on the rows where both are finite, and ``a − b`` with its
    bootstrap std and the fraction of resamples where ``a`` scores higher (paired: same resamples for both)."""
    sub = table[np.isfinite(table[a].to_numpy(dtype=float)) & np.isfinite(table[b].to_numpy(dtype=float))]
    if len(sub) < 2:
        raise ParameterError(f"need >= 2 structures with finite {a!r} and {b!r}, got {len(sub)}; scan or label more structures")
    w_pos, w_neg = smoothed_label_weights(sub[sigma_col].to_numpy(), None, sigma_plus, sigma_minus)
    sa = sub[a].to_numpy(dtype=float) * (-1.0 if a in lower_is_better else 1.0)
    sb = sub[b].to_numpy(dtype=float) * (-1.0 if b in lower_is_better else 1.0)
    rng = np.random.default_rng(seed)
    va, vb = partial_roc_auc(sa, w_pos, w_neg, max_fpr), partial_roc_auc(sb, w_pos, w_neg, max_fpr)
    da, db = [], []
    for _ in range(n_bootstrap):
        i = rng.integers(0, len(sub), len(sub))
        da.append(partial_roc_auc(sa[i], w_pos[i], w_neg[i], max_fpr))
        db.append(partial_roc_auc(sb[i], w_pos[i], w_neg[i], max_fpr))
    da_arr, db_arr = np.asarray(da), np.asarray(db)
    ok = np.isfinite(da_arr) & np.isfinite(db_arr)
    diff = da_arr[ok] - db_arr[ok]
    return {"descriptor_a": a, "descriptor_b": b, "n": int(len(sub)), "score_a": va, "score_a_std": float(np.nanstd(da_arr)),
            "score_b": vb, "score_b_std": float(np.nanstd(db_arr)), "difference": va - vb,
            "difference_std": float(np.std(diff)) if diff.size else float("nan"),
            "p_a_better": float(np.mean(diff > 0)) if diff.size else float("nan"), "n_bootstrap_valid": int(ok.sum()),
            "random": max_fpr / 2}
