"""Model selection that measures generalisation to unseen chemistry (issue 17; LOCO of McHaffie et al.
2025, Methods 4.2, repeated over seeds).

* Fixed-length features: pooled disorder-aware MEGNet-16 embeddings — per structure the V0 site rows
  (``Σ_i x_i W_{Z_i}``, §2.2) pooled by mean/std/max/min (:func:`pooled_site_embeddings`), or per
  composition the element embeddings pooled with the element fractions (:func:`composition_embeddings`);
  matminer's Magpie ``ElementProperty`` (Ward et al., npj Comput. Mater. 2, 16028 (2016)).
* :class:`ElmdKNN` — k nearest training compositions in Element Mover's Distance (the LOCO metric itself).
* :func:`repeated_loco` — every model on the *same* folds (LOCO clusters from UMAP seed s, models seeded s)
  for several seeds; out-of-fold predictions kept, so pooled scores, per-cluster scores, bootstrap
  intervals and averages of models come from one run. Controls: a model trained on permuted training
  labels (``shuffled``) and the training prevalence (``mean``).

Why one module of ~430 lines: the LOCO folds, the candidate models, the controls and the pooled/per-cluster
scores share one out-of-fold table format; splitting them would spread that format over several files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Structure

from sicnb.classify.features import _embedding_table, represent, site_embeddings
from sicnb.classify.validation import classification_metrics, kfold_splits, loco_clusters, loco_splits
from sicnb.errors import InputError, ParameterError

__all__ = [
    "POOLS", "POOLED_COLUMNS", "pooled_site_embeddings", "composition_embeddings", "magpie_features", "ElmdKNN", "PrevalenceModel",
    "ShuffledLabels", "OutOfFold", "repeated_loco", "score_oof", "bootstrap_interval", "selection_table",
    "average_predictions", "fast_metrics", "reliability_table", "calibration_errors", "cross_fitted_isotonic", "loco_regression", "paired_difference",
    "ElmdKNNRegressor", "repeated_loco_regression", "score_regression",
]

POOLS = ("mean", "std", "max", "min")
#: column names of :func:`pooled_site_embeddings` (embedding component k, pooling)
POOLED_COLUMNS = tuple(f"e{k}_{p}" for p in POOLS for k in range(16))


def _pool_rows(mat: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """mean / std / max / min over rows (weighted mean and std when ``weights`` are given)."""
    w = np.full(len(mat), 1.0 / len(mat)) if weights is None else np.asarray(weights, float) / np.sum(weights)
    mean = w @ mat
    std = np.sqrt(np.clip(w @ (mat - mean) ** 2, 0.0, None))
    return np.concatenate([mean, std, mat.max(axis=0), mat.min(axis=0)])


def pooled_site_embeddings(structure: Structure, representation: str = "CAMN", mobile_ion: str = "Li") -> dict:
    """64 numbers: mean/std/max/min over the sites of the V0 rows ``Σ_i x_i W_{Z_i}`` (§2.2, disorder kept
    as occupancy-weighted rows) of one representation. Keys ``e{k}_{pool}``."""
    rep = represent(structure, representation, mobile_ion=mobile_ion)
    if len(rep) == 0:
        raise InputError(f"{structure.composition.reduced_formula}: representation {representation} leaves no atoms")
    v = _pool_rows(site_embeddings(rep))
    return dict(zip(POOLED_COLUMNS, map(float, v)))


pooled_site_embeddings.cache_version = 1  # type: ignore[attr-defined]


def composition_embeddings(composition: str | Composition) -> np.ndarray:
    """64 numbers for a composition: element MEGNet-16 embeddings pooled with the element fractions as
    weights (weighted mean, weighted std) and max/min over the elements present."""
    index, table, _ = _embedding_table()
    comp = Composition(composition) if not isinstance(composition, Composition) else composition
    els, fr = [], []
    for el, x in comp.element_composition.items():
        if el.symbol not in index:
            raise InputError(f"{comp.reduced_formula}: element {el.symbol} has no MEGNet embedding")
        els.append(index[el.symbol])
        fr.append(float(x))
    if not els:
        raise InputError(f"empty composition {composition!r}")
    return _pool_rows(table[els], np.asarray(fr))


def magpie_features(compositions: Sequence[str | Composition]) -> np.ndarray:
    """matminer ``ElementProperty.from_preset('magpie')`` (132 numbers per composition; Ward et al. 2016)."""
    import warnings

    from matminer.featurizers.composition import ElementProperty

    ep = ElementProperty.from_preset("magpie", impute_nan=True)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for c in compositions:
            comp = Composition(c) if not isinstance(c, Composition) else c
            out.append(ep.featurize(comp.element_composition))
    return np.asarray(out, dtype=float)


class _ElmdNeighbours:
    """k nearest training compositions in Element Mover's Distance, inverse-distance weighted. ``X`` holds row
    indices (shape (n, 1)) into the distance matrix ``D`` given at construction; ``fit`` stores the training rows
    and their targets, :meth:`_neighbour_mean` averages the targets of the ``k`` nearest with weights 1/(d + eps)."""

    def __init__(self, D: np.ndarray, k: int = 5, eps: float = 1e-3):
        self.D, self.k, self.eps = D, k, eps

    def fit(self, X, y):
        self.train_ = np.asarray(X).ravel().astype(int)
        self.y_ = np.asarray(y, float)
        return self

    def _neighbour_mean(self, X) -> np.ndarray:
        d = self.D[np.ix_(np.asarray(X).ravel().astype(int), self.train_)]
        nn = np.argsort(d, axis=1, kind="stable")[:, :min(self.k, d.shape[1])]
        w = 1.0 / (np.take_along_axis(d, nn, axis=1) + self.eps)
        return (w * self.y_[nn]).sum(axis=1) / w.sum(axis=1)


class ElmdKNN(_ElmdNeighbours):
    """k-nearest-neighbour vote in Element Mover's Distance. ``X`` holds row indices (shape (n, 1)) into
    the distance matrix ``D`` given at construction; P_SI = inverse-distance-weighted fraction of
    superionic neighbours among the ``k`` nearest training compositions."""

    def predict_proba(self, X):
        p = self._neighbour_mean(X)
        return np.stack([1 - p, p], axis=1)


class PrevalenceModel:
    """The *mean* control: every compound gets the training-set fraction of superionic entries."""

    def fit(self, X, y):
        self.p_ = float(np.mean(y))
        return self

    def predict_proba(self, X):
        p = np.full(len(X), self.p_)
        return np.stack([1 - p, p], axis=1)


class ShuffledLabels:
    """The *shuffled* control (y-randomisation): ``model`` trained on a permutation of the training labels."""

    def __init__(self, model, random_state: int = 0):
        self.model, self.random_state = model, random_state

    def fit(self, X, y):
        self.model.fit(X, np.random.default_rng(self.random_state).permutation(np.asarray(y)))
        return self

    def predict_proba(self, X):
        return self.model.predict_proba(X)


@dataclass
class OutOfFold:
    """Out-of-fold P_SI of every model for every (scheme, seed): ``predictions`` has columns scheme, seed,
    model, fold, row (position in ``y``), y, p_si."""

    y: np.ndarray
    predictions: pd.DataFrame
    folds: dict = field(default_factory=dict)


def _take(X, idx):
    return X[idx] if isinstance(X, np.ndarray) else [X[i] for i in idx]


def repeated_loco(models: Mapping[str, tuple[Any, Callable[[int], Any]]], y, compositions: Sequence[str],
                  seeds: Sequence[int] = (0, 1, 2), kfold: int = 5, loco_params: Mapping[str, Any] | None = None,
                  clusters: Mapping[int, np.ndarray] | None = None, log: Callable[[str], None] | None = None,
                  extras: Mapping[str, tuple[Any, np.ndarray, np.ndarray]] | None = None) -> OutOfFold:
    """Fit every model on every fold of LOCO (clusters of :func:`loco_clusters` with UMAP ``random_state=seed``)
    and, beside it, of random ``kfold``-fold CV, for each seed; return the out-of-fold predictions.

    ``models``: name → (X, factory(seed) → estimator with ``fit``/``predict_proba``); X indexable by row.
    ``clusters``: optional precomputed {seed: cluster label per row} (skips UMAP).
    ``extras``: model name → (X_extra, y_extra, anchor): extra *training-only* entries (e.g. labelled compositions
    without a structure); each goes into a fold's training part only when its ``anchor`` row (its nearest
    evaluated entry, e.g. in ElMD) is in that training part, so it never leaks into its own held-out cluster.
    """
    y = np.asarray(y).astype(int)
    if len(compositions) != len(y):
        raise ParameterError(f"{len(compositions)} compositions for {len(y)} labels")
    rows, folds = [], {}
    for seed in seeds:
        if clusters is not None and seed in clusters:
            cl = np.asarray(clusters[seed])
        else:
            cl = loco_clusters(list(compositions), random_state=seed, **(loco_params or {}))["cluster"].to_numpy()
        schemes = {"loco": loco_splits(cl)}
        if kfold:
            schemes["kfold"] = kfold_splits(len(y), kfold, random_state=seed)
        folds[seed] = cl
        for scheme, splits in schemes.items():
            for name, (X, factory) in models.items():
                for fold, tr, va in splits:
                    if len(set(y[tr].tolist())) < 2:
                        p = np.full(len(va), float(y[tr].mean()))
                    elif extras and name in extras:
                        Xe, ye, anchor = extras[name]
                        use = np.isin(anchor, tr)
                        Xtr = np.vstack([_take(X, tr), Xe[use]])
                        p = factory(seed).fit(Xtr, np.concatenate([y[tr], np.asarray(ye)[use]])).predict_proba(_take(X, va))[:, 1]
                    else:
                        p = factory(seed).fit(_take(X, tr), y[tr]).predict_proba(_take(X, va))[:, 1]
                    rows.append(pd.DataFrame({"scheme": scheme, "seed": seed, "model": name, "fold": fold,
                                              "row": va, "y": y[va], "p_si": p}))
                if log:
                    log(f"seed {seed} {scheme} {name} done")
    return OutOfFold(y, pd.concat(rows, ignore_index=True), folds)


def average_predictions(oof: OutOfFold, members: Sequence[str], name: str | None = None) -> OutOfFold:
    """Add the model ``name`` whose P_SI is the mean of ``members``' out-of-fold P_SI (same folds)."""
    p = oof.predictions
    sub = p[p["model"].isin(members)]
    if sub["model"].nunique() != len(members):
        raise ParameterError(f"not all of {members} are in the out-of-fold table")
    avg = sub.groupby(["scheme", "seed", "fold", "row", "y"], as_index=False)["p_si"].mean()
    avg["model"] = name or " + ".join(members)
    return OutOfFold(oof.y, pd.concat([p, avg[p.columns]], ignore_index=True), oof.folds)


def fast_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """AUC-PR (average precision, ties grouped as scikit-learn does) and MCC in plain numpy, for bootstraps;
    equal to :func:`~sicnb.classify.validation.classification_metrics` (tested)."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, float)
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    last = np.r_[np.where(np.diff(ps) != 0)[0], len(ps) - 1]  # last index of each distinct score
    tp = np.cumsum(ys)[last]
    fp = (last + 1) - tp
    npos = ys.sum()
    if npos == 0:
        ap = float("nan")
    else:
        precision = tp / (tp + fp)
        recall = tp / npos
        ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    pred = p >= threshold
    TP = float(np.sum(pred & (y == 1)))
    TN = float(np.sum(~pred & (y == 0)))
    FP = float(np.sum(pred & (y == 0)))
    FN = float(np.sum(~pred & (y == 1)))
    den = np.sqrt((TP + FP) * (TP + FN) * (TN + FP) * (TN + FN))
    return {"auc_pr": ap, "mcc": float((TP * TN - FP * FN) / den) if den > 0 else 0.0}


def bootstrap_interval(y, p_by_seed: Sequence[np.ndarray], metric: str = "auc_pr", n_boot: int = 1000,
                       random_state: int = 0, level: float = 0.95,
                       metrics: Callable[[np.ndarray, np.ndarray], Mapping[str, float]] | None = None) -> tuple[float, float]:
    """Percentile interval of the seed-averaged pooled ``metric`` under resampling of the entries (resamples with a
    single class are skipped). ``metrics(y, p) -> {name: value}`` computes ``metric`` (default :func:`fast_metrics`:
    ``auc_pr``, ``mcc``; the ledger's evidence passes one with ``roc_auc``)."""
    metrics = fast_metrics if metrics is None else metrics
    y = np.asarray(y).astype(int)
    rng = np.random.default_rng(random_state)
    vals = []
    for _ in range(int(n_boot)):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() == y[idx].max():
            continue
        vals.append(np.mean([metrics(y[idx], p[idx])[metric] for p in p_by_seed]))
    a = (1 - level) / 2
    return float(np.quantile(vals, a)), float(np.quantile(vals, 1 - a))


def score_oof(oof: OutOfFold, n_boot: int = 1000) -> pd.DataFrame:
    """Per (scheme, model): pooled out-of-fold AUC-PR / MCC (mean over seeds, with their std over seeds and a
    bootstrap 95 % interval) and the per-fold mean ± std (pooled over seeds)."""
    out = []
    p = oof.predictions
    for (scheme, model), g in p.groupby(["scheme", "model"], sort=False):
        pooled, per_fold, p_by_seed, y_ref = [], [], [], None
        for seed, gs in g.groupby("seed"):
            gs = gs.sort_values("row")
            if y_ref is None:
                y_ref = gs["y"].to_numpy()
            pooled.append(fast_metrics(gs["y"].to_numpy(), gs["p_si"].to_numpy()))
            p_by_seed.append(gs["p_si"].to_numpy())
            for _, gf in gs.groupby("fold"):
                m = fast_metrics(gf["y"].to_numpy(), gf["p_si"].to_numpy())
                per_fold.append(m)
        row = {"scheme": scheme, "model": model, "n_seeds": len(pooled), "n_folds": len(per_fold) // max(len(pooled), 1)}
        for met in ("auc_pr", "mcc"):
            vals = np.array([m[met] for m in pooled])
            row[f"pooled_{met}"] = float(vals.mean())
            row[f"pooled_{met}_seed_std"] = float(vals.std())
            if n_boot:
                row[f"pooled_{met}_lo"], row[f"pooled_{met}_hi"] = bootstrap_interval(y_ref, p_by_seed, met, n_boot)
            fv = np.array([m[met] for m in per_fold], dtype=float)
            row[f"fold_{met}_mean"] = float(np.nanmean(fv))
            row[f"fold_{met}_std"] = float(np.nanstd(fv))
        out.append(row)
    return pd.DataFrame(out)


def selection_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Markdown-ready table: LOCO pooled (interval), LOCO per cluster, k-fold pooled beside; sorted by LOCO AUC-PR."""
    def fmt(r, met):
        s = f"{r[f'pooled_{met}']:.2f}"
        if f"pooled_{met}_lo" in r and np.isfinite(r.get(f"pooled_{met}_lo", np.nan)):
            s += f" [{r[f'pooled_{met}_lo']:.2f}, {r[f'pooled_{met}_hi']:.2f}]"
        return s

    lo = scores[scores["scheme"] == "loco"].set_index("model")
    kf = scores[scores["scheme"] == "kfold"].set_index("model")
    rows = []
    for m, r in lo.sort_values("pooled_auc_pr", ascending=False).iterrows():
        row = {"model": m, "LOCO pooled AUC-PR [95% CI]": fmt(r, "auc_pr"), "LOCO pooled MCC [95% CI]": fmt(r, "mcc"),
               "LOCO per-cluster AUC-PR": f"{r['fold_auc_pr_mean']:.2f} ± {r['fold_auc_pr_std']:.2f}",
               "LOCO per-cluster MCC": f"{r['fold_mcc_mean']:.2f} ± {r['fold_mcc_std']:.2f}"}
        if m in kf.index:
            k = kf.loc[m]
            row["k-fold pooled AUC-PR / MCC"] = f"{k['pooled_auc_pr']:.2f} / {k['pooled_mcc']:.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


def reliability_table(y, p_si, n_bins: int = 10) -> pd.DataFrame:
    """Reliability diagram data: per equal-width P_SI bin the mean predicted P_SI, the observed superionic
    fraction and the count (empty bins dropped)."""
    y = np.asarray(y, float)
    p = np.asarray(p_si, float)
    b = np.clip((p * n_bins).astype(int), 0, n_bins - 1)
    df = pd.DataFrame({"bin": b, "p": p, "y": y}).groupby("bin").agg(p_mean=("p", "mean"), observed=("y", "mean"), n=("y", "size"))
    df["bin_lo"], df["bin_hi"] = df.index / n_bins, (df.index + 1) / n_bins
    return df.reset_index(drop=True)[["bin_lo", "bin_hi", "p_mean", "observed", "n"]]


def calibration_errors(y, p_si, n_bins: int = 10) -> dict[str, float]:
    """Brier score and expected calibration error (count-weighted |observed − predicted| over bins)."""
    t = reliability_table(y, p_si, n_bins)
    y = np.asarray(y, float)
    return {"brier": float(np.mean((np.asarray(p_si, float) - y) ** 2)),
            "ece": float((t["n"] * (t["observed"] - t["p_mean"]).abs()).sum() / t["n"].sum())}


def cross_fitted_isotonic(oof_fold: pd.DataFrame) -> np.ndarray:
    """Isotonic recalibration of out-of-fold P_SI where each fold's calibrator is fitted on the *other* folds'
    out-of-fold predictions (columns fold, y, p_si of one scheme/seed/model); returns calibrated P_SI in row order."""
    from sklearn.isotonic import IsotonicRegression

    out = np.empty(len(oof_fold))
    f, y, p = oof_fold["fold"].to_numpy(), oof_fold["y"].to_numpy(float), oof_fold["p_si"].to_numpy(float)
    for k in np.unique(f):
        iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p[f != k], y[f != k])
        out[f == k] = iso.predict(p[f == k])
    return out


def loco_regression(model_factory: Callable[[int], Any], X: np.ndarray, y, log10_sigma, folds: Mapping[int, np.ndarray]) -> pd.DataFrame:
    """Out-of-fold log10 σ of a :class:`~sicnb.classify.tabular.TabularModel`-like model (``fit(X, y, log10_sigma)``,
    ``predict_frame``) on each seed's LOCO clusters, beside the training-mean predictor. Columns seed, fold, row,
    log10_sigma, pred, lo, hi, mean_pred, p_si, y."""
    s = np.asarray(log10_sigma, float)
    y = np.asarray(y).astype(int)
    rows = []
    for seed, cl in folds.items():
        for fold, tr, va in loco_splits(cl):
            m = model_factory(seed).fit(X[tr], y[tr], s[tr])
            pf = m.predict_frame(X[va])
            rows.append(pd.DataFrame({"seed": seed, "fold": fold, "row": va, "log10_sigma": s[va], "y": y[va],
                                      "pred": pf["log10_sigma_pred"].to_numpy(), "lo": pf["log10_sigma_lo"].to_numpy(),
                                      "hi": pf["log10_sigma_hi"].to_numpy(), "p_si": pf["p_si"].to_numpy(),
                                      "mean_pred": np.nanmean(s[tr])}))
    return pd.concat(rows, ignore_index=True)


def paired_difference(y, p_a, p_b, n_boot: int = 2000, random_state: int = 0, level: float = 0.95) -> dict[str, tuple[float, float, float]]:
    """Model A − model B on the same entries: {metric: (difference, lo, hi)} with a paired bootstrap interval."""
    y = np.asarray(y).astype(int)
    p_a, p_b = np.asarray(p_a, float), np.asarray(p_b, float)
    rng = np.random.default_rng(random_state)
    diffs: dict[str, list[float]] = {"auc_pr": [], "mcc": []}
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() == y[i].max():
            continue
        a, b = fast_metrics(y[i], p_a[i]), fast_metrics(y[i], p_b[i])
        for k in diffs:
            diffs[k].append(a[k] - b[k])
    full_a, full_b = fast_metrics(y, p_a), fast_metrics(y, p_b)
    q = ((1 - level) / 2, 1 - (1 - level) / 2)
    return {k: (full_a[k] - full_b[k], *map(float, np.quantile(v, q))) for k, v in diffs.items()}


class ElmdKNNRegressor(_ElmdNeighbours):
    """log10 σ as the inverse-distance-weighted mean of the ``k`` nearest training compositions in ElMD
    (``X`` = row indices into ``D``, as :class:`ElmdKNN`; ``fit(X, log10_sigma)``)."""

    def predict(self, X):
        return self._neighbour_mean(X)


def repeated_loco_regression(models: Mapping[str, tuple[Any, Callable[[int], Any]]], log10_sigma, folds: Mapping[int, np.ndarray],
                             extras: Mapping[str, tuple[Any, np.ndarray, np.ndarray]] | None = None) -> pd.DataFrame:
    """Out-of-fold log10 σ of regressors (``fit``/``predict``) on each seed's LOCO clusters (the classification
    folds of :func:`repeated_loco`), beside the training mean. ``extras`` as in :func:`repeated_loco` (training-only
    entries that join a fold when their anchor row is in its training part). Columns seed, model, fold, row,
    log10_sigma, pred."""
    s = np.asarray(log10_sigma, float)
    rows = []
    for seed, cl in folds.items():
        for fold, tr, va in loco_splits(cl):
            preds = {"mean": np.full(len(va), s[tr].mean())}
            for name, (X, factory) in models.items():
                if extras and name in extras:
                    Xe, se, anchor = extras[name]
                    use = np.isin(anchor, tr)
                    m = factory(seed).fit(np.vstack([_take(X, tr), Xe[use]]), np.concatenate([s[tr], np.asarray(se)[use]]))
                else:
                    m = factory(seed).fit(_take(X, tr), s[tr])
                preds[name] = np.asarray(m.predict(_take(X, va)), float)
            for name, p in preds.items():
                rows.append(pd.DataFrame({"seed": seed, "model": name, "fold": fold, "row": va, "log10_sigma": s[va], "pred": p}))
    return pd.concat(rows, ignore_index=True)


def score_regression(oof: pd.DataFrame) -> pd.DataFrame:
    """Per model: pooled out-of-fold MAE and Spearman ρ (mean ± std over seeds) and the per-cluster MAE (mean ± std
    over clusters and seeds), sorted by pooled MAE."""
    out = []
    for name, g in oof.groupby("model", sort=False):
        err = (g["pred"] - g["log10_sigma"]).abs()
        per_seed = pd.DataFrame({"mae": err.groupby(g["seed"]).mean(),
                                 "spearman": [h["pred"].corr(h["log10_sigma"], method="spearman") for _, h in g.groupby("seed")]})
        per_fold = err.groupby([g["seed"], g["fold"]]).mean()
        out.append({"model": name, "pooled_mae": float(per_seed["mae"].mean()), "pooled_mae_seed_std": float(per_seed["mae"].std(ddof=0)),
                    "spearman": float(per_seed["spearman"].mean()), "cluster_mae_mean": float(per_fold.mean()),
                    "cluster_mae_std": float(per_fold.std(ddof=0))})
    return pd.DataFrame(out).sort_values("pooled_mae").reset_index(drop=True)
