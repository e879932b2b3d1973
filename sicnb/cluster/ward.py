"""Ward agglomerative clustering cut at every depth, and the label-variance score W_σ (thesis §2.3, App. A.1).

* :func:`ward_tree` — scipy's Ward linkage (Ward's minimum-variance criterion, thesis eq. for W) on the
  Euclidean distances between descriptor vectors **as computed**, the way the authors clustered
  (their published code runs ``scipy.cluster.hierarchy.linkage(..., 'ward')`` on pairwise distances of
  the unscaled features, FALL-ML/materials-discovery, Step 5). ``standardize=True`` z-scores every
  column first instead — an option, not the paper: on the open pool it makes the rare SOAP channels
  (a species pair present in a few structures) dominate the top splits, so that W_σ equals the control
  at depths 2–3 (bench/RESULTS.md).
* :func:`cluster_assignments` — the cluster of every structure at each depth (number of clusters)
  2…300; a cluster is named by its scipy linkage node id (leaves 0…n−1, merge i → n+i), so ids are
  stable across depths and match the dendrogram.
* :func:`frozen_ward_variance` — W_σ = Σ_k Σ_{i∈C_k} (y_i − ȳ_k)² with the **frozen-state strategy**
  of App. A.1: a label that is the only label in its cluster keeps the partial variance
  PV_{x,C_k} = (y_x − ȳ_k)² it had at the previous depth (depth 1 = everything in one cluster).
* :func:`random_control` — the control of Table 2.1: random cluster assignments, W averaged over
  100 draws. Default ``mode="permutation"`` assigns the labelled structures to random positions
  of the same tree (same cluster sizes, same nesting, so the frozen-state rule applies exactly as for
  the real clustering); ``mode="uniform"`` draws each label's cluster uniformly among the k clusters
  at every depth independently.
* :func:`w_sigma_curve` — one table row per depth: W, the control mean and std, their ratio.

The same functions give W_Ea (App. A.2) when ``y`` holds activation energies in eV.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from sicnb.errors import InputError, ParameterError

__all__ = [
    "WardTree", "descriptor_matrix", "standardize_features", "ward_tree", "cluster_assignments", "frozen_ward_variance",
    "random_control", "w_sigma_curve", "DEFAULT_DEPTHS",
]

#: clustering depths of the paper (2 … 300 clusters)
DEFAULT_DEPTHS = tuple(range(2, 301))


@dataclass
class WardTree:
    """A Ward hierarchy over ``ids``: scipy linkage matrix ``Z`` and the features ``X`` it was built on."""

    ids: list[str]
    Z: np.ndarray
    X: np.ndarray
    feature_names: list[str]
    dropped: pd.Series  # id -> reason the structure is not in the tree

    @property
    def n_leaves(self) -> int:
        return len(self.ids)


def descriptor_matrix(table: pd.DataFrame, standardize: bool = False) -> tuple[np.ndarray, list[str], list[str], pd.Series]:
    """Descriptor table (id-indexed; optional ``error`` column) → (X, ids, feature names, dropped).

    Rows with an error or a non-finite value are dropped (``dropped`` says why); constant columns are
    dropped (they change no distance); with ``standardize`` the rest is z-scored column-wise.
    """
    df = table.copy()
    errors = df.pop("error") if "error" in df.columns else pd.Series("", index=df.index)
    df = df.drop(columns=[c for c in ("method", "params", "sicnb_version") if c in df.columns])
    df = df.select_dtypes(include=[np.number])
    errors = errors.fillna("").astype(str)
    bad = errors != ""
    nonfinite = ~np.isfinite(df.to_numpy(dtype=float)).all(axis=1) & ~bad.to_numpy()
    dropped = pd.concat([errors[bad], pd.Series("non-finite descriptor value", index=df.index[nonfinite])])
    keep = ~(bad.to_numpy() | nonfinite)
    df = df.loc[keep]
    if len(df) < 2:
        raise InputError(f"only {len(df)} structures have a usable descriptor; at least 2 are needed to cluster")
    X = df.to_numpy(dtype=float)
    std = X.std(axis=0)
    cols = std > 1e-12 * max(1.0, float(np.abs(X).max()))
    if not cols.any():
        raise InputError("every descriptor column is constant over the input; nothing to cluster on")
    X = X[:, cols]
    if standardize:
        X = (X - X.mean(axis=0)) / std[cols]
    return X, [str(i) for i in df.index], [str(c) for c, k in zip(df.columns, cols) if k], dropped


def standardize_features(table: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str], pd.Series]:
    """:func:`descriptor_matrix` with z-scored columns."""
    return descriptor_matrix(table, standardize=True)


def ward_tree(features: pd.DataFrame | np.ndarray, ids: Sequence[str] | None = None, standardize: bool = False) -> WardTree:
    """Ward linkage (scipy, Euclidean) of a descriptor table or matrix.

    Distances are taken on the descriptor as computed (the paper's choice, see the module docstring);
    ``standardize=True`` z-scores the columns first. Error rows, non-finite rows and constant columns of a
    table are dropped (``WardTree.dropped`` says why). Memory: about twice the condensed distance
    matrix, 2 × 8 · n²/2 bytes (5.4 GB for 26,000 structures).
    """
    from scipy.cluster.hierarchy import linkage

    if isinstance(features, pd.DataFrame):
        X, ids_, names, dropped = descriptor_matrix(features, standardize=standardize)
    else:
        X = np.asarray(features, dtype=float)
        ids_ = [str(i) for i in (ids if ids is not None else range(len(X)))]
        names = [f"x{j}" for j in range(X.shape[1])]
        dropped = pd.Series(dtype=str)
        if standardize:
            sd = X.std(axis=0)
            keep = sd > 0
            X = (X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep]
            names = [n for n, k in zip(names, keep) if k]
    if len(X) < 2:
        raise InputError("Ward clustering needs at least 2 structures")
    Z = linkage(X, method="ward", metric="euclidean")
    return WardTree(ids=ids_, Z=Z, X=X, feature_names=names, dropped=dropped)


def _parents(Z: np.ndarray) -> np.ndarray:
    n = Z.shape[0] + 1
    parent = np.full(2 * n - 1, -1, dtype=np.int64)
    kids = Z[:, :2].astype(np.int64)
    parent[kids[:, 0]] = np.arange(n, 2 * n - 1)
    parent[kids[:, 1]] = np.arange(n, 2 * n - 1)
    return parent


def cluster_assignments(tree: WardTree | np.ndarray, depths: Iterable[int] = DEFAULT_DEPTHS) -> pd.DataFrame:
    """Cluster (scipy node id) of every leaf at each depth; columns = depths, index = ids.

    Depth k = the k clusters left after n−k merges. Depths above the number of structures are
    dropped (a tree of n leaves has at most n clusters).
    """
    Z = tree.Z if isinstance(tree, WardTree) else np.asarray(tree)
    ids = tree.ids if isinstance(tree, WardTree) else [str(i) for i in range(Z.shape[0] + 1)]
    n = Z.shape[0] + 1
    depths = sorted({int(d) for d in depths})
    if not depths or depths[0] < 1:
        raise ParameterError(f"depths must be positive integers, got {depths[:5]}")
    depths = [d for d in depths if d <= n]
    if not depths:
        raise ParameterError(f"all requested depths exceed the {n} structures in the tree")
    parent = _parents(Z)
    kmax = depths[-1]
    # nodes present at depth k have ids <= 2n-k-1: climb each leaf to its highest such ancestor
    limit = 2 * n - kmax - 1
    assign = np.arange(n, dtype=np.int64)
    while True:
        p = parent[assign]
        move = (p >= 0) & (p <= limit)
        if not move.any():
            break
        assign[move] = p[move]
    out = np.empty((n, len(depths)), dtype=np.int64)
    col = {d: j for j, d in enumerate(depths)}
    k = kmax
    if k in col:
        out[:, col[k]] = assign
    kids = Z[:, :2].astype(np.int64)
    while k > depths[0]:
        # depth k -> k-1 applies linkage row n-k (creates node 2n-k)
        row = n - k
        a, b = kids[row]
        assign = np.where((assign == a) | (assign == b), n + row, assign)
        k -= 1
        if k in col:
            out[:, col[k]] = assign
    return pd.DataFrame(out, index=pd.Index(ids, name="id"), columns=pd.Index(depths, name="depth"))


def frozen_ward_variance(assignments: np.ndarray, y: np.ndarray) -> np.ndarray:
    """W (thesis eq. for W_σ) per depth with the frozen-state strategy of App. A.1.

    ``assignments``: (n_labels, n_depths) cluster ids of the labelled structures at consecutive depths
    (the first column follows depth 1, where all labels share one cluster); ``y``: the labels
    (log10 σ in log10(S/cm) for W_σ, E_a in eV for W_Ea). Returns W per column.

    PV_x = (y_x − ȳ_{C(x)})²; where x is the only label in its cluster, PV_x keeps its value from
    the previous depth.
    """
    a = np.asarray(assignments)
    y = np.asarray(y, dtype=float)
    if a.ndim != 2 or a.shape[0] != y.shape[0]:
        raise ParameterError(f"assignments must be (n_labels, n_depths) with n_labels = len(y) = {len(y)}, got {a.shape}")
    if not np.isfinite(y).all():
        raise ParameterError("labels must be finite; drop missing labels before scoring")
    W = np.empty(a.shape[1])
    if len(y) == 0:
        W[:] = 0.0
        return W
    prev = (y - y.mean()) ** 2  # depth 1: one cluster
    for j in range(a.shape[1]):
        _, inv, counts = np.unique(a[:, j], return_inverse=True, return_counts=True)
        means = np.bincount(inv, weights=y) / counts
        pv = (y - means[inv]) ** 2
        alone = counts[inv] == 1
        pv[alone] = prev[alone]
        W[j] = pv.sum()
        prev = pv
    return W


def _check_consecutive(depths: Sequence[int]) -> None:
    d = np.asarray(depths)
    if len(d) and (d[0] != 2 and d[0] != 1 or (np.diff(d) != 1).any()):
        raise ParameterError(
            "the frozen-state strategy needs consecutive depths starting at 2 (each depth refers to the previous one); "
            f"got {list(d[:3])}…{list(d[-2:])}. Compute all depths and select afterwards."
        )


def random_control(assignments: pd.DataFrame, labels: pd.Series, n_draws: int = 100, mode: str = "permutation",
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over ``n_draws`` random assignments of frozen-state W per depth (thesis Table 2.1 control)."""
    labels = labels.dropna()
    missing = labels.index.difference(assignments.index)
    if len(missing):
        raise ParameterError(f"{len(missing)} labelled ids are not in the tree, e.g. {list(missing[:3])}")
    _check_consecutive(list(assignments.columns))
    rng = np.random.default_rng(seed)
    y = labels.to_numpy(dtype=float)
    A = assignments.to_numpy()
    depths = np.asarray(assignments.columns, dtype=int)
    draws = np.empty((n_draws, A.shape[1]))
    for t in range(n_draws):
        if mode == "permutation":
            rows = rng.choice(A.shape[0], size=len(y), replace=False)
            draws[t] = frozen_ward_variance(A[rows], y)
        elif mode == "uniform":
            rand = (rng.random((len(y), len(depths))) * depths).astype(np.int64)
            draws[t] = frozen_ward_variance(rand, y)
        else:
            raise ParameterError(f"control mode must be 'permutation' or 'uniform', got {mode!r}")
    return draws.mean(axis=0), draws.std(axis=0)


def w_sigma_curve(assignments: pd.DataFrame, labels: pd.Series, n_control: int = 100, control_mode: str = "permutation",
                  seed: int = 0, name: str = "W_sigma") -> pd.DataFrame:
    """One row per depth: ``depth``, ``W_sigma``, ``W_sigma_control_mean``, ``W_sigma_control_std``,
    ``ratio_to_control`` and ``n_labels`` (App. A.1; with ``name="W_Ea"`` for E_a labels, App. A.2).

    ``labels`` is indexed by id; ids not in the tree are ignored (counted in ``attrs['n_labels_not_clustered']``).
    """
    _check_consecutive(list(assignments.columns))
    lab = labels.dropna()
    lab = lab[np.isfinite(lab.to_numpy(dtype=float))]
    inside = lab.index.isin(assignments.index)
    not_clustered = int((~inside).sum())
    lab = lab[inside]
    if len(lab) < 2:
        raise InputError(f"only {len(lab)} labelled structures are in the clustering; W needs at least 2")
    W = frozen_ward_variance(assignments.loc[lab.index].to_numpy(), lab.to_numpy(dtype=float))
    out = pd.DataFrame({"depth": np.asarray(assignments.columns, dtype=int), name: W})
    if n_control:
        mean, std = random_control(assignments, lab, n_draws=n_control, mode=control_mode, seed=seed)
        out[f"{name}_control_mean"] = mean
        out[f"{name}_control_std"] = std
        out["ratio_to_control"] = W / np.where(mean > 0, mean, np.nan)
    out["n_labels"] = len(lab)
    out.attrs["n_labels_not_clustered"] = not_clustered
    return out
