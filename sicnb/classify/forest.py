"""Tree-ensemble superionic classifier + log10 σ regressor on pooled, disorder-aware features (issue 17).

Chosen by repeated leave-one-cluster-out CV (``bench/bench_classify.py select``; McHaffie et al. 2025,
Methods 4.2 clusters) over the paper's AtomSets networks, see ``bench/RESULTS.md``. Features per
structure (blocks, concatenated in the order given): ``site_pool`` — mean/std/max/min over sites of
the occupancy-weighted MEGNet-16 embeddings (V0 rows, §2.2); ``magpie`` — matminer Magpie
``ElementProperty`` of the structure's composition; ``comp_pool`` — element embeddings pooled by
composition.

Outputs: ``p_si`` (mean tree probability), ``p_si_std`` (std over ``n_groups`` groups of trees, the
analogue of the paper's ensemble std), ``log10_sigma_pred`` (mean regression-tree prediction) with
``log10_sigma_lo``/``_hi`` (10th/90th percentile over regression trees), ``d_training`` (distance to
the nearest training entry in PCA-whitened standardised feature space, §2.4) and ``in_training`` (the
reduced composition is one of the card's training compositions).

Persistence is JSON only (trees as node arrays; nothing unpickled); predictions equal scikit-learn's.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from sicnb.errors import ModelUnavailableError, ParameterError

__all__ = ["FORMAT", "FEATURE_BLOCKS", "ForestModel", "trees_to_json", "tree_predictions", "tabular_features",
           "reduced_formula", "train_forest", "labels_sha256"]

FORMAT = "sicnb-forest/1"
FEATURE_BLOCKS = ("site_pool", "magpie", "comp_pool")


def reduced_formula(composition: str | Composition) -> str:
    """Reduced formula used to match compositions (``in_training``); '' when unparsable."""
    try:
        c = Composition(composition) if not isinstance(composition, Composition) else composition
        return c.reduced_formula
    except Exception:  # noqa: BLE001 - unparsable compositions simply do not match
        return ""


def tabular_features(items, blocks: Sequence[str] = ("site_pool", "magpie"), cache_dir: Any = None,
                     n_workers: int = 1, progress: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """(table id → formula, is_disordered, error; feature matrix of the rows without error, in table order).

    Structure blocks go through :func:`sicnb.parallel.pmap` (cached); composition blocks use the
    structure's composition. Failures are rows with an ``error`` and no feature row.
    """
    from sicnb.classify.selection import POOLED_COLUMNS, composition_embeddings, magpie_features, pooled_site_embeddings
    from sicnb.parallel import as_records, pmap

    bad = [b for b in blocks if b not in FEATURE_BLOCKS]
    if bad:
        raise ParameterError(f"unknown feature blocks {bad}; choose from {FEATURE_BLOCKS}")
    records = as_records(items)
    tab = pmap(pooled_site_embeddings, records, {"representation": "CAMN"}, cache_dir=cache_dir, n_workers=n_workers,
               progress=progress, desc="pooled V0")
    structures = {r.id: r.structure for r in records if r.structure is not None}
    tab["error"] = tab["error"].fillna("") if "error" in tab else ""
    tab["formula"] = [structures[i].composition.reduced_formula if i in structures else "" for i in tab.index]
    tab["is_disordered"] = [(not structures[i].is_ordered) if i in structures else np.nan for i in tab.index]
    tab["n_atoms"] = [len(structures[i]) if i in structures else np.nan for i in tab.index]
    ok = [i for i in tab.index if not tab.loc[i, "error"] and i in structures]
    parts = []
    for b in blocks:
        if b == "site_pool":
            parts.append(tab.loc[ok, list(POOLED_COLUMNS)].to_numpy(float) if ok else np.zeros((0, len(POOLED_COLUMNS))))
        elif b == "magpie":
            parts.append(magpie_features([structures[i].composition for i in ok]) if ok else np.zeros((0, 132)))
        else:
            parts.append(np.array([composition_embeddings(structures[i].composition) for i in ok]).reshape(len(ok), 64))
    X = np.hstack(parts) if parts else np.zeros((len(ok), 0))
    out = tab[["formula", "n_atoms", "is_disordered", "error"]].copy()
    out["has_features"] = out.index.isin(ok)
    return out, X


def trees_to_json(forest) -> list[dict]:
    """Node arrays of every tree of a fitted scikit-learn forest; ``value`` = P(class 1) for a classifier,
    the mean target for a regressor."""
    out = []
    for est in forest.estimators_:
        t = est.tree_
        v = t.value[:, 0, :]
        if v.shape[1] > 1:
            v = v[:, 1] / v.sum(axis=1)
        else:
            v = v[:, 0]
        out.append({"left": t.children_left.tolist(), "right": t.children_right.tolist(), "feature": t.feature.tolist(),
                    "threshold": t.threshold.tolist(), "value": v.tolist()})
    return out


def tree_predictions(trees: Sequence[dict], X: np.ndarray) -> np.ndarray:
    """(n_trees, n_rows) predictions of JSON trees (X compared in float32, as scikit-learn does)."""
    X = np.asarray(X, dtype=np.float32).astype(np.float64)
    out = np.empty((len(trees), len(X)))
    rows = np.arange(len(X))
    for k, t in enumerate(trees):
        left, right = t["left"], t["right"]
        feat, thr, val = t["feature"], t["threshold"], t["value"]
        node = np.zeros(len(X), dtype=np.int64)
        active = left[node] != -1
        while active.any():
            n = node[active]
            go_left = X[rows[active], feat[n]] <= thr[n]
            node[active] = np.where(go_left, left[n], right[n])
            active = left[node] != -1
        out[k] = val[node]
    return out


def _arrays(trees: Sequence[dict]) -> list[dict]:
    return [{"left": np.asarray(t["left"], np.int64), "right": np.asarray(t["right"], np.int64),
             "feature": np.asarray(t["feature"], np.int64), "threshold": np.asarray(t["threshold"], np.float64),
             "value": np.asarray(t["value"], np.float64)} for t in trees]


class ForestModel:
    """Random-forest P_SI classifier and log10 σ regressor on fixed-length features (see module docstring).

    Parameters: ``blocks`` (feature blocks), ``n_estimators``, ``min_samples_leaf``, ``class_weight``,
    ``n_groups`` (tree groups for ``p_si_std``), ``quantiles`` (of the regression trees for the σ interval),
    ``random_state``.
    """

    def __init__(self, blocks: Sequence[str] = ("site_pool", "magpie"), n_estimators: int = 300, min_samples_leaf: int = 1,
                 class_weight: str | None = None, n_groups: int = 10, quantiles: tuple[float, float] = (0.1, 0.9),
                 random_state: int = 0):
        self.blocks = tuple(blocks)
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.class_weight = class_weight
        self.n_groups = n_groups
        self.quantiles = tuple(quantiles)
        self.random_state = random_state
        self.card_: dict = {}

    # sklearn-style
    def get_params(self, deep: bool = False) -> dict:
        return {k: getattr(self, k) for k in ("blocks", "n_estimators", "min_samples_leaf", "class_weight", "n_groups",
                                               "quantiles", "random_state")}

    def fit(self, X: np.ndarray, y, log10_sigma=None) -> "ForestModel":
        """Fit the classifier on ``y`` (0/1) and, when given, the regressor on ``log10_sigma`` (finite rows)."""
        from sklearn.decomposition import PCA
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        X = np.asarray(X, float)
        y = np.asarray(y).astype(int)
        if len(X) != len(y) or len(set(y.tolist())) < 2:
            raise ParameterError(f"need matching X ({len(X)}) and y ({len(y)}) with both classes")
        clf = RandomForestClassifier(n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
                                     class_weight=self.class_weight, random_state=self.random_state, n_jobs=1).fit(X, y)
        self.clf_trees_ = _arrays(trees_to_json(clf))
        self.reg_trees_ = []
        if log10_sigma is not None:
            s = np.asarray(log10_sigma, float)
            ok = np.isfinite(s)
            reg = RandomForestRegressor(n_estimators=self.n_estimators, min_samples_leaf=max(2, self.min_samples_leaf),
                                        random_state=self.random_state, n_jobs=1).fit(X[ok], s[ok])
            self.reg_trees_ = _arrays(trees_to_json(reg))
        self.scale_mean_ = X.mean(axis=0)
        self.scale_std_ = np.where(X.std(axis=0) > 1e-12, X.std(axis=0), 1.0)
        Z = (X - self.scale_mean_) / self.scale_std_
        pca = PCA(n_components=0.95, whiten=True, svd_solver="full").fit(Z)
        self.pca_mean_, self.pca_components_ = pca.mean_, pca.components_
        self.pca_scale_ = np.sqrt(pca.explained_variance_)
        self.train_vectors_ = self._whiten(X)
        self.n_features_in_ = X.shape[1]
        self.n_train_ = len(y)
        return self

    def _whiten(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, float) - self.scale_mean_) / self.scale_std_
        return (Z - self.pca_mean_) @ self.pca_components_.T / self.pca_scale_

    def _check(self):
        if not hasattr(self, "clf_trees_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("ForestModel is not fitted; fit() it or load_model()")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        self._check()
        p = tree_predictions(self.clf_trees_, X).mean(axis=0)
        return np.stack([1 - p, p], axis=1)

    def d_training(self, X: np.ndarray) -> np.ndarray:
        from scipy.spatial import cKDTree

        self._check()
        return cKDTree(self.train_vectors_).query(self._whiten(X), k=1)[0]

    def training_formulas(self) -> set[str]:
        """Reduced formulas of every training entry listed in the card (reported and structure compositions)."""
        out = set()
        for e in self.card_.get("training_entries", []):
            for k in ("reduced_composition", "structure_formula"):
                f = reduced_formula(e.get(k, "") or "")
                if f:
                    out.add(f)
        return out

    def predict_frame(self, X: np.ndarray, ids: Sequence[str] | None = None, formulas: Sequence[str] | None = None) -> pd.DataFrame:
        """p_si, p_si_std, superionic, d_training, log10_sigma_pred/lo/hi, in_training (when ``formulas`` given)."""
        self._check()
        index = pd.Index(list(ids) if ids is not None else range(len(X)), name="id")
        cols = ["p_si", "p_si_std", "d_training", "superionic", "log10_sigma_pred", "log10_sigma_lo", "log10_sigma_hi"]
        if len(X) == 0:
            return pd.DataFrame(columns=cols + ["in_training"], index=index)
        P = tree_predictions(self.clf_trees_, X)
        groups = np.array_split(np.arange(len(P)), min(self.n_groups, len(P)))
        df = pd.DataFrame({"p_si": P.mean(axis=0), "p_si_std": np.std([P[g].mean(axis=0) for g in groups], axis=0),
                           "d_training": self.d_training(X)}, index=index)
        df["superionic"] = df["p_si"] >= 0.5
        if self.reg_trees_:
            R = tree_predictions(self.reg_trees_, X)
            df["log10_sigma_pred"] = R.mean(axis=0)
            df["log10_sigma_lo"], df["log10_sigma_hi"] = np.quantile(R, self.quantiles[0], axis=0), np.quantile(R, self.quantiles[1], axis=0)
        else:
            df["log10_sigma_pred"] = df["log10_sigma_lo"] = df["log10_sigma_hi"] = np.nan
        if formulas is not None:
            train = self.training_formulas()
            df["in_training"] = [reduced_formula(f) in train if f else False for f in formulas]
        return df

    # -- persistence -----------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike, card: dict | None = None) -> Path:
        """Write ``model.json`` (configuration, scaling, PCA, training vectors, card) and ``trees.json``."""
        self._check()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        ser = lambda trees: [{k: v.tolist() for k, v in t.items()} for t in trees]  # noqa: E731
        ttext = json.dumps({"format": FORMAT, "classifier": ser(self.clf_trees_), "regressor": ser(self.reg_trees_)},
                           separators=(",", ":"))
        if card is not None:
            self.card_ = card
        meta = {"format": FORMAT, "params": {**self.get_params(), "blocks": list(self.blocks), "quantiles": list(self.quantiles)},
                "n_features_in": self.n_features_in_, "n_train": self.n_train_,
                "scale_mean": self.scale_mean_.tolist(), "scale_std": self.scale_std_.tolist(),
                "pca_mean": self.pca_mean_.tolist(), "pca_components": self.pca_components_.tolist(),
                "pca_scale": self.pca_scale_.tolist(), "train_vectors": np.round(self.train_vectors_, 6).tolist(),
                "trees_sha256": hashlib.sha256(ttext.encode()).hexdigest(), "card": self.card_}
        (d / "trees.json").write_text(ttext)
        (d / "model.json").write_text(json.dumps(meta, indent=1))
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "ForestModel":
        """Load a folder written by :meth:`save` (checks the trees' SHA-256)."""
        d = Path(directory)
        try:
            meta = json.loads((d / "model.json").read_text())
            ttext = (d / "trees.json").read_text()
        except (OSError, ValueError) as exc:
            raise ModelUnavailableError(f"No readable sicnb forest classifier in {d} ({exc}); train one with `sicnb classify train`.") from exc
        if meta.get("format") != FORMAT:
            raise ModelUnavailableError(f"{d}/model.json has format {meta.get('format')!r}, expected {FORMAT!r}")
        if hashlib.sha256(ttext.encode()).hexdigest() != meta.get("trees_sha256"):
            raise ModelUnavailableError(f"{d}/trees.json does not match the checksum in model.json; the model folder is corrupt")
        p = meta["params"]
        obj = cls(**{**p, "blocks": tuple(p["blocks"]), "quantiles": tuple(p["quantiles"])})
        trees = json.loads(ttext)
        obj.clf_trees_, obj.reg_trees_ = _arrays(trees["classifier"]), _arrays(trees["regressor"])
        for k in ("scale_mean", "scale_std", "pca_mean", "pca_components", "pca_scale", "train_vectors"):
            setattr(obj, k + "_", np.asarray(meta[k], float))
        obj.n_features_in_, obj.n_train_ = int(meta["n_features_in"]), int(meta["n_train"])
        obj.card_ = meta.get("card", {})
        return obj

    # the feature spec a caller needs (mirrors SuperionicEnsemble's attributes used by predict())
    level = 0
    representation = "CAMN"
    mobile_ion = "Li"


def labels_sha256(entries: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of the training entries (id, reduced composition, log10 σ to 1e-6, label), sorted by id."""
    lines = sorted(f"{e['id']}\t{e.get('reduced_composition', '')}\t{float(e.get('log10_sigma', np.nan)):.6f}\t{int(e['y'])}"
                   for e in entries)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def train_forest(dataset, blocks: Sequence[str] = ("site_pool", "magpie"), n_estimators: int = 300, min_samples_leaf: int = 1,
                 class_weight: str | None = None, random_state: int = 0, source: str = "obelix:train",
                 cache_dir: Any = None, n_workers: int = 1, progress: bool = False) -> tuple["ForestModel", dict]:
    """Fit a :class:`ForestModel` on the labelled structures of ``dataset`` (see
    :func:`~sicnb.classify.screening.training_set`) and return it with its card: every training entry (id,
    source, reported reduced composition, structure formula, log10 σ, label), the labels' SHA-256 and the
    fitted configuration. Callers add the command and validation metrics."""
    from sicnb.classify.screening import training_set

    recs, labels = training_set(dataset)
    tab, X = tabular_features(recs, blocks, cache_dir=cache_dir, n_workers=n_workers, progress=progress)
    ok = list(tab.index[tab["has_features"]])
    lab = labels.loc[ok]
    model = ForestModel(blocks, n_estimators=n_estimators, min_samples_leaf=min_samples_leaf, class_weight=class_weight,
                        random_state=random_state).fit(X, lab["y"].to_numpy(), lab["log10_sigma"].to_numpy(float))
    entries = [{"id": i, "source": source, "reduced_composition": str(lab.at[i, "reduced_composition"] or ""),
                "structure_formula": tab.at[i, "formula"], "log10_sigma": round(float(lab.at[i, "log10_sigma"]), 6),
                "sigma_censored": str(lab.at[i, "sigma_censored"] or "") if "sigma_censored" in lab else "",
                "y": int(lab.at[i, "y"])} for i in ok]
    card = {"format": FORMAT, "data": [source], "n_train": len(ok), "positive_fraction": float(lab["y"].mean()),
            "label": "superionic = sigma_exp >= 1e-4 S/cm (log10_sigma >= -4); regression target log10(sigma_RT / S cm-1)",
            "features": list(blocks), "params": {**model.get_params(), "blocks": list(blocks), "quantiles": list(model.quantiles)},
            "labels_sha256": labels_sha256(entries), "n_failed_featurisation": int(len(recs) - len(ok)),
            "training_entries": entries}
    model.card_ = card
    return model, card
