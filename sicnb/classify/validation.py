"""Validation of McHaffie et al. 2025 (§2.2–2.3, Methods 4.2): random k-fold and leave-one-cluster-out
(LOCO) cross-validation, AUC-PR and MCC, shuffled and mean controls (Hargreaves et al.).

LOCO clusters (Methods 4.2): compositions → Element Mover's Distance (ElMD, modified Pettifor scale)
→ UMAP (precomputed metric, ``spread=5``) → DBSCAN (``eps=4``). ElMD on the 1-D modified Pettifor
scale is the 1-D earth mover's distance between the two normalised compositions, computed here in
closed form (sum of |CDF differences| along the scale) and tested against ``ElMD.elmd``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from sicnb.errors import InputError, ParameterError, require

__all__ = [
    "classification_metrics", "control_metrics", "elmd_distance_matrix", "loco_clusters",
    "kfold_splits", "loco_splits", "cross_validate", "summarize_cv", "SUPERIONIC_LOG10_S_CM",
]

#: σ_exp ≥ 1e-4 S/cm is "superionic" (§2.1, Fig. 6)
SUPERIONIC_LOG10_S_CM = -4.0


def classification_metrics(y_true, p_si, threshold: float = 0.5) -> dict[str, float]:
    """AUC-PR (average precision) and MCC at ``threshold`` (paper: P_SI ≥ 0.5 ⇒ superionic)."""
    from sklearn.metrics import average_precision_score, matthews_corrcoef

    y = np.asarray(y_true).astype(int)
    p = np.asarray(p_si, dtype=float)
    if len(y) != len(p):
        raise ParameterError(f"{len(y)} labels but {len(p)} predictions")
    if len(y) == 0:
        return {"auc_pr": float("nan"), "mcc": float("nan")}
    auc = float(average_precision_score(y, p)) if y.any() else float("nan")
    return {"auc_pr": auc, "mcc": float(matthews_corrcoef(y, (p >= threshold).astype(int)))}


def control_metrics(y_val, y_train, random_state: int = 0) -> dict[str, dict[str, float]]:
    """Controls of Hargreaves et al. as used in §2.2: *shuffled* — the validation labels randomly
    permuted are the predictions; *mean* — the training-set mean is predicted for every compound
    (AUC-PR = validation prevalence, MCC = 0)."""
    y_val = np.asarray(y_val).astype(int)
    rng = np.random.default_rng(random_state)
    shuffled = rng.permutation(y_val).astype(float)
    mean = np.full(len(y_val), float(np.mean(y_train)))
    return {"shuffled": classification_metrics(y_val, shuffled), "mean": classification_metrics(y_val, mean)}


def _pettifor_cdfs(compositions: Sequence[str]) -> np.ndarray:
    require("ElMD", pip_name="ElMD")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ElMD import ElMD

    rows = []
    scale = None
    for i, comp in enumerate(compositions):
        try:
            e = ElMD(str(comp), metric="mod_petti")
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"composition {i} ({comp!r}) could not be parsed by ElMD: {exc}") from exc
        if scale is None:
            scale = int(max(v for v in e.petti_lookup.values() if isinstance(v, (int, np.integer)))) + 1
        vec = np.zeros(scale)
        for el, x in e.normed_composition.items():
            vec[int(e.petti_lookup[el])] += float(x)
        rows.append(np.cumsum(vec / vec.sum()))
    return np.array(rows)


def elmd_distance_matrix(compositions: Sequence[str]) -> np.ndarray:
    """Pairwise ElMD (modified Pettifor scale) between compositions, shape (n, n)."""
    from scipy.spatial.distance import cdist

    cdfs = _pettifor_cdfs(compositions)
    return cdist(cdfs, cdfs, metric="cityblock")


def loco_clusters(compositions: Sequence[str], spread: float = 5.0, eps: float = 4.0, min_samples: int = 5,
                  n_neighbors: int = 15, random_state: int = 0, assign_noise: bool = True) -> pd.DataFrame:
    """LOCO clusters of Methods 4.2: ElMD → UMAP(spread=5, 2-D, precomputed) → DBSCAN(eps=4).

    DBSCAN noise points (label −1) are given the cluster of their nearest clustered neighbour in the
    UMAP plane when ``assign_noise`` (the paper does not say how it handled noise). Returns a table
    with ``umap_x``, ``umap_y``, ``dbscan_label`` and ``cluster``.
    """
    umap = require("umap", extra="methods", pip_name="umap-learn")
    from sklearn.cluster import DBSCAN

    if len(compositions) < max(n_neighbors + 1, min_samples + 1):
        raise ParameterError(f"LOCO clustering needs more than {max(n_neighbors, min_samples)} compositions, got {len(compositions)}")
    d = elmd_distance_matrix(compositions)
    reducer = umap.UMAP(metric="precomputed", spread=spread, n_neighbors=n_neighbors, n_components=2,
                        random_state=random_state, n_jobs=1)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        emb = reducer.fit_transform(d)
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(emb)
    cluster = labels.copy()
    if assign_noise and (labels >= 0).any() and (labels < 0).any():
        good = np.where(labels >= 0)[0]
        for i in np.where(labels < 0)[0]:
            cluster[i] = labels[good[np.argmin(np.linalg.norm(emb[good] - emb[i], axis=1))]]
    return pd.DataFrame({"composition": list(compositions), "umap_x": emb[:, 0], "umap_y": emb[:, 1],
                         "dbscan_label": labels, "cluster": cluster})


def kfold_splits(n: int, n_splits: int = 5, random_state: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Random k-fold (Methods 4.2: 5 folds, 80:20) → [(name, train_idx, val_idx)]."""
    from sklearn.model_selection import KFold

    kf = KFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    return [(f"fold{i}", tr, va) for i, (tr, va) in enumerate(kf.split(np.arange(n)))]


def loco_splits(clusters: Sequence[int], min_size: int = 1) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """One split per cluster: validate on it, train on the rest."""
    c = np.asarray(clusters)
    out = []
    for k in sorted(set(c.tolist())):
        va = np.where(c == k)[0]
        if len(va) >= min_size:
            out.append((f"cluster{k}", np.where(c != k)[0], va))
    return out


def cross_validate(X: Sequence[Any], y, model_factory: Callable[[], Any], splits, random_state: int = 0,
                   controls: bool = True, label: str = "model") -> pd.DataFrame:
    """Fit ``model_factory()`` on each split's training part and score its validation part.

    ``X`` is indexable per structure (a list of atom-feature matrices or a 2-D array). Returns one row
    per (split, model): ``split``, ``model`` (``label``, ``shuffled``, ``mean``), ``auc_pr``, ``mcc``,
    ``n_val``, ``n_pos_val``. A split whose training part has one class only is reported with NaNs.
    """
    y = np.asarray(y).astype(int)
    rows = []
    for name, tr, va in splits:
        Xtr = [X[i] for i in tr] if not isinstance(X, np.ndarray) else X[tr]
        Xva = [X[i] for i in va] if not isinstance(X, np.ndarray) else X[va]
        base = {"split": name, "n_val": int(len(va)), "n_pos_val": int(y[va].sum())}
        if len(set(y[tr].tolist())) < 2:
            rows.append({**base, "model": label, "auc_pr": np.nan, "mcc": np.nan})
            continue
        model = model_factory()
        model.fit(Xtr, y[tr])
        p = model.predict_proba(Xva)[:, 1]
        rows.append({**base, "model": label, **classification_metrics(y[va], p)})
        if controls:
            for cname, m in control_metrics(y[va], y[tr], random_state=random_state).items():
                rows.append({**base, "model": cname, **m})
    return pd.DataFrame(rows)


def summarize_cv(table: pd.DataFrame, by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """Mean and standard deviation of AUC-PR and MCC over splits (the error bars of Figs. 3–5)."""
    g = table.groupby(list(by))[["auc_pr", "mcc"]]
    out = g.mean().add_suffix("_mean").join(g.std().add_suffix("_std"))
    out["n_splits"] = table.groupby(list(by)).size()
    return out.reset_index()
