"""Featurisation over datasets, the AtomSets ensemble with P_SI mean/std and d_training, and safe
model folders (McHaffie et al. 2025, §2.3 ensemble and §2.4 screening confidence).

* P_SI = mean over ensemble members of the sigmoid output; ``p_si_std`` = their standard deviation.
* ``d_training`` (§2.4): each structure → mean of its atom-feature rows (N_f-d); PCA-whitened
  with the training set (normalising by the training variance); Euclidean distance to the nearest
  training structure.
* A model folder holds ``model.json`` (configuration, feature spec, PCA, training vectors, card)
  and ``weights.json`` (member state dicts as base64 float32 arrays) — JSON only, nothing unpickled.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from sicnb.classify.atomsets import CITATIONS, AtomSetsClassifier
from sicnb.classify.features import EFORM_MODEL, atom_features
from sicnb.errors import InputError, ModelUnavailableError, ParameterError

__all__ = ["FeatureSet", "featurize", "SuperionicEnsemble", "DEFAULT_MODEL_DIR", "ATOMSETS_MODEL_DIR", "MODEL_DIRS", "load_model", "superionic_labels"]

DEFAULT_MODEL_DIR = Path(__file__).with_name("default_model")
ATOMSETS_MODEL_DIR = Path(__file__).with_name("atomsets_model")
#: shipped model names accepted by :func:`load_model` and ``sicnb classify predict --model``
MODEL_DIRS = {"default": DEFAULT_MODEL_DIR, "atomsets": ATOMSETS_MODEL_DIR, "full": Path(__file__).with_name("full_model")}
FORMAT = "sicnb-atomsets-ensemble/1"


@dataclass
class FeatureSet:
    """Atom-feature matrices of a dataset: ``table`` (id-indexed: formula, n_atoms, is_disordered,
    error) and ``matrices`` {id: n_atoms × n_features} for the rows without error."""

    table: pd.DataFrame
    matrices: dict[str, np.ndarray] = field(repr=False)
    level: int = 0
    representation: str = "CAMN"

    @property
    def ids(self) -> list[str]:
        return [i for i in self.table.index if i in self.matrices]

    def X(self, ids: Sequence[str] | None = None) -> list[np.ndarray]:
        return [self.matrices[i] for i in (self.ids if ids is None else ids)]


def featurize(items, level: int = 0, representation: str = "CAMN", mobile_ion: str = "Li",
              model: str = EFORM_MODEL, n_workers: int = 1, cache_dir: Any = None, scheduler: Any = None,
              progress: bool = True) -> FeatureSet:
    """V_level atom features of every structure via :func:`sicnb.parallel.pmap` (cached, resumable;
    failures become rows with an ``error``)."""
    from sicnb.parallel import pmap

    params = {"level": int(level), "representation": representation, "mobile_ion": mobile_ion}
    if level:
        params["model"] = model
    tab = pmap(atom_features, items, params, cache_dir=cache_dir, n_workers=n_workers, scheduler=scheduler,
               progress=progress, desc=f"V{level} {representation}")
    mats = {}
    if "features" in tab:
        for rid, feats, err in zip(tab.index, tab["features"], tab["error"]):
            if not err and isinstance(feats, list):
                mats[rid] = np.asarray(feats, dtype=np.float32)
        tab = tab.drop(columns=["features"])
    for c in ("formula", "n_atoms", "is_disordered"):
        if c not in tab:
            tab[c] = np.nan
    return FeatureSet(tab, mats, level=level, representation=representation)


def superionic_labels(labels: pd.DataFrame, threshold_log10_s_cm: float = -4.0) -> pd.Series:
    """1 where log10 σ ≥ ``threshold`` (σ ≥ 1e-4 S/cm, §2.1), else 0; NaN σ → NaN."""
    if "log10_sigma" not in labels:
        raise InputError("labels have no 'log10_sigma' column; superionic labels need measured conductivities")
    s = labels["log10_sigma"].astype(float)
    return (s >= threshold_log10_s_cm).astype(float).where(s.notna())


def _pool(X: Sequence[np.ndarray]) -> np.ndarray:
    return np.stack([np.asarray(m, dtype=np.float64).mean(axis=0) for m in X])


def write_model_folder(directory: Path, payload: str, text: str, meta: dict) -> Path:
    """Write ``<payload>.json`` and ``model.json`` (``meta`` plus ``<payload>_sha256``) to ``directory``."""
    (directory / f"{payload}.json").write_text(text)
    (directory / "model.json").write_text(json.dumps({**meta, f"{payload}_sha256": hashlib.sha256(text.encode()).hexdigest()}, indent=1))
    return directory


def read_model_folder(directory: str | os.PathLike, payload: str, fmt: str) -> tuple[dict, str]:
    """(``model.json`` as a dict, text of ``<payload>.json``) of a model folder, after checking its format and the
    payload's SHA-256 (``<payload>_sha256`` in model.json); :class:`ModelUnavailableError` saying what is wrong."""
    d = Path(directory)
    try:
        meta = json.loads((d / "model.json").read_text())
        text = (d / f"{payload}.json").read_text()
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"No readable sicnb classifier in {d} ({exc}); train one with `sicnb classify train`.") from exc
    if meta.get("format") != fmt:
        raise ModelUnavailableError(f"{d}/model.json has format {meta.get('format')!r}, expected {fmt!r}")
    if hashlib.sha256(text.encode()).hexdigest() != meta.get(f"{payload}_sha256"):
        raise ModelUnavailableError(f"{d}/{payload}.json does not match the checksum in model.json; the model folder is corrupt")
    return meta, text


class SuperionicEnsemble:
    """An ensemble of :class:`AtomSetsClassifier` members (paper: 100 = 10 configs × 10 seeds).

    Parameters
    ----------
    level, representation: the atom features it expects (V_level of CAMN/CAN/CAMNS/CANS).
    n_models: members per configuration.
    configs: list of AtomSets hyperparameter dicts (one config → ``n_models`` seeds each).
    random_state: base seed.
    """

    def __init__(self, level: int = 0, representation: str = "CAMN", n_models: int = 10,
                 configs: Sequence[dict] | None = None, random_state: int = 0, mobile_ion: str = "Li"):
        self.level = level
        self.representation = representation
        self.n_models = n_models
        self.configs = configs
        self.random_state = random_state
        self.mobile_ion = mobile_ion

    def citations(self) -> list[str]:
        return list(CITATIONS)

    def get_params(self, deep: bool = False) -> dict:
        return {k: getattr(self, k) for k in ("level", "representation", "n_models", "configs", "random_state", "mobile_ion")}

    def set_params(self, **params) -> "SuperionicEnsemble":
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit(self, X: Sequence[np.ndarray], y) -> "SuperionicEnsemble":
        """Train every member on all of ``X``/``y``; fit the PCA whitening for d_training."""
        from sklearn.decomposition import PCA

        if self.n_models < 1:
            raise ParameterError(f"n_models must be ≥ 1, got {self.n_models}")
        configs = list(self.configs or [{}])
        y = np.asarray(y).astype(int)
        self.members_ = []
        for ci, cfg in enumerate(configs):
            for k in range(self.n_models):
                clf = AtomSetsClassifier(**{**cfg, "random_state": self.random_state + 1000 * ci + k})
                self.members_.append(clf.fit(X, y))
        pooled = _pool(X)
        ncomp = min(pooled.shape[0], pooled.shape[1])
        self.pca_ = PCA(n_components=ncomp, whiten=True).fit(pooled)
        keep = self.pca_.explained_variance_ > 1e-10 * self.pca_.explained_variance_.max()
        self.pca_keep_ = keep
        self.train_vectors_ = self.pca_.transform(pooled)[:, keep]
        self.n_features_in_ = int(np.asarray(X[0]).shape[1])
        self.n_train_ = int(len(y))
        self.train_positive_fraction_ = float(y.mean())
        return self

    def _check(self):
        if not hasattr(self, "members_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("SuperionicEnsemble is not fitted; fit() it or load_model()")

    def member_probabilities(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """(n_members, n_structures) P_SI of each member."""
        self._check()
        return np.stack([m.predict_proba(X)[:, 1] for m in self.members_])

    def d_training(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """Distance to the nearest training structure in PCA-whitened pooled-feature space (§2.4)."""
        self._check()
        from scipy.spatial import cKDTree

        v = self.pca_.transform(_pool(X))[:, self.pca_keep_]
        d, _ = cKDTree(self.train_vectors_).query(v, k=1)
        return d

    def predict_frame(self, X: Sequence[np.ndarray], ids: Sequence[str] | None = None) -> pd.DataFrame:
        """``p_si`` (ensemble mean), ``p_si_std``, ``d_training`` and ``superionic`` (P_SI ≥ 0.5)."""
        if len(X) == 0:
            return pd.DataFrame(columns=["p_si", "p_si_std", "d_training", "superionic"])
        P = self.member_probabilities(X)
        df = pd.DataFrame({"p_si": P.mean(axis=0), "p_si_std": P.std(axis=0), "d_training": self.d_training(X)},
                          index=pd.Index(list(ids) if ids is not None else range(len(X)), name="id"))
        df["superionic"] = df["p_si"] >= 0.5
        return df

    def predict_proba(self, X: Sequence[np.ndarray]) -> np.ndarray:
        p = self.member_probabilities(X).mean(axis=0)
        return np.stack([1 - p, p], axis=1)

    # -- persistence -----------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike, card: dict | None = None) -> Path:
        """Write ``model.json`` + ``weights.json`` to ``directory`` (created)."""
        self._check()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        weights = {"format": FORMAT, "members": [m.to_json() for m in self.members_]}
        wtext = json.dumps(weights, separators=(",", ":"))
        pca = {"mean": self.pca_.mean_.tolist(), "components": self.pca_.components_.tolist(),
               "explained_variance": self.pca_.explained_variance_.tolist(), "keep": self.pca_keep_.tolist()}
        meta = {
            "format": FORMAT, "params": self.get_params(), "n_features_in": self.n_features_in_,
            "n_train": self.n_train_, "train_positive_fraction": self.train_positive_fraction_,
            "feature_spec": {"level": self.level, "representation": self.representation, "mobile_ion": self.mobile_ion,
                             "megnet_model": EFORM_MODEL if self.level else None},
            "pca": pca, "train_vectors": np.round(self.train_vectors_, 6).tolist(), "card": card or {},
            "citations": self.citations(),
        }
        return write_model_folder(d, "weights", wtext, meta)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "SuperionicEnsemble":
        """Load a model folder written by :meth:`save` (checks the weights' SHA-256)."""
        from sklearn.decomposition import PCA

        meta, wtext = read_model_folder(directory, "weights", FORMAT)
        obj = cls(**meta["params"])
        obj.members_ = [AtomSetsClassifier.from_json(m) for m in json.loads(wtext)["members"]]
        pca = PCA(n_components=len(meta["pca"]["explained_variance"]), whiten=True)
        pca.mean_ = np.asarray(meta["pca"]["mean"])
        pca.components_ = np.asarray(meta["pca"]["components"])
        pca.explained_variance_ = np.asarray(meta["pca"]["explained_variance"])
        pca.n_components_ = len(pca.explained_variance_)
        pca.n_features_in_ = pca.components_.shape[1]
        obj.pca_ = pca
        obj.pca_keep_ = np.asarray(meta["pca"]["keep"], dtype=bool)
        obj.train_vectors_ = np.asarray(meta["train_vectors"])
        obj.n_features_in_ = int(meta["n_features_in"])
        obj.n_train_ = int(meta["n_train"])
        obj.train_positive_fraction_ = float(meta["train_positive_fraction"])
        obj.card_ = meta.get("card", {})
        return obj


def load_model(model_dir: str | os.PathLike | None = None):
    """A saved model folder: ``None`` or ``"default"`` → the shipped default (``sicnb/classify/default_model``, a
    :class:`~sicnb.classify.tabular.TabularModel` chosen by LOCO), ``"atomsets"`` → the paper's AtomSets ensemble
    (``sicnb/classify/atomsets_model``), ``"full"`` → the composition model on every open label
    (``sicnb/classify/full_model``, :mod:`sicnb.classify.full`; never for benchmark claims); otherwise a folder written
    by either class (told apart by its format)."""
    d = Path(MODEL_DIRS.get(str(model_dir), model_dir) if model_dir is not None else DEFAULT_MODEL_DIR)
    if str(model_dir) == "full":
        import warnings

        from sicnb.classify.full import FULL_MODEL_WARNING, TrainingOverlapWarning

        warnings.warn(FULL_MODEL_WARNING.removeprefix("sicnb: warning: "), TrainingOverlapWarning, stacklevel=2)
    try:
        fmt = json.loads((d / "model.json").read_text()).get("format")
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"No readable sicnb classifier in {d} ({exc}); train one with `sicnb classify train`.") from exc
    if fmt == FORMAT:
        return SuperionicEnsemble.load(d)
    from sicnb.classify.tabular import TabularModel

    return TabularModel.load(d)
