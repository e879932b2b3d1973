"""Tabular superionic classifier + log10 σ regressor on fixed-length structure features (issue 17).

Chosen by repeated leave-one-cluster-out CV (``bench/bench_classify.py select``; the LOCO clusters of
McHaffie et al. 2025, Methods 4.2) over the paper's AtomSets networks, see ``bench/RESULTS.md``: the shipped
default is a logistic regression on the five Sendek et al. (2017) features (``classifier="logistic"``,
``blocks=("sendek",)``) with a random-forest regression of log10 σ on the same features. Feature blocks (concatenated in the order given):
``sendek`` — LLB, SBI, AFC, LASD, LLSD (:mod:`sicnb.classify.sendek`); ``site_pool`` — mean/std/max/min over
sites of the occupancy-weighted MEGNet-16 embeddings (V0 rows, §2.2); ``magpie`` — matminer Magpie
``ElementProperty`` of the structure's composition; ``comp_pool`` — element embeddings pooled by composition.

Outputs: ``p_si`` and ``p_si_std`` (random forest: mean tree probability and std over ``n_groups`` groups of
trees; logistic: the full-data fit and the std over bootstrap refits — the analogue of the paper's ensemble
std), ``log10_sigma_pred`` with ``log10_sigma_lo``/``_hi`` = prediction + 10th/90th percentile of held-out training
residuals (random forest: out-of-bag; ridge: 5-fold) — per-tree spread was too narrow (LOCO coverage 0.55 of 0.80), ``d_training``
(distance to the nearest training entry in PCA-whitened standardised feature space, §2.4) and ``in_training``
(the reduced composition is one of the card's training compositions). Missing feature values (e.g. SBI) are
imputed with the training medians.

Persistence is JSON only (trees as node arrays, linear models as coefficients; nothing unpickled);
predictions equal scikit-learn's (tested).

Why one module of ~420 lines: the model, its feature blocks, its card and its JSON persistence describe one
shipped artefact; a model file written by one part must be read by the other, so they change together.
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

__all__ = ["FORMAT", "FEATURE_BLOCKS", "TabularModel", "trees_to_json", "tree_predictions", "tabular_features",
           "reduced_formula", "train_tabular", "labels_sha256", "COMPOSITION_BLOCKS", "composition_block_features"]

FORMAT = "sicnb-tabular/1"
FEATURE_BLOCKS = ("site_pool", "magpie", "comp_pool", "sendek")


def reduced_formula(composition: str | Composition) -> str:
    """Reduced formula used to match compositions (``in_training``); '' when unparsable."""
    try:
        c = Composition(composition) if not isinstance(composition, Composition) else composition
        return c.reduced_formula
    except Exception:  # noqa: BLE001 - unparsable compositions simply do not match
        return ""


#: feature blocks computed from the composition alone (no structure needed)
COMPOSITION_BLOCKS = ("magpie", "comp_pool")


def composition_block_features(compositions: Sequence[str | Composition], blocks: Sequence[str] = ("magpie",)) -> np.ndarray:
    """Composition-only feature blocks, concatenated in order: ``magpie`` (132, matminer Magpie ElementProperty) and
    ``comp_pool`` (64, MEGNet-16 element embeddings pooled with the element fractions)."""
    from sicnb.classify.selection import composition_embeddings, magpie_features

    bad = [b for b in blocks if b not in COMPOSITION_BLOCKS]
    if bad:
        raise ParameterError(f"blocks {bad} need a structure; composition-only blocks are {COMPOSITION_BLOCKS}")
    comps = [Composition(c) if not isinstance(c, Composition) else c for c in compositions]
    parts = []
    for b in blocks:
        if b == "magpie":
            parts.append(magpie_features(comps) if comps else np.zeros((0, 132)))
        else:
            parts.append(np.array([composition_embeddings(c) for c in comps]).reshape(len(comps), 64))
    return np.hstack(parts) if parts else np.zeros((len(comps), 0))


def tabular_features(items, blocks: Sequence[str] = ("site_pool", "magpie"), cache_dir: Any = None,
                     n_workers: int = 1, progress: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """(table id → formula, is_disordered, error; feature matrix of the rows without error, in table order).

    Structure blocks go through :func:`sicnb.parallel.pmap` (cached); composition blocks use the
    structure's composition. Failures are rows with an ``error`` and no feature row.
    """
    from sicnb.classify.selection import POOLED_COLUMNS, pooled_site_embeddings
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
    sendek = None
    if "sendek" in blocks and ok:
        from sicnb.classify.sendek import SENDEK_FEATURES, sendek_features

        sen = pmap(sendek_features, [r for r in records if r.id in set(ok)], {}, cache_dir=cache_dir, n_workers=n_workers,
                   progress=progress, desc="Sendek", nan_policy="allow")  # NaN SBI (no bonds) is imputed by the model
        serr = sen["error"].fillna("") if "error" in sen else pd.Series("", index=sen.index)
        for i in ok:
            if serr.get(i, ""):
                tab.loc[i, "error"] = f"Sendek features: {serr[i]}"
        ok = [i for i in ok if not tab.loc[i, "error"]]
        sendek = sen.reindex(ok)[list(SENDEK_FEATURES)].to_numpy(float)  # NaN SBI is imputed by the model
    parts = []
    for b in blocks:
        if b == "site_pool":
            parts.append(tab.loc[ok, list(POOLED_COLUMNS)].to_numpy(float) if ok else np.zeros((0, len(POOLED_COLUMNS))))
        elif b == "sendek":
            parts.append(sendek if sendek is not None else np.zeros((0, 5)))
        else:
            parts.append(composition_block_features([structures[i].composition for i in ok], (b,)))
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


class TabularModel:
    """P_SI classifier and log10 σ regressor on fixed-length features (see module docstring).

    Parameters: ``blocks`` (feature blocks), ``classifier`` (``"rf"`` or ``"logistic"``), ``regressor`` (``"rf"`` or
    ``"ridge"``), ``C`` (logistic regularisation), ``n_estimators`` (trees; logistic: ``n_estimators // 10``
    bootstrap refits), ``min_samples_leaf``, ``class_weight``, ``n_groups`` (tree groups for ``p_si_std``),
    ``quantiles`` (of the σ interval), ``random_state``.
    """

    def __init__(self, blocks: Sequence[str] = ("site_pool", "magpie"), n_estimators: int = 300, min_samples_leaf: int = 1,
                 class_weight: str | None = None, n_groups: int = 10, quantiles: tuple[float, float] = (0.1, 0.9),
                 random_state: int = 0, classifier: str = "rf", regressor: str = "rf", C: float = 1.0):
        if classifier not in ("rf", "logistic") or regressor not in ("rf", "ridge"):
            raise ParameterError(f"classifier must be 'rf' or 'logistic' and regressor 'rf' or 'ridge', not {classifier!r}/{regressor!r}")
        self.classifier = classifier
        self.regressor = regressor
        self.C = C
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
                                               "quantiles", "random_state", "classifier", "regressor", "C")}

    def fit(self, X: np.ndarray, y, log10_sigma=None) -> "TabularModel":
        """Fit the classifier on ``y`` (0/1) and, when given, the regressor on ``log10_sigma`` (finite rows)."""
        from sklearn.decomposition import PCA
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        X = np.asarray(X, float)
        y = np.asarray(y).astype(int)
        if len(X) != len(y) or len(set(y.tolist())) < 2:
            raise ParameterError(f"need matching X ({len(X)}) and y ({len(y)}) with both classes")
        med = np.nanmedian(np.where(np.isfinite(X), X, np.nan), axis=0)
        self.impute_ = np.where(np.isfinite(med), med, 0.0)
        X = self._impute(X)
        self.clf_trees_, self.reg_trees_, self.linear_ = [], [], {}
        if self.classifier == "rf":
            clf = RandomForestClassifier(n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
                                         class_weight=self.class_weight, random_state=self.random_state, n_jobs=1).fit(X, y)
            self.clf_trees_ = _arrays(trees_to_json(clf))
        else:
            self.linear_["classifier"] = self._fit_logistic(X, y)
        if log10_sigma is not None:
            s = np.asarray(log10_sigma, float)
            ok = np.isfinite(s)
            if self.regressor == "rf":
                reg = RandomForestRegressor(n_estimators=self.n_estimators, min_samples_leaf=max(2, self.min_samples_leaf),
                                            oob_score=True, random_state=self.random_state, n_jobs=1).fit(X[ok], s[ok])
                self.reg_trees_ = _arrays(trees_to_json(reg))
                res = s[ok] - reg.oob_prediction_
                self.linear_["rf_residual_quantiles"] = np.quantile(res[np.isfinite(res)], self.quantiles).tolist()
            else:
                self.linear_["regressor"] = self._fit_ridge(X[ok], s[ok])
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

    def _impute(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=float, copy=True)
        bad = ~np.isfinite(X)
        X[bad] = np.broadcast_to(self.impute_, X.shape)[bad]
        return X

    def _fit_logistic(self, X: np.ndarray, y: np.ndarray) -> dict:
        """Standardised logistic regression (Sendek et al. 2017 model) + ``n_estimators // 10`` bootstrap refits for p_si_std."""
        from sklearn.linear_model import LogisticRegression

        mu, sd = X.mean(axis=0), np.where(X.std(axis=0) > 1e-12, X.std(axis=0), 1.0)
        Z = (X - mu) / sd
        fit = lambda Zb, yb: LogisticRegression(C=self.C, max_iter=1000, class_weight=self.class_weight).fit(Zb, yb)  # noqa: E731
        full = fit(Z, y)
        rng = np.random.default_rng(self.random_state)
        members = []
        while len(members) < max(2, self.n_estimators // 10):
            b = rng.integers(0, len(y), len(y))
            if y[b].min() != y[b].max():
                m = fit(Z[b], y[b])
                members.append(np.concatenate([m.coef_[0], m.intercept_]).tolist())
        return {"mean": mu.tolist(), "scale": sd.tolist(), "coef": full.coef_[0].tolist(), "intercept": float(full.intercept_[0]),
                "members": members}

    def _fit_ridge(self, X: np.ndarray, s: np.ndarray) -> dict:
        """Standardised ridge regression of log10 σ; interval = prediction + 5-fold out-of-fold residual quantiles."""
        from sklearn.linear_model import Ridge
        from sklearn.model_selection import cross_val_predict

        mu, sd = X.mean(axis=0), np.where(X.std(axis=0) > 1e-12, X.std(axis=0), 1.0)
        Z = (X - mu) / sd
        m = Ridge(alpha=1.0).fit(Z, s)
        res = s - cross_val_predict(Ridge(alpha=1.0), Z, s, cv=5)
        return {"mean": mu.tolist(), "scale": sd.tolist(), "coef": m.coef_.tolist(), "intercept": float(m.intercept_),
                "residual_quantiles": np.quantile(res, self.quantiles).tolist()}

    def _linear(self, key: str, X: np.ndarray) -> np.ndarray:
        L = self.linear_[key]
        Z = (X - np.asarray(L["mean"])) / np.asarray(L["scale"])
        return Z @ np.asarray(L["coef"]) + L["intercept"]

    def _classifier_members(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P_SI, member P_SI of shape (n_members, n)) of the fitted classifier on imputed ``X``."""
        if self.classifier == "rf":
            P = tree_predictions(self.clf_trees_, X)
            groups = np.array_split(np.arange(len(P)), min(self.n_groups, len(P)))
            return P.mean(axis=0), np.stack([P[g].mean(axis=0) for g in groups])
        L = self.linear_["classifier"]
        Z = (X - np.asarray(L["mean"])) / np.asarray(L["scale"])
        sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
        M = np.asarray(L["members"])
        return sig(Z @ np.asarray(L["coef"]) + L["intercept"]), sig(M[:, :-1] @ Z.T + M[:, -1:])

    def _whiten(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, float) - self.scale_mean_) / self.scale_std_
        return (Z - self.pca_mean_) @ self.pca_components_.T / self.pca_scale_

    def _check(self):
        if not hasattr(self, "impute_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("TabularModel is not fitted; fit() it or load_model()")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        self._check()
        p = self._classifier_members(self._impute(X))[0]
        return np.stack([1 - p, p], axis=1)

    def d_training(self, X: np.ndarray) -> np.ndarray:
        from scipy.spatial import cKDTree

        self._check()
        return cKDTree(self.train_vectors_).query(self._whiten(self._impute(X)), k=1)[0]

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
        X = self._impute(X)
        p, members = self._classifier_members(X)
        df = pd.DataFrame({"p_si": p, "p_si_std": members.std(axis=0), "d_training": self.d_training(X)}, index=index)
        df["superionic"] = df["p_si"] >= 0.5
        if self.reg_trees_:
            r = tree_predictions(self.reg_trees_, X).mean(axis=0)
            q = self.linear_["rf_residual_quantiles"]
            df["log10_sigma_pred"], df["log10_sigma_lo"], df["log10_sigma_hi"] = r, r + q[0], r + q[1]
        elif "regressor" in self.linear_:
            r = self._linear("regressor", X)
            q = self.linear_["regressor"]["residual_quantiles"]
            df["log10_sigma_pred"], df["log10_sigma_lo"], df["log10_sigma_hi"] = r, r + q[0], r + q[1]
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
                "n_features_in": self.n_features_in_, "n_train": self.n_train_, "impute": self.impute_.tolist(),
                "linear": self.linear_,
                "scale_mean": self.scale_mean_.tolist(), "scale_std": self.scale_std_.tolist(),
                "pca_mean": self.pca_mean_.tolist(), "pca_components": self.pca_components_.tolist(),
                "pca_scale": self.pca_scale_.tolist(), "train_vectors": np.round(self.train_vectors_, 6).tolist(),
                "card": self.card_}
        from sicnb.classify.ensemble import write_model_folder

        return write_model_folder(d, "trees", ttext, meta)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "TabularModel":
        """Load a folder written by :meth:`save` (checks the trees' SHA-256)."""
        from sicnb.classify.ensemble import read_model_folder

        meta, ttext = read_model_folder(directory, "trees", FORMAT)
        p = meta["params"]
        obj = cls(**{**p, "blocks": tuple(p["blocks"]), "quantiles": tuple(p["quantiles"])})
        trees = json.loads(ttext)
        obj.clf_trees_, obj.reg_trees_ = _arrays(trees["classifier"]), _arrays(trees["regressor"])
        obj.linear_ = meta.get("linear", {})
        for k in ("impute", "scale_mean", "scale_std", "pca_mean", "pca_components", "pca_scale", "train_vectors"):
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


def train_tabular(dataset, blocks: Sequence[str] = ("site_pool", "magpie"), n_estimators: int = 300, min_samples_leaf: int = 1,
                 class_weight: str | None = None, random_state: int = 0, source: str = "obelix:train",
                 cache_dir: Any = None, n_workers: int = 1, progress: bool = False, classifier: str = "rf",
                 regressor: str = "rf", C: float = 1.0) -> tuple["TabularModel", dict]:
    """Fit a :class:`TabularModel` on the labelled structures of ``dataset`` (see
    :func:`~sicnb.classify.screening.training_set`) and return it with its card: every training entry (id,
    source, reported reduced composition, structure formula, log10 σ, label), the labels' SHA-256 and the
    fitted configuration. Callers add the command and validation metrics."""
    from sicnb.classify.screening import training_set

    recs, labels = training_set(dataset)
    tab, X = tabular_features(recs, blocks, cache_dir=cache_dir, n_workers=n_workers, progress=progress)
    ok = list(tab.index[tab["has_features"]])
    lab = labels.loc[ok]
    model = TabularModel(blocks, n_estimators=n_estimators, min_samples_leaf=min_samples_leaf, class_weight=class_weight,
                        random_state=random_state, classifier=classifier, regressor=regressor,
                        C=C).fit(X, lab["y"].to_numpy(), lab["log10_sigma"].to_numpy(float))
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
