"""The classifier (McHaffie et al., Digital Discovery 4, 1518 (2025); the shipped Sendek-feature default), declared
once as a :class:`sicnb.methods.TableMethod`: its score is P_SI of a trained model, so it has a fit step.

* feature step — the features the model reads, per structure through pmap (:func:`~sicnb.classify.screening.model_features`:
  pooled MEGNet-16 site embeddings and the five Sendek features for the shipped default, atom-feature matrices for
  the AtomSets ensemble);
* fit — load the named model (``model``: ``None``/``"default"``, ``"atomsets"``, ``"full"`` or a folder), or with
  ``model="train"`` fit the shipped default's configuration on the labels given (σ ≥ 1e-4 S/cm, log10 σ);
* score — :func:`~sicnb.classify.screening.model_scores`: P_SI (ensemble mean ± std), d_training, superionic,
  log10 σ (S/cm).

``sicnb classify`` keeps its own command module (train / predict / screen subcommands), so ``cli=False``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from sicnb.classify.screening import model_features, model_scores
from sicnb.classify.sendek import SENDEK_FEATURES, sendek_features
from sicnb.errors import ParameterError
from sicnb.methods import TableMethod, register

__all__ = ["CLASSIFY", "ClassifyParams", "TRAIN"]

#: ``model`` value that fits the shipped default's configuration on the labels given instead of loading a model
TRAIN = "train"


@dataclass(frozen=True)
class ClassifyParams:
    """``model``: a shipped model name (``None`` = ``"default"``, ``"atomsets"``, ``"full"``), a model folder, a fitted
    model object (TabularModel / SuperionicEnsemble), or ``"train"`` (fit on the labels given); ``threshold_log10_s_cm``: the superionic label of ``"train"`` (log10 S/cm)."""

    model: Any = None
    threshold_log10_s_cm: float = -4.0


def _configured(p: ClassifyParams):
    """The model named by ``p`` (for ``"train"``: the shipped default, whose configuration and blocks are refitted)."""
    from sicnb.classify.ensemble import load_model

    if p.model is not None and not isinstance(p.model, (str, os.PathLike)):
        return p.model  # already fitted
    return load_model(None if p.model == TRAIN else p.model)


def _featurize(items, p: ClassifyParams, n_workers: int = 1, cache_dir: Any = None, progress: bool = True,
               scheduler: Any = None, **_ignored) -> pd.DataFrame:
    table = model_features(items, _configured(p), n_workers=n_workers, cache_dir=cache_dir, progress=progress, scheduler=scheduler)
    table.attrs.pop("method", None)  # one of several feature functions: the provenance names the score step instead
    return table


def _fit(table: pd.DataFrame, labels: pd.DataFrame | None, p: ClassifyParams):
    """The named model; with ``model="train"`` a :class:`~sicnb.classify.tabular.TabularModel` of the default's
    configuration fitted on the rows with features and a label (``log10_sigma``, or 0/1 ``y``)."""
    model = _configured(p)
    if not (isinstance(p.model, str) and p.model == TRAIN):
        return model
    from sicnb.classify.tabular import TabularModel

    if labels is None or not ({"log10_sigma", "y"} & set(labels.columns)):
        raise ParameterError("classify model='train' fits on labels: give a table indexed by id with log10_sigma or y")
    lab = labels.reindex(table.index)
    s = pd.to_numeric(lab["log10_sigma"], errors="coerce") if "log10_sigma" in lab else pd.Series(np.nan, index=lab.index)
    y = (s >= p.threshold_log10_s_cm).astype(float).where(s.notna())
    if "y" in lab:
        y = y.fillna(pd.to_numeric(lab["y"], errors="coerce"))
    ok = table.index[table["features"].notna() & y.notna()]
    if y[ok].nunique() < 2:
        raise ParameterError(f"classify model='train': {len(ok)} labelled structures with features, need both classes")
    X = np.vstack(table.loc[ok, "features"].tolist())
    return TabularModel(**model.get_params()).fit(X, y[ok].to_numpy(int), s[ok].to_numpy(float) if s[ok].notna().any() else None)


def _predict(model, table: pd.DataFrame, p: ClassifyParams) -> pd.DataFrame:
    return model_scores(model, table)


def _model_name(params: Mapping[str, Any]) -> str:
    from sicnb.classify import DEFAULT_MODEL_DIR

    return str(params.get("model") or f"shipped default ensemble ({DEFAULT_MODEL_DIR.name})")


CLASSIFY = register(TableMethod(
    name="classify", title="Classifier P_SI", params=ClassifyParams, featurize=_featurize, function=sendek_features,
    fit=_fit, predict=_predict,
    features={"p_si": "p_si", "p_si_std": "p_si_std", "d_training": "d_training", "log10_sigma_pred": "log10_sigma_S_per_cm_pred",
              "log10_sigma_lo": "log10_sigma_S_per_cm_lo", "log10_sigma_hi": "log10_sigma_S_per_cm_hi"},
    new_columns={"p_si": "P_SI: probability that σ_RT ≥ 1e-4 S/cm (dimensionless, 0-1)",
                 "p_si_std": "standard deviation of P_SI over the classifier's ensemble members (dimensionless)",
                 "d_training": "distance to the nearest training structure in the classifier's whitened feature space (dimensionless)",
                 "log10_sigma_S_per_cm_pred": "predicted log10 of the room-temperature ionic conductivity in S/cm",
                 "log10_sigma_S_per_cm_lo": "lower quantile of the predicted log10 σ (S/cm)",
                 "log10_sigma_S_per_cm_hi": "upper quantile of the predicted log10 σ (S/cm)"},
    score="p_si", direction=+1, uncertainty="p_si_std", ledger_extra=("d_training",), pass_flags=("superionic",),
    requires=("sicnb.classify:predict",), model=_model_name, labels="optional", cli=False,
    citations=("McHaffie et al., Digital Discovery 4, 1518 (2025), §2.3-2.4 (P_SI, LOCO selection)",
               "Sendek et al., Energy Environ. Sci. 10, 306 (2017), Table 1 (the five features of the shipped default)"),
    description="P_SI, the ensemble-mean probability of σ ≥ 1e-4 S/cm (± ensemble std; d_training = distance to the training set)",
    testing={"keys": SENDEK_FEATURES, "structures": ("LiFePO4", "Li2O"), "atol": 1e-6,
             "nan_allowed": ("SBI",)},  # SBI is NaN without non-Li bonds (Li2O); the model imputes it
))
