"""Training on labelled data, prediction and screening (McHaffie et al. 2025, §2.3–2.4, Table 2).

Screening (§2.4): P_SI for every structure of a pool; E_g from the data (a column) or predicted with
the MEGNet band-gap model (``MEGNet-MP-2019.4.1-BandGap-mfi``, PBE fidelity, on the occupancy-weighted
graph); compounds with E_g < 1 eV dropped; compounds whose normalised composition lies within 5 %
(every element fraction) of a training composition flagged ``training_like`` and excluded from the
ranked list; ranked by P_SI → the Table 2-style top-N.
"""
from __future__ import annotations

import os
import warnings

from typing import Any, Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Structure

from sicnb.classify.ensemble import FeatureSet, SuperionicEnsemble, featurize, load_model, superionic_labels
from sicnb.classify.features import megnet_node_features
from sicnb.errors import InputError, ModelUnavailableError, require

__all__ = ["training_set", "train_ensemble", "predict", "model_features", "model_scores", "PREDICT_COLUMNS", "band_gap", "screen", "top_candidates", "BANDGAP_MODEL",
           "training_like"]

from sicnb.potentials.bandgap import BANDGAP_MODEL  # noqa: E402  (one definition)


def training_set(dataset, mobile_ion: str = "Li", threshold_log10_s_cm: float = -4.0):
    """Records usable for training: a structure containing the mobile ion and a measured σ.

    Returns (list of records, labels DataFrame with ``y`` = superionic 0/1). Entries whose CIF lacks
    the mobile ion (OBELiX ``flag_cif_lacks_li``) are dropped, because CAMN/CAMNS would misrepresent them.
    """
    recs = []
    for r in dataset:
        if r.structure is None or r.labels.get("flag_cif_lacks_li"):
            continue
        if mobile_ion not in {e.symbol for e in r.structure.composition.elements}:
            continue
        if not np.isfinite(float(r.labels.get("log10_sigma", np.nan))):
            continue
        recs.append(r)
    labels = pd.DataFrame([{"id": r.id, **r.labels} for r in recs]).set_index("id") if recs else pd.DataFrame()
    if len(labels):
        labels["y"] = superionic_labels(labels, threshold_log10_s_cm).astype(int)
    return recs, labels


def train_ensemble(dataset, level: int = 0, representation: str = "CAMN", n_models: int = 10,
                   configs: Sequence[dict] | None = None, random_state: int = 0, mobile_ion: str = "Li",
                   n_workers: int = 1, cache_dir: Any = None, progress: bool = True):
    """Featurise the labelled structures of ``dataset`` and fit a :class:`SuperionicEnsemble`.

    Returns (ensemble, FeatureSet, labels table). Structures that fail featurisation are skipped
    (listed in ``FeatureSet.table['error']``).
    """
    recs, labels = training_set(dataset, mobile_ion=mobile_ion)
    if len(recs) < 10:
        raise InputError(f"only {len(recs)} labelled structures with the mobile ion in {dataset!r}; need ≥ 10 to train")
    fs = featurize(recs, level=level, representation=representation, mobile_ion=mobile_ion,
                   n_workers=n_workers, cache_dir=cache_dir, progress=progress)
    ids = fs.ids
    ens = SuperionicEnsemble(level=level, representation=representation, n_models=n_models, configs=configs,
                             random_state=random_state, mobile_ion=mobile_ion)
    ens.fit(fs.X(ids), labels.loc[ids, "y"].to_numpy())
    return ens, fs, labels


PREDICT_COLUMNS = ["formula", "p_si", "p_si_std", "d_training", "in_training", "log10_sigma_pred", "log10_sigma_lo",
                   "log10_sigma_hi", "is_disordered", "superionic", "n_atoms", "error"]


def predict(items, model: SuperionicEnsemble | str | None = None, n_workers: int = 1, cache_dir: Any = None,
            progress: bool = True) -> pd.DataFrame:
    """P_SI for every structure: id, formula, p_si, p_si_std, d_training, is_disordered, superionic, error.

    ``model`` = a fitted ensemble, a model folder, or ``None`` for the shipped default (V0 features,
    needs no model files). A V1–V3 model without the MEGNet Eform model raises
    :class:`ModelUnavailableError` with what to do. The two steps are :func:`model_features` and
    :func:`model_scores` (the feature and score steps of the declared method, ``sicnb/classify/method.py``).
    """
    from sicnb.classify.tabular import TabularModel

    ens = model if isinstance(model, (SuperionicEnsemble, TabularModel)) else load_model(model)
    return model_scores(ens, model_features(items, ens, n_workers=n_workers, cache_dir=cache_dir, progress=progress))


def model_features(items, model, n_workers: int = 1, cache_dir: Any = None, progress: bool = True, scheduler: Any = None) -> pd.DataFrame:
    """The features ``model`` reads, per structure through :func:`sicnb.parallel.pmap` (cached): id → formula, n_atoms,
    is_disordered, error and ``features`` (the model's input row or atom-feature matrix; None where a step failed).
    ``scheduler`` is used by the atom-feature path only."""
    from sicnb.classify.tabular import TabularModel, tabular_features

    if isinstance(model, TabularModel):
        tab, X = tabular_features(items, model.blocks, cache_dir=cache_dir, n_workers=n_workers, progress=progress)
        has = tab.pop("has_features")
        return tab.assign(features=_object_column(tab.index[has], list(X), tab.index))
    if model.level:
        from sicnb.potentials import matgl_model_path

        from sicnb.classify.features import EFORM_MODEL

        if matgl_model_path(EFORM_MODEL) is None:
            raise ModelUnavailableError(
                f"This classifier uses V{model.level} features, which need the MEGNet model {EFORM_MODEL}; "
                "set SICNB_MATGL_MODELS to a folder containing it, or predict with the shipped default "
                "(V0 features; no model files needed) by omitting the model."
            )
    fs = featurize(items, level=model.level, representation=model.representation, mobile_ion=model.mobile_ion,
                   n_workers=n_workers, cache_dir=cache_dir, progress=progress, scheduler=scheduler)
    out = fs.table[["formula", "n_atoms", "is_disordered", "error"]].copy()
    return out.assign(features=_object_column(fs.ids, fs.X(), out.index))


def _object_column(ids, values, index) -> pd.Series:
    """A column of arrays (one per id in ``ids``; None elsewhere in ``index``)."""
    col = pd.Series(None, index=index, dtype=object)
    for i, v in zip(ids, values):
        col.at[i] = v
    return col


def model_scores(model, table: pd.DataFrame) -> pd.DataFrame:
    """P_SI (± ensemble std), d_training, superionic, log10 σ (S/cm) prediction and in_training of every row of
    ``table`` (:func:`model_features`) that has features; the others keep their ``error``."""
    from sicnb.classify.tabular import TabularModel

    has = table["features"].notna()
    ok = list(table.index[has])
    base = table.drop(columns=["features"])
    if isinstance(model, TabularModel):
        X = np.vstack(table.loc[ok, "features"].tolist()) if ok else np.zeros((0, 0))
        pred = model.predict_frame(X, ids=ok, formulas=table.loc[ok, "formula"].tolist())
        return base.join(pred, how="left")[PREDICT_COLUMNS]
    out = base.join(model.predict_frame(table.loc[ok, "features"].tolist(), ids=ok), how="left")
    train = set(getattr(model, "card_", {}).get("training_formulas", []))
    out["in_training"] = [f in train for f in out["formula"].fillna("")] if train else np.nan
    for c in ("log10_sigma_pred", "log10_sigma_lo", "log10_sigma_hi"):
        out[c] = np.nan  # the AtomSets ensemble has no regression head
    return out[PREDICT_COLUMNS]


def band_gap(structure: Structure, fidelity: "str | int" = 0, model: str = BANDGAP_MODEL) -> dict:
    """E_g (eV) from the MEGNet multi-fidelity band-gap model (fidelity 0 = "PBE", the MP level the
    paper's 1 eV threshold refers to), on the occupancy-weighted graph (disorder kept): the disordered-graph
    variant of :func:`sicnb.potentials.bandgap.megnet_band_gap_eV` (same model, same fidelity names)."""
    from sicnb.potentials.bandgap import fidelity_index

    torch = require("torch", extra="ml")
    _, gap = megnet_node_features(structure, 0, model=model, state_attr=torch.tensor([fidelity_index(fidelity)]), return_output=True)
    return {"band_gap_ev": float(gap)}


band_gap.cache_version = 1  # type: ignore[attr-defined]


def training_like(formulas: Sequence[str], training_compositions: Sequence[str], tol: float = 0.05) -> pd.arrays.BooleanArray:
    """True where a normalised composition has every element fraction within ``tol`` of some training
    composition (§2.4 "within 5 percent"; same element set required).

    A candidate formula that cannot be parsed is ``<NA>`` (unknown), never "novel": the screens treat it
    as training-like. Unparsable training entries are skipped with one warning giving their count.
    """
    train, bad_train = [], 0
    for c in training_compositions:
        try:
            train.append(Composition(c).fractional_composition)
        except Exception:  # noqa: BLE001 - counted and reported below
            bad_train += 1
    if bad_train:
        warnings.warn(f"training_like: {bad_train} of {len(training_compositions)} training compositions could not be parsed "
                      "and were left out of the comparison", stacklevel=2)
    out: list = []
    for f in formulas:
        try:
            c = Composition(f).fractional_composition
            if not c.elements:
                raise ValueError("empty formula")
        except Exception:  # noqa: BLE001 - unknown, not novel
            out.append(pd.NA)
            continue
        els = set(c.elements)
        out.append(any(set(t.elements) == els and c.almost_equals(t, rtol=0, atol=tol) for t in train))
    return pd.array(out, dtype="boolean")


def screen(items, model: SuperionicEnsemble | str | None = None, eg_min_ev: float = 1.0,
           band_gaps: pd.Series | str | None = "megnet", training_compositions: Sequence[str] | None = None,
           n_workers: int = 1, cache_dir: Any = None, progress: bool = True) -> pd.DataFrame:
    """Screen a pool (§2.4): predictions + ``band_gap_ev`` + ``passes_eg`` + ``training_like``, sorted by P_SI.

    ``band_gaps``: ``"megnet"`` (predict; needs the model folder, otherwise E_g is NaN and the E_g
    filter is not applied — stated in ``attrs['eg_source']``), a Series indexed by id, or ``None``.
    """
    from sicnb.parallel import pmap

    ens = model if model is not None and not isinstance(model, (str, os.PathLike)) else load_model(model)
    pred = predict(items, ens, n_workers=n_workers, cache_dir=cache_dir, progress=progress)
    source = "none"
    if isinstance(band_gaps, pd.Series):
        pred["band_gap_ev"] = band_gaps.reindex(pred.index).astype(float)
        source = "data"
    elif band_gaps == "megnet":
        from sicnb.potentials import matgl_model_path

        if matgl_model_path(BANDGAP_MODEL) is None:
            pred["band_gap_ev"] = np.nan
            source = f"unavailable ({BANDGAP_MODEL} not found; set SICNB_MATGL_MODELS)"
        else:
            bg = pmap(band_gap, items, {}, cache_dir=cache_dir, n_workers=n_workers, progress=progress, desc="E_g")
            pred["band_gap_ev"] = bg["band_gap_ev"].reindex(pred.index) if "band_gap_ev" in bg else np.nan
            source = f"{BANDGAP_MODEL} (PBE fidelity)"
    else:
        pred["band_gap_ev"] = np.nan
    gap = pred["band_gap_ev"]
    pred["passes_eg"] = (gap >= eg_min_ev) | gap.isna()
    pred["training_like"] = training_like(pred["formula"].fillna("").tolist(), training_compositions) if training_compositions else False
    if training_compositions:
        pred.attrs["training_like_unknown"] = int(pred["training_like"].isna().sum())
    pred = pred.sort_values("p_si", ascending=False, na_position="last")
    pred.attrs.update({"eg_source": source, "eg_min_ev": eg_min_ev})
    return pred


def top_candidates(screened: pd.DataFrame, n: int = 20, sigma_column: pd.Series | None = None) -> pd.DataFrame:
    """Table 2-style ranking by P_SI: compound, P_SI (SD), E_g, d_training, σ_exp where known, among
    entries that pass the E_g filter and are not training-like (P_SI < 0.5 rows can appear when few pass)."""
    novel = ~screened["training_like"].astype("boolean").fillna(True)  # unparsable formula: not shown as novel
    ok = screened[screened["p_si"].notna() & screened["passes_eg"] & novel]
    top = ok.head(n)
    out = pd.DataFrame({
        "compound": top["formula"],
        "P_SI (SD)": [f"{p:.2f} ({s:.2f})" for p, s in zip(top["p_si"], top["p_si_std"])],
        "p_si": top["p_si"], "p_si_std": top["p_si_std"],
        "E_g (eV)": top["band_gap_ev"].round(2),
        "d_training": top["d_training"].round(2),
        "disordered": top["is_disordered"],
    })
    if sigma_column is not None:
        out["sigma_exp (S/cm)"] = sigma_column.reindex(out.index)
    return out
