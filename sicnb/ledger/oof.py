"""Out-of-fold scores of the ledger's supervised methods on a labelled set (issue 22).

Two of the ledger's methods use experimental labels: the classifier (P_SI of a model trained on OBELiX) and
the Ward clustering (a structure is scored by the mean log10 σ of the labelled members of its cluster). To
weigh them against the label-free methods on the labelled OBELiX training split, each must score a structure
without having seen that structure's label — and, for leave-one-cluster-out (LOCO) evaluation, without the
labels of its whole held-out cluster. :func:`oof_scores` does exactly that: for every LOCO fold, the
supervised part is fitted on the other clusters only and scores only the held-out one.

* :class:`ClassifyScorer` — the shipped classifier's model (same :class:`~sicnb.classify.tabular.TabularModel`
  configuration as ``sicnb/classify/default_model``) refitted on the training part of the fold, scoring the
  held-out part through the ledger's classify adapter's own code path (:func:`sicnb.classify.predict`'s
  features and ``predict_frame``).
* :class:`ClusterScorer` — the cluster adapter's Ward assignment (label-free; computed once through
  :data:`sicnb.ledger.methods.CLUSTER`), scored with :func:`~sicnb.ledger.methods.leave_one_out_cluster_scores`
  from the labels of the training part only.
* :func:`loco_folds` — the LOCO clusters of McHaffie et al. 2025 (Methods 4.2) via
  :func:`sicnb.classify.validation.loco_clusters`, one clustering per seed, cached as JSON.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd

from sicnb.data import Dataset
from sicnb.errors import ParameterError

__all__ = ["SupervisedScorer", "ClassifyScorer", "ClusterScorer", "oof_scores", "loco_folds", "labelled_training_set"]


class SupervisedScorer(Protocol):
    """A ledger method whose scores depend on labels: ``score(train_ids, test_ids)`` fits on ``train_ids`` only
    and returns a table indexed by ``test_ids`` with ``score`` (the method's units) and ``error`` ("" when scored)."""

    name: str
    direction: int

    def score(self, train_ids: Sequence[str], test_ids: Sequence[str]) -> pd.DataFrame: ...


def labelled_training_set(source: str = "obelix:train", threshold_log10_s_cm: float = -4.0) -> tuple[Dataset, pd.DataFrame]:
    """The labelled structures of ``source`` (:func:`sicnb.classify.training_set`: a structure with Li and a measured σ)
    as a Dataset, and their labels (index id; ``y`` = 1 when σ > 1e-4 S/cm, ``log10_sigma``, ``composition``)."""
    from sicnb.classify import training_set
    from sicnb.data import load

    recs, labels = training_set(load(source), threshold_log10_s_cm=threshold_log10_s_cm)
    return Dataset(recs, name=f"{source} (labelled)"), labels


def loco_folds(compositions: pd.Series, seeds: Sequence[int] = (0, 1, 2), cache_path: str | Path | None = None,
               **loco_params: Any) -> dict[int, pd.Series]:
    """LOCO cluster of every id for each seed (:func:`sicnb.classify.validation.loco_clusters`, UMAP ``random_state=seed``).

    ``compositions``: reported composition per id. ``cache_path``: a JSON file reused when it holds the same ids and
    seeds (the UMAP of 250 ElMD distances takes ~10 s per seed)."""
    from sicnb.classify.validation import loco_clusters

    ids = [str(i) for i in compositions.index]
    seeds = [int(s) for s in seeds]
    cached: dict = {}
    if cache_path is not None and Path(cache_path).exists():
        cached = json.loads(Path(cache_path).read_text())
        if cached.get("ids") != ids or cached.get("params", {}) != dict(loco_params):
            cached = {}
    out, changed = {}, False
    for s in seeds:
        if str(s) not in cached.get("clusters", {}):
            cl = loco_clusters(list(compositions.astype(str)), random_state=s, **loco_params)["cluster"].to_numpy()
            cached.setdefault("clusters", {})[str(s)] = [int(c) for c in cl]
            changed = True
        out[s] = pd.Series(cached["clusters"][str(s)], index=ids, name=f"loco_seed{s}")
    if cache_path is not None and changed:
        Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
        Path(cache_path).write_text(json.dumps({"ids": ids, "params": dict(loco_params), "clusters": cached["clusters"]}))
    return out


def oof_scores(scorer: SupervisedScorer, folds: pd.Series) -> pd.DataFrame:
    """Out-of-fold scores: for every fold value ``k`` of ``folds`` (id → fold), ``scorer`` is fitted on the ids of the
    other folds and scores the ids of fold ``k`` only. Returns ``score``, ``error`` and ``fold`` for every id of ``folds``."""
    if folds.index.has_duplicates:
        raise ParameterError("folds has duplicated ids; give one fold per structure")
    parts = []
    for k in sorted(pd.unique(folds)):
        test = folds.index[folds.eq(k)]
        train = folds.index[folds.ne(k)]
        tab = scorer.score(list(train), list(test)).reindex(test)
        tab["fold"] = k
        parts.append(tab[["score", "error", "fold"]])
    return pd.concat(parts).reindex(folds.index)


class ClassifyScorer:
    """The ledger's classify method refitted per fold: the shipped default's :class:`~sicnb.classify.tabular.TabularModel`
    configuration (Sendek LR, notebook 04 / issue 17) fitted on the training ids' features and labels only."""

    name = "classify"
    direction = 1

    def __init__(self, dataset: Dataset, labels: pd.DataFrame, params: Mapping[str, Any] | None = None,
                 cache_dir: Any = None, n_workers: int = 1):
        from sicnb.classify import DEFAULT_MODEL_DIR
        from sicnb.classify.tabular import tabular_features

        meta = json.loads((Path(DEFAULT_MODEL_DIR) / "model.json").read_text())
        self.params = {**meta["params"], **dict(params or {})}
        self.params["blocks"] = list(self.params["blocks"])
        tab, X = tabular_features(dataset, self.params["blocks"], cache_dir=cache_dir, n_workers=n_workers, progress=False)
        ok = list(tab.index[tab["has_features"]])
        self.X = pd.DataFrame(X, index=ok)
        self.errors = tab["error"].fillna("").astype(str)
        self.formulas = tab["formula"]
        self.y = labels["y"].astype(int)

    def fit(self, train_ids: Sequence[str]):
        """The TabularModel fitted on the training ids that have features (P_SI head only)."""
        from sicnb.classify.tabular import TabularModel

        tr = [i for i in train_ids if i in self.X.index]
        return TabularModel(**self.params).fit(self.X.loc[tr].to_numpy(float), self.y.loc[tr].to_numpy())

    def score(self, train_ids: Sequence[str], test_ids: Sequence[str]) -> pd.DataFrame:
        model = self.fit(train_ids)
        have = [i for i in test_ids if i in self.X.index]
        pred = model.predict_frame(self.X.loc[have].to_numpy(float), ids=have) if have else pd.DataFrame(columns=["p_si"])
        out = pd.DataFrame(index=pd.Index(list(test_ids), name="id"))
        out["score"] = pd.to_numeric(pred["p_si"], errors="coerce").reindex(out.index)
        out["error"] = [("" if i in self.X.index else (self.errors.get(i, "") or "no features")) for i in out.index]
        return out


class ClusterScorer:
    """The ledger's cluster method with labels from the training ids only: the Ward assignment comes from the cluster
    adapter (descriptors and tree are label-free), the score is the mean log10 σ of the *training* labelled members of
    the structure's cluster (:func:`~sicnb.ledger.methods.leave_one_out_cluster_scores` with held-out labels removed)."""

    name = "cluster"
    direction = 1

    def __init__(self, dataset: Dataset, labels: pd.DataFrame, params: Mapping[str, Any] | None = None,
                 cache_dir: Any = None, n_workers: int = 1):
        from sicnb.ledger.core import get_method

        adapter = get_method("cluster")
        self.params = {**adapter.defaults, **dict(params or {})}
        run = {"cache_dir": cache_dir, "n_workers": n_workers, "progress": False, "labels": labels[["log10_sigma"]]}
        tab = adapter.compute(dataset, self.params, run)
        self.clusters = tab["cluster"].dropna()
        self.base_errors = tab["error"].fillna("").astype(str).where(tab["cluster"].isna(), "")
        self.log10_sigma = pd.to_numeric(labels["log10_sigma"], errors="coerce")
        self.depth = int(tab["depth"].dropna().iloc[0]) if tab["depth"].notna().any() else None

    def score(self, train_ids: Sequence[str], test_ids: Sequence[str]) -> pd.DataFrame:
        from sicnb.ledger.methods import leave_one_out_cluster_scores

        sig = self.log10_sigma.where(self.log10_sigma.index.isin(list(train_ids)))
        loo = leave_one_out_cluster_scores(self.clusters, sig, float(self.params["high_log10_sigma"]))
        out = pd.DataFrame(index=pd.Index(list(test_ids), name="id"))
        out["score"] = loo["loo_cluster_log10_sigma"].reindex(out.index)
        err = []
        for i in out.index:
            if i not in self.clusters.index:
                err.append(self.base_errors.get(i, "") or "not clustered")
            elif not np.isfinite(out.loc[i, "score"]):
                err.append("no labelled training structure in its Ward cluster")
            else:
                err.append("")
        out["error"] = err
        return out
