"""A learned consensus of the ledger's methods, and the evidence each method earns on labelled data (issue 22).

The equal-weight consensus (:func:`sicnb.ledger.stats.consensus_scores`, a normalised Borda count) gives every
method the same vote whether or not it finds conductors. :class:`LearnedConsensus` is a stacked model
(Wolpert 1992): a logistic regression on each method's percentile rank in the pool (missing → 0.5) — or its score
standardised on the training rows (``inputs="zscore"``), or, for the classifier's probability, its log-odds
(``inputs="logit"``; with ``inputs="logit_offset"`` those log-odds are a fixed offset at coefficient 1 and only the
other weights are learned, so that shrinkage returns the classifier's own ranking) — plus one
missingness indicator per method (1 when the method could not score the structure), fitted on the OBELiX
training split (σ > 1e-4 S/cm) with *out-of-fold* inputs for the supervised methods (:mod:`sicnb.ledger.oof`).
Its coefficients are the weights; they ship in ``sicnb/ledger/learned_consensus/weights.json`` with a card
(README.md there) and are what :func:`sicnb.ledger.build_ledger` uses with ``consensus="learned"``. The default
stays the equal-weight consensus: on the LOCO folds the learned one does not rank better (0.639 vs 0.657 pooled
AUC-PR, see the card).

:func:`loco_evidence` evaluates, on the same repeated leave-one-cluster-out (LOCO) folds, every single method,
the equal-weight consensus and the learned one. The learned consensus is evaluated *nested*: for each held-out
cluster the stacker is fitted on the other clusters only, and its supervised inputs on those clusters are
themselves out-of-fold within them (inner LOCO), so nothing it sees was fitted on the held-out labels.

Why one module of ~530 lines: the stacker, its nested LOCO evaluation and the evidence tables must use the
same stacking features; keeping them together keeps the evaluation honest to the model that ships.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from sicnb.errors import ParameterError
from sicnb.ledger.stats import consensus_scores, percentile_ranks

__all__ = [
    "LEARNED_CONSENSUS_DIR", "INPUTS", "PROBABILITY_METHODS", "LearnedConsensus", "stack_features", "logit_features",
    "load_learned_consensus", "learned_consensus_scores",
    "roc_auc", "LocoEvidence", "loco_evidence", "evidence_table", "shipped_evidence", "shipped_oof_scores",
    "apply_learned_consensus", "method_evidence", "rank_evidence", "attach_evidence", "enrichment_curves",
]

LEARNED_CONSENSUS_DIR = Path(__file__).with_name("learned_consensus")
FORMAT = "sicnb-ledger-consensus/1"
#: the stacker's input choices (``LearnedConsensus.inputs``)
INPUTS = ("percentile", "zscore", "logit", "logit_offset")
#: ledger methods whose oriented score is a probability P(σ > 1e-4 S/cm); with ``inputs="logit"`` they enter the
#: stacker as their log-odds (the classifier's P_SI)
PROBABILITY_METHODS = ("classify",)
#: probabilities are clipped to [ε, 1 − ε] before the logit
LOGIT_EPS = 1e-6


def logit_features(scores: pd.DataFrame, methods: Sequence[str], center: Mapping[str, float], scale: Mapping[str, float],
                   logit_methods: Sequence[str]) -> pd.DataFrame:
    """Stacker inputs for ``inputs="logit"``: a method of ``logit_methods`` (a probability, e.g. the classifier's
    out-of-fold P_SI) enters as ``<m>.logit`` = logit(clip(p, ε, 1 − ε)) − ``center`` (the training mean log-odds; unit
    scale, so its coefficient is log-odds per log-odds), every other method as ``<m>.zscore`` (:func:`zscore_features`);
    0 where missing, plus ``<m>.missing``. A calibrated probability fed alone is reproduced with coefficient 1: the
    stacker then starts from that method's own ranking and departs from it only as far as the others earn (stacked
    generalization, Wolpert 1992; logistic recalibration of a probability, Cox 1958)."""
    lm = set(logit_methods)
    z = zscore_features(scores, [m for m in methods if m not in lm], center, scale)
    s = scores.reindex(columns=list(methods))
    out = {}
    for m in methods:
        if m in lm:
            p = pd.to_numeric(s[m], errors="coerce").clip(LOGIT_EPS, 1 - LOGIT_EPS)
            v = np.log(p / (1 - p)) - float(center.get(m, 0.0))
            out[f"{m}.logit"] = v.fillna(0.0)
            out[f"{m}.missing"] = v.isna().astype(float)
        else:
            out[f"{m}.zscore"], out[f"{m}.missing"] = z[f"{m}.zscore"], z[f"{m}.missing"]
    return pd.DataFrame(out, index=scores.index)


def zscore_features(scores: pd.DataFrame, methods: Sequence[str], center: Mapping[str, float],
                    scale: Mapping[str, float]) -> pd.DataFrame:
    """Stacker inputs on the methods' own scales: per method ``<m>.zscore`` = (oriented score − ``center``) / ``scale``
    (training statistics; 0 where missing) and ``<m>.missing``. Unlike pool percentiles these keep a method's absolute
    verdict (a whole cluster of high P_SI stays high) across pools."""
    s = scores.reindex(columns=list(methods))
    out = {}
    for m in methods:
        z = (pd.to_numeric(s[m], errors="coerce") - float(center.get(m, 0.0))) / float(scale.get(m, 1.0) or 1.0)
        out[f"{m}.zscore"] = z.fillna(0.0)
        out[f"{m}.missing"] = z.isna().astype(float)
    return pd.DataFrame(out, index=scores.index)


def stack_features(scores: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Stacker inputs from oriented scores (higher = better, NaN = not scored): per method ``<m>.percentile``
    (:func:`~sicnb.ledger.stats.percentile_ranks` among the structures it scored, 0.5 where missing) and
    ``<m>.missing`` (1.0 where the method has no score). A method absent from ``scores`` is missing everywhere."""
    s = scores.reindex(columns=list(methods))
    pr = percentile_ranks(s) if len(s) else s
    out = {}
    for m in methods:
        out[f"{m}.percentile"] = pr[m].fillna(0.5)
        out[f"{m}.missing"] = pr[m].isna().astype(float)
    return pd.DataFrame(out, index=scores.index)


def _fit_with_offset(X: pd.DataFrame, y: np.ndarray, offset_features: Sequence[str], C: float) -> tuple[list[float], float]:
    """Logistic regression with the ``offset_features`` entering at coefficient 1 (not fitted, not penalised): minimises
    C·Σ log-loss(y, offset + Xw + b) + ½‖w‖² (sklearn's L2 objective; intercept unpenalised) with L-BFGS. Returns the
    coefficients in ``X``'s column order (1.0 for the offsets) and the intercept."""
    from scipy.optimize import minimize

    off = X[list(offset_features)].sum(axis=1).to_numpy(float) if offset_features else np.zeros(len(X))
    free = [c for c in X.columns if c not in set(offset_features)]
    A = X[free].to_numpy(float)
    yy = np.asarray(y, float)

    def f(theta):
        w, b = theta[:-1], theta[-1]
        z = off + A @ w + b
        loss = np.logaddexp(0.0, z) - yy * z
        g = 1.0 / (1.0 + np.exp(-z)) - yy
        return C * loss.sum() + 0.5 * w @ w, np.append(C * (A.T @ g) + w, C * g.sum())

    res = minimize(f, np.zeros(A.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 5000})
    w = dict(zip(free, res.x[:-1]))
    return [1.0 if c in set(offset_features) else float(w[c]) for c in X.columns], float(res.x[-1])


@dataclass
class LearnedConsensus:
    """Logistic regression on :func:`stack_features` (L2, ``C``); ``coef`` in feature order, ``card`` = provenance."""

    methods: list[str]
    C: float = 1.0
    coef: list[float] = field(default_factory=list)
    intercept: float = 0.0
    card: dict[str, Any] = field(default_factory=dict)
    #: ``"percentile"`` (pool percentile ranks), ``"zscore"`` (oriented scores standardised with training statistics)
    #: or ``"logit"`` (the probability methods, :data:`PROBABILITY_METHODS`, as log-odds; the others as z-scores);
    #: ``"logit_offset"``: the same features, but the log-odds enter with coefficient fixed to 1 (an offset, not
    #: penalised) and only the other weights are learned (L2 shrinks them towards the probability method alone)
    inputs: str = "percentile"
    center: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    #: with ``inputs="logit"``: the methods fed as log-odds (default: those of ``methods`` in :data:`PROBABILITY_METHODS`)
    logit_methods: list[str] | None = None

    def __post_init__(self) -> None:
        if self.inputs not in INPUTS:
            raise ParameterError(f"inputs={self.inputs!r}: use one of {', '.join(INPUTS)}")
        if self.logit_inputs and self.logit_methods is None:
            self.logit_methods = [m for m in self.methods if m in PROBABILITY_METHODS]
        if not self.logit_inputs:
            self.logit_methods = []

    @property
    def logit_inputs(self) -> bool:
        return self.inputs in ("logit", "logit_offset")

    @property
    def value_feature(self) -> str:
        """Name of the value column in :meth:`weights` (``<value_feature>_weight``); ``"value"`` for logit inputs,
        whose value feature differs per method (:meth:`value_feature_of`)."""
        return {"zscore": "zscore", "logit": "value", "logit_offset": "value"}.get(self.inputs, "percentile")

    def value_feature_of(self, method: str) -> str:
        """The stacked value feature of ``method``: ``percentile``, ``zscore`` or ``logit``."""
        if self.logit_inputs:
            return "logit" if method in (self.logit_methods or []) else "zscore"
        return self.value_feature

    @property
    def features(self) -> list[str]:
        return [f"{m}.{k}" for m in self.methods for k in (self.value_feature_of(m), "missing")]

    def _features(self, scores: pd.DataFrame) -> pd.DataFrame:
        if self.inputs == "zscore":
            return zscore_features(scores, self.methods, self.center, self.scale)
        if self.logit_inputs:
            return logit_features(scores, self.methods, self.center, self.scale, self.logit_methods or [])
        return stack_features(scores, self.methods)

    def fit(self, scores: pd.DataFrame, y: pd.Series) -> "LearnedConsensus":
        """Fit on oriented scores (rows = labelled structures) and 0/1 labels ``y`` (same index)."""
        from sklearn.linear_model import LogisticRegression

        if self.inputs not in INPUTS:
            raise ParameterError(f"inputs={self.inputs!r}: use one of {', '.join(INPUTS)}")
        if self.inputs in ("zscore", "logit", "logit_offset"):
            s = scores.reindex(columns=self.methods).apply(pd.to_numeric, errors="coerce")
            self.center = {m: float(s[m].mean()) if s[m].notna().any() else 0.0 for m in self.methods}
            self.scale = {m: float(s[m].std()) if s[m].notna().sum() > 1 and s[m].std() > 0 else 1.0 for m in self.methods}
            for m in self.logit_methods or []:
                p = s[m].clip(LOGIT_EPS, 1 - LOGIT_EPS)
                if ((s[m] < 0) | (s[m] > 1)).any():
                    raise ParameterError(f"inputs='logit': {m} scores must be probabilities in [0, 1]")
                lo = np.log(p / (1 - p))
                self.center[m], self.scale[m] = (float(lo.mean()) if lo.notna().any() else 0.0), 1.0
        X = self._features(scores)
        yy = y.reindex(X.index).astype(int).to_numpy()
        if len(set(yy.tolist())) < 2:
            raise ParameterError(f"the learned consensus needs both classes among its {len(yy)} training structures")
        if self.inputs == "logit_offset":
            self.coef, self.intercept = _fit_with_offset(X[self.features], yy, [f"{m}.logit" for m in self.logit_methods or []],
                                                         self.C)
            return self
        lr = LogisticRegression(C=self.C, max_iter=2000).fit(X[self.features].to_numpy(float), yy)
        self.coef = [float(c) for c in lr.coef_[0]]
        self.intercept = float(lr.intercept_[0])
        return self

    def decision(self, scores: pd.DataFrame) -> pd.DataFrame:
        """Per structure: the contribution of every feature (coef × value), ``logit`` and ``consensus`` = P(σ > 1e-4 S/cm)."""
        if not self.coef:
            raise ParameterError("LearnedConsensus is not fitted; fit() it or load_learned_consensus()")
        X = self._features(scores)[self.features]
        contrib = X * np.asarray(self.coef)
        logit = contrib.sum(axis=1) + self.intercept
        out = contrib.add_suffix(".contribution")
        out["logit"] = logit
        out["consensus"] = 1.0 / (1.0 + np.exp(-logit))
        return out

    def predict(self, scores: pd.DataFrame) -> pd.Series:
        return self.decision(scores)["consensus"]

    def weights(self) -> pd.DataFrame:
        """One row per method: value weight (``percentile_weight``, ``zscore_weight``, or for logit inputs
        ``value_weight`` with the feature in ``value_feature``), missingness weight (log-odds per unit)."""
        c = dict(zip(self.features, self.coef))
        out = pd.DataFrame({"method": self.methods,
                            f"{self.value_feature}_weight": [c[f"{m}.{self.value_feature_of(m)}"] for m in self.methods],
                            "missing_weight": [c[f"{m}.missing"] for m in self.methods]})
        if self.logit_inputs:
            out.insert(1, "value_feature", [self.value_feature_of(m) for m in self.methods])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "model": f"logistic regression on per-method {self.inputs} inputs + missingness indicator",
                "methods": list(self.methods), "features": self.features, "C": self.C, "coef": self.coef,
                "intercept": self.intercept, "missing_percentile": 0.5, "inputs": self.inputs, "center": self.center,
                "scale": self.scale, "logit_methods": list(self.logit_methods or []), "card": self.card}

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_dict(), indent=1, default=float))
        return p

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "LearnedConsensus":
        if d.get("format") != FORMAT:
            raise ParameterError(f"not a learned-consensus file (format {d.get('format')!r}, expected {FORMAT!r})")
        obj = cls(methods=list(d["methods"]), C=float(d["C"]), coef=[float(c) for c in d["coef"]],
                  intercept=float(d["intercept"]), card=dict(d.get("card", {})), inputs=str(d.get("inputs", "percentile")),
                  center={k: float(v) for k, v in d.get("center", {}).items()}, scale={k: float(v) for k, v in d.get("scale", {}).items()},
                  logit_methods=list(d["logit_methods"]) if d.get("logit_methods") is not None else None)
        if obj.features != list(d["features"]) or len(obj.coef) != len(obj.features):
            raise ParameterError("learned-consensus file: features and coefficients do not match its methods")
        return obj

    @classmethod
    def load(cls, path: str | Path) -> "LearnedConsensus":
        return cls.from_dict(json.loads(Path(path).read_text()))


def load_learned_consensus(path: str | Path | None = None) -> LearnedConsensus:
    """The shipped weights (``sicnb/ledger/learned_consensus/weights.json``) or those at ``path``."""
    p = Path(path) if path is not None else LEARNED_CONSENSUS_DIR / "weights.json"
    if not p.exists():
        from sicnb.errors import ModelUnavailableError

        raise ModelUnavailableError(f"no learned-consensus weights at {p}; run `python bench/bench_ledger.py ship` or use consensus='equal'")
    return LearnedConsensus.load(p)


def learned_consensus_scores(scores: pd.DataFrame, model: LearnedConsensus, min_methods: int = 1) -> pd.DataFrame:
    """Same columns as :func:`~sicnb.ledger.stats.consensus_scores` (``consensus``, ``n_methods``, ``consensus_rank``)
    with ``consensus`` = the learned P(σ > 1e-4 S/cm), plus the per-feature contributions."""
    dec = model.decision(scores)
    n = scores.reindex(columns=model.methods).notna().sum(axis=1)
    out = dec.copy()
    out["consensus"] = dec["consensus"].where(n >= max(int(min_methods), 1))
    out["n_methods"] = n.astype(int)
    out["consensus_rank"] = out["consensus"].rank(method="min", ascending=False)
    return out


# --- evaluation ---------------------------------------------------------------------------------------

def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC as the Mann–Whitney statistic (ties count 1/2); equals :func:`sklearn.metrics.roc_auc_score`."""
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(np.asarray(p, float))
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sicnb.classify.selection import fast_metrics

    return {"auc_pr": fast_metrics(y, p)["auc_pr"], "roc_auc": roc_auc(y, p)}


@dataclass
class LocoEvidence:
    """Out-of-fold scores of every model on repeated LOCO folds and their pooled metrics.

    ``oof``: columns seed, fold, id, y, model, score (higher = more promising; single methods: their percentile with
    0.5 where missing). ``metrics``: one row per model (see :func:`evidence_table`). ``coverage``: per method and seed,
    the number of structures scored and the reasons for the others. ``weights``: the learned consensus fitted in each
    outer fold (seed, fold, feature, coef)."""

    oof: pd.DataFrame
    metrics: pd.DataFrame
    coverage: pd.DataFrame
    weights: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)


def _supervised_columns(supervised: Mapping[str, Any], folds: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Oriented OOF score per supervised method on ``folds`` and their errors."""
    from sicnb.ledger.oof import oof_scores

    sc, er = {}, {}
    for name, scorer in supervised.items():
        t = oof_scores(scorer, folds)
        sc[name] = pd.to_numeric(t["score"], errors="coerce").where(t["error"].eq("")) * int(scorer.direction)
        er[name] = t["error"]
    return pd.DataFrame(sc, index=folds.index), pd.DataFrame(er, index=folds.index)


def _no_better_than_chance(auc_pr_lo: float, prevalence: float, roc_auc_lo: float) -> bool:
    """The evidence table's chance flag: the AUC-PR interval reaches the prevalence or the ROC-AUC interval reaches 0.5."""
    return bool(auc_pr_lo <= prevalence or roc_auc_lo <= 0.5)


def better_than_chance_methods(scores: pd.DataFrame, y: pd.Series, n_boot: int = 1000, random_state: int = 0) -> list[str]:
    """The methods (columns of oriented ``scores``) whose percentile rank, 0.5 where missing, ranks the labelled
    structures ``y`` (0/1, index = ids) better than chance by the evidence table's rule: 95 % bootstrap interval of
    AUC-PR above the prevalence and of ROC-AUC above 0.5 (:func:`evidence_table`). Percentiles are taken over all
    rows of ``scores`` (label-free); only the labelled rows are tested."""
    from sicnb.classify.selection import bootstrap_interval

    pct = percentile_ranks(scores).fillna(0.5).reindex(y.index)
    yy = y.astype(int).to_numpy()
    keep = []
    for m in scores.columns:
        p = pct[m].to_numpy(float)
        pr_lo, _ = bootstrap_interval(yy, [p], "auc_pr", n_boot, random_state=random_state, metrics=_metrics)
        roc_lo, _ = bootstrap_interval(yy, [p], "roc_auc", n_boot, random_state=random_state, metrics=_metrics)
        if not _no_better_than_chance(pr_lo, float(yy.mean()), roc_lo):
            keep.append(m)
    return keep


def gated_consensus_scores(scores: pd.DataFrame, gated: Sequence[str], missing: str = "neutral",
                           min_methods: int = 1) -> tuple[pd.DataFrame, list[str]]:
    """The equal-weight consensus of the ``gated`` methods (those better than chance on labelled data); all methods
    when none of them is in ``scores``. Returns the consensus table and the methods it averaged."""
    used = [m for m in scores.columns if m in set(gated)] or list(scores.columns)
    return consensus_scores(scores[used], missing=missing, min_methods=min_methods), used


def evidence_table(oof: pd.DataFrame, n_boot: int = 1000, reference: str | None = None) -> pd.DataFrame:
    """Pooled out-of-fold AUC-PR and ROC-AUC per model: mean over seeds of the metric on all held-out clusters
    concatenated, the std over seeds, a 95 % bootstrap interval over structures (same resamples for every model), the
    prevalence, and ``no_better_than_chance`` (AUC-PR interval reaches the prevalence or ROC-AUC interval reaches 0.5).
    With ``reference``, also the paired difference model − reference in AUC-PR (mean over seeds) with its interval."""
    from sicnb.classify.selection import bootstrap_interval, paired_difference

    rows = []
    piv = {m: g.pivot(index="id", columns="seed", values="score").sort_index() for m, g in oof.groupby("model", sort=False)}
    y = oof.drop_duplicates("id").set_index("id")["y"].sort_index().astype(int)
    for m, P in piv.items():
        yy = y.reindex(P.index).to_numpy()
        per_seed = [_metrics(yy, P[s].to_numpy(float)) for s in P.columns]
        row = {"model": m, "n": len(yy), "n_pos": int(yy.sum()), "prevalence": float(yy.mean()), "n_seeds": P.shape[1]}
        for met in ("auc_pr", "roc_auc"):
            v = np.array([d[met] for d in per_seed])
            row[met], row[f"{met}_seed_std"] = float(v.mean()), float(v.std())
            row[f"{met}_lo"], row[f"{met}_hi"] = bootstrap_interval(yy, [P[s].to_numpy(float) for s in P.columns], met, n_boot,
                                                                     metrics=_metrics)
        row["no_better_than_chance"] = _no_better_than_chance(row["auc_pr_lo"], row["prevalence"], row["roc_auc_lo"])
        if reference is not None and reference in piv and m != reference:
            R = piv[reference].reindex(P.index)
            d = [paired_difference(yy, P[s].to_numpy(float), R[s].to_numpy(float), n_boot=n_boot)["auc_pr"] for s in P.columns]
            row[f"auc_pr_minus_{reference}"] = float(np.mean([x[0] for x in d]))
            row[f"auc_pr_minus_{reference}_lo"] = float(np.mean([x[1] for x in d]))
            row[f"auc_pr_minus_{reference}_hi"] = float(np.mean([x[2] for x in d]))
        rows.append(row)
    return pd.DataFrame(rows)


def loco_evidence(unsupervised: pd.DataFrame, supervised: Mapping[str, Any], y: pd.Series, folds: Mapping[int, pd.Series],
                  methods: Sequence[str] | None = None, C: float = 1.0, n_boot: int = 1000, inputs: str = "percentile",
                  extra_learners: Mapping[str, Callable[[], Any]] | None = None,
                  log: Callable[[str], None] | None = None, also_inputs: Sequence[str] = ()) -> LocoEvidence:
    """Repeated-LOCO evidence for every method, the equal-weight and the learned consensus.

    ``unsupervised``: oriented scores (higher = better, NaN = not scored) of the label-free methods, one column each.
    ``supervised``: name → :class:`~sicnb.ledger.oof.SupervisedScorer` (refitted per fold). ``y``: 0/1 labels.
    ``folds``: seed → LOCO cluster per id. ``methods``: stacker inputs in order (default: all columns).
    ``extra_learners``: name → factory of an sklearn classifier fitted on the same stacked features and folds
    (e.g. monotone gradient boosting), reported beside the logistic stacker. ``also_inputs``: further input choices of
    the logistic stacker (:data:`INPUTS`) fitted on the same nested folds, reported as
    ``learned consensus (logistic, <inputs> inputs)``; ``inputs`` is the one named ``learned consensus (logistic)``.
    ``equal-weight consensus`` averages the ``methods``; when ``unsupervised``/``supervised`` hold further methods
    (scored as single methods only), ``equal-weight consensus (every method)`` averages all of them, as the ledger's
    default consensus does. ``learned consensus (evidence-gated equal weights)``: in each outer fold, every method
    (stacker inputs and evidence-only ones) whose percentile is better than chance on the training clusters
    (:func:`better_than_chance_methods`, supervised methods by their inner out-of-fold scores) enters an equal-weight
    mean percentile that ranks the held-out cluster; the kept methods per fold are in ``settings``.
    """
    ids = list(y.index)
    unsup = unsupervised.reindex(ids)
    methods = list(methods) if methods is not None else [*unsup.columns, *supervised]
    rows, cov, wrows, gates = [], [], [], []
    for seed, fold in folds.items():
        fold = fold.reindex(ids)
        if fold.isna().any():
            raise ParameterError(f"LOCO folds of seed {seed} miss {int(fold.isna().sum())} labelled ids")
        sup, sup_err = _supervised_columns(supervised, fold)
        S = pd.concat([unsup, sup], axis=1)
        for m in S.columns:
            cov.append({"seed": seed, "method": m, "n_scored": int(S[m].notna().sum()), "n": len(S),
                        "reasons": json.dumps(sup_err[m][sup_err[m].ne("")].value_counts().to_dict()) if m in sup_err else ""})
        pct = percentile_ranks(S).fillna(0.5)
        eq = consensus_scores(S[[m for m in methods if m in S]], missing="neutral")["consensus"]
        preds = {f"single: {m}": pct[m] for m in S.columns}
        preds["equal-weight consensus"] = eq
        if set(S.columns) - set(methods):  # evidence-only methods present: the ledger's default averages them too
            preds["equal-weight consensus (every method)"] = consensus_scores(S, missing="neutral")["consensus"]
        learned = pd.Series(np.nan, index=ids)
        variants = {v: pd.Series(np.nan, index=ids) for v in also_inputs if v != inputs}
        extra = {k: pd.Series(np.nan, index=ids) for k in (extra_learners or {})}
        gated = pd.Series(np.nan, index=ids)
        for k in sorted(pd.unique(fold)):
            held = fold.index[fold.eq(k)]
            train = fold.index[fold.ne(k)]
            inner, _ = _supervised_columns(supervised, fold.loc[train])  # OOF within the training clusters only
            S_k = pd.concat([unsup, pd.concat([inner, sup.loc[held]])], axis=1).reindex(ids)
            yt = y.loc[train].astype(int)
            if yt.nunique() < 2:
                for s_ in (learned, gated, *variants.values(), *extra.values()):
                    s_.loc[held] = float(yt.mean())
                continue
            # evidence-gated equal weights: every method, kept when better than chance on the training clusters
            keep = better_than_chance_methods(S_k, yt, n_boot=n_boot, random_state=int(seed))
            # a structure none of the kept methods scored gets no opinion (0.5), as a single method's missing score
            gated.loc[held] = gated_consensus_scores(S_k, keep)[0]["consensus"].fillna(0.5).loc[held]
            gates.append({"seed": int(seed), "fold": int(k), "methods": keep})
            model = LearnedConsensus(methods, C=C, inputs=inputs).fit(S_k.loc[train], yt)
            # percentiles over the whole pool (label-free); predict the held-out cluster only
            learned.loc[held] = model.predict(S_k).loc[held]
            for v, s_ in variants.items():
                s_.loc[held] = LearnedConsensus(methods, C=C, inputs=v).fit(S_k.loc[train], yt).predict(S_k).loc[held]
            wrows += [{"seed": seed, "fold": int(k), "feature": f, "coef": c} for f, c in zip(model.features, model.coef)]
            if extra_learners:
                X = stack_features(S_k, methods)
                for name, make in extra_learners.items():
                    est = make().fit(X.loc[train].to_numpy(float), yt.to_numpy())
                    extra[name].loc[held] = est.predict_proba(X.loc[held].to_numpy(float))[:, 1]
        preds["learned consensus (logistic)"] = learned
        preds["learned consensus (evidence-gated equal weights)"] = gated
        for v, s_ in variants.items():
            preds[f"learned consensus (logistic, {v} inputs)"] = s_
        for name, s in extra.items():
            preds[f"learned consensus ({name})"] = s
        for name, s in preds.items():
            rows.append(pd.DataFrame({"seed": seed, "fold": fold.to_numpy(), "id": ids, "y": y.to_numpy().astype(int),
                                      "model": name, "score": s.reindex(ids).to_numpy(float)}))
        if log:
            log(f"seed {seed}: {fold.nunique()} LOCO clusters done")
    oof = pd.concat(rows, ignore_index=True)
    metrics = evidence_table(oof, n_boot=n_boot)
    return LocoEvidence(oof, metrics, pd.DataFrame(cov), pd.DataFrame(wrows),
                        {"seeds": [int(s) for s in folds], "methods": methods, "C": C, "n_boot": n_boot, "inputs": inputs,
                         "also_inputs": list(also_inputs), "gated_methods_per_fold": gates})


# --- shipped evidence -------------------------------------------------------------------------------

def shipped_evidence(path: str | Path | None = None) -> pd.DataFrame:
    """The per-model LOCO evidence table shipped with the weights (``learned_consensus/evidence.csv``)."""
    p = Path(path) if path is not None else LEARNED_CONSENSUS_DIR / "evidence.csv"
    if not p.exists():
        return pd.DataFrame()
    return pd.read_csv(p)


def shipped_oof_scores(path: str | Path | None = None) -> pd.DataFrame:
    """The shipped out-of-fold scores (``learned_consensus/oof_scores.csv``: seed, id, y, one column per model)."""
    p = Path(path) if path is not None else LEARNED_CONSENSUS_DIR / "oof_scores.csv"
    if not p.exists():
        return pd.DataFrame()
    return pd.read_csv(p)


# --- the ledger's use of the weights and evidence ---------------------------------------------------

def apply_learned_consensus(ledger: Any, scores: pd.DataFrame, equal: pd.DataFrame, weights: Any = None,
                            min_methods: int = 1) -> pd.DataFrame:
    """Called by :func:`~sicnb.ledger.core.build_ledger`: the learned consensus of ``scores`` (oriented, consensus
    methods), with the equal-weight one (``equal``) kept as ``consensus_equal``/``consensus_equal_rank`` and each method's
    contribution to the log-odds as ``<m>.consensus_contribution``; records the weights in ``consensus_settings``."""
    model = load_learned_consensus(weights)
    if not any(m in scores.columns for m in model.methods):
        ledger.consensus_settings["aggregation"] = (
            f"equal-weight mean percentile: none of the learned consensus's methods ({', '.join(model.methods)}) is in this "
            "ledger, so the learned weights cannot rank it")
        return equal
    lc = learned_consensus_scores(scores, model, min_methods=min_methods)
    n = scores.notna().sum(axis=1)  # as the equal-weight consensus: methods of this ledger that scored the structure
    lc["n_methods"] = n.astype(int)
    lc["consensus"] = (1.0 / (1.0 + np.exp(-lc["logit"]))).where(n >= max(int(min_methods), 1))
    lc["consensus_rank"] = lc["consensus"].rank(method="min", ascending=False)
    t = ledger.table
    t["consensus_equal"] = equal["consensus"]
    t["consensus_equal_rank"] = equal["consensus_rank"]
    t["consensus_logit"] = lc["logit"]
    for m in model.methods:
        t[f"{m}.consensus_contribution"] = lc[f"{m}.{model.value_feature_of(m)}.contribution"] + lc[f"{m}.missing.contribution"]
    ledger.consensus_settings.update({
        "aggregation": f"learned: logistic regression on method {model.inputs} inputs + missingness indicators (sicnb.ledger.consensus)",
        "weights": model.weights().round(4).to_dict(orient="records"), "intercept": model.intercept,
        "weights_source": str(weights) if weights is not None else "shipped (sicnb/ledger/learned_consensus/weights.json)",
        "weights_methods_not_in_ledger": [m for m in model.methods if m not in scores.columns],
        "trained_on": model.card.get("data", ""), "command": model.card.get("command", "")})
    return lc


def method_evidence(path: str | Path | None = None) -> pd.DataFrame:
    """Per ledger method (index = method name, plus ``equal-weight consensus`` / ``learned consensus``): its shipped
    repeated-LOCO pooled AUC-PR / ROC-AUC on the OBELiX training split with 95 % intervals, the prevalence, and
    ``no_better_than_chance``. Empty when no evidence ships."""
    ev = shipped_evidence(path)
    if ev.empty:
        return ev
    ev = ev.copy()
    ev["method"] = ev["model"].str.replace("single: ", "", regex=False).replace({"learned consensus (logistic)": "learned consensus"})
    cols = ["method", "auc_pr", "auc_pr_lo", "auc_pr_hi", "roc_auc", "roc_auc_lo", "roc_auc_hi", "prevalence", "n", "no_better_than_chance"]
    return ev[cols].set_index("method")


def rank_evidence(ledger: Any, structure_id: str, path: str | Path | None = None) -> pd.DataFrame:
    """What one candidate's consensus rank rests on: per method its score/percentile (or why it has none), its
    contribution to the learned log-odds (when the ledger uses the learned consensus), its LOCO evidence and chance flag."""
    t = ledger.table
    row = t.loc[structure_id]
    ev = method_evidence(path)
    rows = []
    for m in ledger.methods["name"]:
        e = ev.loc[m] if m in ev.index else None
        rows.append({"method": m, "scored": bool(pd.notna(row.get(f"{m}.score", np.nan))),
                     "percentile": row.get(f"{m}.percentile", np.nan), "why_missing": row.get(f"{m}.error", ""),
                     "contribution_logodds": row.get(f"{m}.consensus_contribution", np.nan),
                     "loco_auc_pr": np.nan if e is None else e["auc_pr"],
                     "loco_auc_pr_ci": "" if e is None else f"[{e['auc_pr_lo']:.2f}, {e['auc_pr_hi']:.2f}]",
                     "loco_roc_auc": np.nan if e is None else e["roc_auc"],
                     "no_better_than_chance": np.nan if e is None else bool(e["no_better_than_chance"])})
    out = pd.DataFrame(rows)
    out["evidence_weight"] = out["contribution_logodds"].abs() / out["contribution_logodds"].abs().sum() \
        if out["contribution_logodds"].notna().any() else np.nan
    return out


def attach_evidence(methods: pd.DataFrame, path: str | Path | None = None) -> pd.DataFrame:
    """Add each method's shipped LOCO evidence to the ledger's method table: ``loco_auc_pr`` (+ ``_ci`` text),
    ``loco_roc_auc`` (+ ``_ci``), ``loco_prevalence`` and ``no_better_than_chance`` (NaN for methods without evidence)."""
    ev = method_evidence(path)
    out = methods.copy()
    if ev.empty or "name" not in out:
        return out
    e = ev.reindex(out["name"])
    out["loco_auc_pr"] = e["auc_pr"].to_numpy()
    out["loco_auc_pr_ci"] = [f"[{a:.2f}, {b:.2f}]" if np.isfinite(a) else "" for a, b in zip(e["auc_pr_lo"], e["auc_pr_hi"])]
    out["loco_roc_auc"] = e["roc_auc"].to_numpy()
    out["loco_roc_auc_ci"] = [f"[{a:.2f}, {b:.2f}]" if np.isfinite(a) else "" for a, b in zip(e["roc_auc_lo"], e["roc_auc_hi"])]
    out["loco_prevalence"] = e["prevalence"].to_numpy()
    out["no_better_than_chance"] = e["no_better_than_chance"].to_numpy()
    return out


def enrichment_curves(oof_wide: pd.DataFrame, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Recall of the positives against the fraction of the ranked list screened, per model, averaged over seeds
    (``oof_wide``: :func:`shipped_oof_scores`, columns seed, id, y and one per model; ties broken by id).
    Columns model, fraction_screened, recall, random (= fraction_screened)."""
    models = list(models) if models is not None else [c for c in oof_wide.columns if c not in ("seed", "id", "y")]
    rows = []
    for m in models:
        curves = []
        for _, g in oof_wide.groupby("seed"):
            g = g.sort_values([m, "id"], ascending=[False, True])
            y = g["y"].to_numpy().astype(float)
            curves.append(np.cumsum(y) / max(y.sum(), 1))
        rec = np.mean(curves, axis=0)
        frac = np.arange(1, len(rec) + 1) / len(rec)
        rows.append(pd.DataFrame({"model": m, "fraction_screened": frac, "recall": rec, "random": frac}))
    return pd.concat(rows, ignore_index=True)
