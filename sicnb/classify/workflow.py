"""Whole-study steps of notebook 04 (McHaffie et al. 2025, Figs. 3–6), kept here so they are tested and reusable."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from sicnb.classify.atomsets import AtomSetsClassifier
from sicnb.classify.ensemble import SuperionicEnsemble, featurize
from sicnb.classify.sendek import sendek_features, sendek_model
from sicnb.classify.validation import classification_metrics, cross_validate

__all__ = ["compare_features", "sendek_cv", "heldout_evaluation"]


def compare_features(records, y: pd.Series, splits, levels: Sequence[int] = (0,), representations: Sequence[str] = ("CAMN",),
                     model_params: dict | None = None, n_workers: int = 1, cache_dir: Any = None,
                     progress: bool = False, random_state: int = 0) -> pd.DataFrame:
    """CV table (Figs. 3–5) for every (V_level, representation): AtomSets model + shuffled/mean controls.

    ``y`` is indexed by record id; ``splits`` index positions of ``y``. Structures that fail
    featurisation in one representation are dropped from that representation's splits (counted in
    ``n_dropped``). Columns: features, level, representation, split, model, auc_pr, mcc, n_val, n_pos_val.
    """
    ids = list(y.index)
    out = []
    for rep in representations:
        for level in levels:
            fs = featurize(records, level=level, representation=rep, n_workers=n_workers, cache_dir=cache_dir, progress=progress)
            ok = set(fs.ids)
            pos = {rid: i for i, rid in enumerate(ids)}
            keep = [rid for rid in ids if rid in ok]
            remap = {pos[rid]: j for j, rid in enumerate(keep)}
            sub_splits = [(n, np.array([remap[i] for i in tr if i in remap]), np.array([remap[i] for i in va if i in remap]))
                          for n, tr, va in splits]
            sub_splits = [s for s in sub_splits if len(s[2])]
            X, yy = fs.X(keep), y.loc[keep].to_numpy().astype(int)
            cv = cross_validate(X, yy, lambda: AtomSetsClassifier(**{**(model_params or {}), "random_state": random_state}),
                                sub_splits, random_state=random_state, label="AtomSets")
            cv.insert(0, "representation", rep)
            cv.insert(0, "level", level)
            cv.insert(0, "features", f"{rep}-V{level}")
            cv["n_dropped"] = len(ids) - len(keep)
            out.append(cv)
    return pd.concat(out, ignore_index=True)


def sendek_cv(records, y: pd.Series, splits, C: float = 1.0, n_workers: int = 1, cache_dir: Any = None,
              progress: bool = False) -> pd.DataFrame:
    """CV of the Sendek logistic-regression baseline on the same splits (structures whose features fail
    are predicted with the training mean, so every validation compound is scored)."""
    from sicnb.classify.sendek import SENDEK_FEATURES
    from sicnb.parallel import pmap

    tab = pmap(sendek_features, records, {}, cache_dir=cache_dir, n_workers=n_workers, progress=progress, desc="Sendek")
    F = tab.reindex(list(y.index))[list(SENDEK_FEATURES)].to_numpy(dtype=float) if set(SENDEK_FEATURES) <= set(tab) else np.full((len(y), 5), np.nan)
    cv = cross_validate(F, y.to_numpy().astype(int), lambda: sendek_model(C=C), splits, controls=False, label="Sendek LR")
    cv.insert(0, "representation", "atomistic")
    cv.insert(0, "level", -1)
    cv.insert(0, "features", "Sendek")
    cv.attrs["n_failed"] = int((tab["error"] != "").sum())
    return cv


def heldout_evaluation(X: Sequence[np.ndarray], y, log10_sigma, ids: Sequence[str], test_fraction: float = 0.1,
                       n_models: int = 10, configs: Sequence[dict] | None = None, random_state: int = 0,
                       level: int = 0, representation: str = "CAMN"):
    """Fig. 6 on open data: a random ``test_fraction`` of the labelled training split is held out
    (the paper held out 10 %), an ensemble trained on the rest, and P_SI scored on the held-out part.

    Returns (per-structure DataFrame: id, p_si, p_si_std, d_training, log10_sigma, y; metrics dict).
    """
    from sklearn.model_selection import train_test_split

    y = np.asarray(y).astype(int)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=random_state, stratify=y)
    ens = SuperionicEnsemble(level=level, representation=representation, n_models=n_models, configs=configs,
                             random_state=random_state).fit([X[i] for i in tr], y[tr])
    df = ens.predict_frame([X[i] for i in te], ids=[ids[i] for i in te])
    df["log10_sigma"] = np.asarray(log10_sigma, dtype=float)[te]
    df["y"] = y[te]
    metrics = classification_metrics(df["y"], df["p_si"])
    metrics.update({"n_test": int(len(te)), "n_train": int(len(tr)), "positive_fraction_test": float(y[te].mean())})
    return df, metrics
