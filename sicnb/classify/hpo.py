"""Hyperparameter search for the AtomSets classifier within a stated CPU budget (McHaffie et al. 2025,
Methods 4.4: Bayesian search (HyperOpt) with Asynchronous Successive Halving (ASHA) in Ray, 250
configurations per LOCO cluster, search ranges in their Table S7).

Here: Optuna's TPE sampler (Bayesian) with a median pruner on the running k-fold mean, *inside the
training data it is given* (never on a test split). The objective is the mean validation AUC-PR over
``n_splits`` random folds (the paper's primary metric); MCC is recorded per trial. The search stops at
``n_trials`` or when this process has used ``cpu_budget_s`` CPU seconds, whichever comes first, and the
result states the budget used. Trials are seeded, so a rerun with the same data, budget and seed on a
machine running trials equally fast proposes the same configurations.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from sicnb.errors import ParameterError, require

__all__ = ["SEARCH_SPACE", "HPOResult", "tune_atomsets"]

#: AtomSets search space (a reduced version of the paper's Table S7; widths, depth, set2set steps,
#: regularisation and optimiser settings). Each entry: (kind, choices or (low, high)).
SEARCH_SPACE: dict[str, tuple[str, Any]] = {
    "width": ("categorical", (16, 32, 64)),
    "n_hidden": ("int", (1, 2)),
    "set2set_steps": ("int", (1, 4)),
    "dense": ("categorical", (16, 32, 64)),
    "dropout": ("float", (0.0, 0.5)),
    "l2": ("logfloat", (1e-6, 1e-2)),
    "lr": ("logfloat", (1e-3, 1e-2)),
    "batch_size": ("categorical", (16, 32, 64)),
}


@dataclass
class HPOResult:
    """Outcome of :func:`tune_atomsets`: best AtomSets parameters and value, per-trial table, budget used."""

    best_params: dict
    best_value: float
    trials: pd.DataFrame = field(repr=False)
    n_complete: int = 0
    n_pruned: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    budget: dict = field(default_factory=dict)

    def summary(self) -> str:
        return (f"{self.n_complete} complete + {self.n_pruned} pruned trials in {self.cpu_s:.0f} CPU s "
                f"({self.wall_s:.0f} s wall); best mean AUC-PR {self.best_value:.3f} with {self.best_params}")


def _suggest(trial, space: dict) -> dict:
    out = {}
    for name, (kind, spec) in space.items():
        if kind == "categorical":
            out[name] = trial.suggest_categorical(name, list(spec))
        elif kind == "int":
            out[name] = trial.suggest_int(name, int(spec[0]), int(spec[1]))
        elif kind == "float":
            out[name] = trial.suggest_float(name, float(spec[0]), float(spec[1]))
        elif kind == "logfloat":
            out[name] = trial.suggest_float(name, float(spec[0]), float(spec[1]), log=True)
        else:
            raise ParameterError(f"search-space entry {name!r} has unknown kind {kind!r}; use categorical/int/float/logfloat")
    return out


def to_atomsets_params(p: dict, epochs: int) -> dict:
    """Search-space sample → :class:`AtomSetsClassifier` keyword arguments."""
    return {"hidden": tuple([int(p["width"])] * int(p["n_hidden"])), "dense": (int(p["dense"]),),
            "set2set_steps": int(p["set2set_steps"]), "dropout": float(p["dropout"]), "l2": float(p["l2"]),
            "lr": float(p["lr"]), "batch_size": int(p["batch_size"]), "epochs": int(epochs)}


def tune_atomsets(X: Sequence[np.ndarray], y, n_trials: int = 30, cpu_budget_s: float = 1800.0, n_splits: int = 3,
                  epochs: int = 50, random_state: int = 0, space: dict | None = None,
                  baseline: dict | None = None, progress: bool = False) -> HPOResult:
    """Optuna search (TPE + median pruning over folds) for AtomSets on ``X``/``y`` by k-fold CV (Methods 4.4).

    ``X``/``y`` must be the *training* data only. ``baseline`` (an :class:`AtomSetsClassifier` parameter
    dict, e.g. the shipped default) is evaluated first as trial 0 on the same folds, so the result says
    whether the search beat it. Stops after ``n_trials`` trials or ``cpu_budget_s`` CPU seconds of this
    process. Each trial reports the running mean AUC-PR after each fold; trials below the median of
    earlier trials at the same fold are pruned (after 4 complete trials).
    """
    optuna = require("optuna", pip_name="optuna")
    from sicnb.classify.atomsets import AtomSetsClassifier
    from sicnb.classify.validation import classification_metrics, kfold_splits

    y = np.asarray(y).astype(int)
    if len(X) != len(y):
        raise ParameterError(f"X has {len(X)} structures but y has {len(y)} labels")
    if n_trials < 1 or cpu_budget_s <= 0:
        raise ParameterError(f"n_trials must be ≥ 1 and cpu_budget_s > 0 (got {n_trials}, {cpu_budget_s})")
    space = dict(space or SEARCH_SPACE)
    folds = kfold_splits(len(y), n_splits, random_state=random_state)
    for name, tr, va in folds:
        if len(set(y[tr].tolist())) < 2 or not y[va].any():
            raise ParameterError(f"{name}: a fold lacks a class; use fewer folds or more data (n={len(y)}, positives={int(y.sum())})")
    cpu0, wall0 = time.process_time(), time.perf_counter()

    def evaluate(trial, params: dict) -> float:
        aucs, mccs = [], []
        for k, (_, tr, va) in enumerate(folds):
            clf = AtomSetsClassifier(**{**params, "random_state": random_state})
            clf.fit([X[i] for i in tr], y[tr])
            m = classification_metrics(y[va], clf.predict_proba([X[i] for i in va])[:, 1])
            aucs.append(m["auc_pr"])
            mccs.append(m["mcc"])
            trial.report(float(np.mean(aucs)), k)
            trial.set_user_attr("mcc_mean", float(np.mean(mccs)))
            if trial.should_prune():
                raise optuna.TrialPruned()
        trial.set_user_attr("auc_pr_std", float(np.std(aucs, ddof=1)) if len(aucs) > 1 else float("nan"))
        trial.set_user_attr("mcc_std", float(np.std(mccs, ddof=1)) if len(mccs) > 1 else float("nan"))
        return float(np.mean(aucs))

    def objective(trial) -> float:
        if trial.number == 0 and baseline is not None:
            params = {**baseline, "epochs": int(baseline.get("epochs", epochs))}
            trial.set_user_attr("params", _plain(params))
            trial.set_user_attr("baseline", True)
            return evaluate(trial, params)
        params = to_atomsets_params(_suggest(trial, space), epochs)
        trial.set_user_attr("params", _plain(params))
        trial.set_user_attr("baseline", False)
        return evaluate(trial, params)

    def budget_cb(study, trial) -> None:
        if time.process_time() - cpu0 >= cpu_budget_s:
            study.stop()

    optuna.logging.set_verbosity(optuna.logging.INFO if progress else optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=random_state),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0))
    study.optimize(objective, n_trials=int(n_trials), callbacks=[budget_cb], gc_after_trial=True)
    rows = []
    for t in study.trials:
        rows.append({"trial": t.number, "state": t.state.name, "auc_pr_mean": t.value,
                     "auc_pr_std": t.user_attrs.get("auc_pr_std"), "mcc_mean": t.user_attrs.get("mcc_mean"),
                     "mcc_std": t.user_attrs.get("mcc_std"), "folds_done": len(t.intermediate_values),
                     "baseline": t.user_attrs.get("baseline", False), "params": t.user_attrs.get("params")})
    trials = pd.DataFrame(rows)
    done = trials[trials["state"] == "COMPLETE"]
    if done.empty:
        raise ParameterError("no trial completed within the budget; raise cpu_budget_s or n_trials")
    best = done.loc[done["auc_pr_mean"].idxmax()]
    return HPOResult(best_params=dict(best["params"]), best_value=float(best["auc_pr_mean"]), trials=trials,
                     n_complete=int(len(done)), n_pruned=int((trials["state"] == "PRUNED").sum()),
                     cpu_s=time.process_time() - cpu0, wall_s=time.perf_counter() - wall0,
                     budget={"n_trials": int(n_trials), "cpu_budget_s": float(cpu_budget_s), "n_splits": int(n_splits),
                             "epochs": int(epochs), "random_state": int(random_state), "n_structures": int(len(y))})


def _plain(params: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
