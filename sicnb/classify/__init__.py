"""Classification of (dis)ordered structures as superionic Li conductors (McHaffie et al., Digital
Discovery 4, 1518 (2025); thesis Ch. 4).

>>> from sicnb.classify import predict
>>> table = predict(load("embedded"))        # shipped default (LOCO-selected; offline): P_SI, log10 σ, in_training
>>> paper = predict(load("embedded"), model="atomsets")   # the paper's AtomSets ensemble (CAMN-V0)
>>> more = predict_compositions(["Li10GeP2S12"], model="full")  # every open label; never for benchmark claims

Pieces: :mod:`~sicnb.classify.tabular` (the shipped default: logistic regression on the Sendek features +
random-forest log10 σ, JSON model folders with a training card), :mod:`~sicnb.classify.full` (the ``full``
composition model on OBELiX train + LASKOWSKI2023 + Liverpool Ionics, deduplicated by reduced composition), :mod:`~sicnb.classify.selection` (repeated LOCO model
selection, pooled/per-cluster scores, bootstrap intervals, controls, calibration), :mod:`~sicnb.classify.features` (V0–V3 occupancy-weighted MEGNet atom features, CAMN/CAN/
CAMNS/CANS), :mod:`~sicnb.classify.atomsets` (AtomSets set2set classifier), :mod:`~sicnb.classify.validation`
(k-fold / LOCO CV with controls), :mod:`~sicnb.classify.sendek` (logistic-regression baseline),
:mod:`~sicnb.classify.ensemble` (P_SI mean/std, d_training, safe model folders),
:mod:`~sicnb.classify.screening` (training, prediction, E_g screen, Table 2-style output),
:mod:`~sicnb.classify.hpo` (Optuna search within a CPU budget, Methods 4.4), :mod:`~sicnb.classify.ordering`
(lowest-Ewald ordering of non-Li disorder vs the linear-combination representation, Fig. 2).
"""
from sicnb.classify.atomsets import AtomSetsClassifier
from sicnb.classify.ensemble import ATOMSETS_MODEL_DIR, DEFAULT_MODEL_DIR, MODEL_DIRS, FeatureSet, SuperionicEnsemble, featurize, load_model, superionic_labels
from sicnb.classify.features import LEVELS, REPRESENTATIONS, atom_features, elemental_embeddings, site_embeddings
from sicnb.classify.hpo import HPOResult, tune_atomsets
from sicnb.classify.ordering import order_framework, ordered_vs_disordered, ordering_plan
from sicnb.classify.screening import band_gap, predict, screen, top_candidates, train_ensemble, training_set
from sicnb.classify.tabular import TabularModel, tabular_features, train_tabular
from sicnb.classify.full import FULL_MODEL_DIR, deduplicate_labels, full_training_table, predict_compositions, train_full
from sicnb.classify.sendek import SENDEK_FEATURES, sendek_features, sendek_model
from sicnb.classify.validation import (
    classification_metrics, control_metrics, cross_validate, elmd_distance_matrix, kfold_splits, loco_clusters,
    loco_splits, summarize_cv,
)

__all__ = [
    "TabularModel", "tabular_features", "train_tabular", "ATOMSETS_MODEL_DIR", "MODEL_DIRS", "FULL_MODEL_DIR",
    "deduplicate_labels", "full_training_table", "predict_compositions", "train_full",
    "AtomSetsClassifier", "SuperionicEnsemble", "FeatureSet", "featurize", "load_model", "DEFAULT_MODEL_DIR",
    "superionic_labels", "atom_features", "site_embeddings", "elemental_embeddings", "LEVELS", "REPRESENTATIONS",
    "predict", "screen", "top_candidates", "train_ensemble", "training_set", "band_gap", "sendek_features",
    "sendek_model", "SENDEK_FEATURES", "classification_metrics", "control_metrics", "cross_validate",
    "elmd_distance_matrix", "kfold_splits", "loco_clusters", "loco_splits", "summarize_cv", "tune_atomsets",
    "HPOResult", "order_framework", "ordered_vs_disordered", "ordering_plan",
]
