"""Descriptor screening (thesis Fig. 2.2, Table A.1) and second-order unions (App. A.3).

* :func:`screen_combinations` — for each (descriptor, simplification, options): descriptor table →
  Ward tree → clusters at every depth → frozen-state W_σ and its random control; one long table.
* :func:`rank_combinations` — mean W_σ over a depth range per combination, ascending (Fig. 2.2 order).
* :func:`soap_grid` — SOAP hyperparameter combinations of Table A.1 (pass a reduced grid and say so).
* :func:`union_table` / :func:`alpha_scan` — d_AB = d_A ∪ α d_B on the descriptors as computed (as the paper) and the
  W_σ curve for each mixing ratio α (paper: α from 1e-6 to 1e6).
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from sicnb.cluster.descriptors import DESCRIPTORS
from sicnb.cluster.transformers import descriptor_table
from sicnb.cluster.ward import DEFAULT_DEPTHS, cluster_assignments, descriptor_matrix, w_sigma_curve, ward_tree
from sicnb.errors import InputError, ParameterError

__all__ = ["Combination", "screen_combinations", "rank_combinations", "soap_grid", "union_table", "alpha_scan",
           "paper_combinations", "labelled_subpool"]


@dataclass(frozen=True)
class Combination:
    """One simplification–descriptor representation (thesis: 180 of them; options = Table A.1 values)."""

    descriptor: str
    simplification: str = "none"
    options: tuple = field(default_factory=tuple)  # sorted (name, value) pairs, hashable

    @classmethod
    def make(cls, descriptor: str, simplification: str = "none", **options: Any) -> "Combination":
        return cls(descriptor, simplification, tuple(sorted(options.items())))

    @property
    def label(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in self.options)
        return f"{self.descriptor}-{self.simplification}" + (f"({opts})" if opts else "")

    @property
    def family(self) -> str:
        return DESCRIPTORS[self.descriptor].family


def paper_combinations(descriptors: Iterable[str] | None = None, simplifications: Sequence[str] | None = None,
                       restrict: dict[str, Sequence[str]] | None = None) -> list[Combination]:
    """Every implemented descriptor × every simplification it is defined on, at default options.

    Compositional descriptors skip the 40 Å³-per-anion forms: rescaling the cell leaves the composition,
    and so the descriptor, unchanged (CAN-40 would duplicate CAN). ``restrict`` maps a descriptor to the
    only simplifications to run it on (e.g. the costly Voronoi-based ones on ``none`` and ``CAN``).
    """
    from sicnb.cluster.descriptors import allowed_simplifications

    out = []
    for d in descriptors or DESCRIPTORS:
        for s in allowed_simplifications(d):
            if simplifications is not None and s not in simplifications:
                continue
            if DESCRIPTORS[d].input == "composition" and s.endswith("-40"):
                continue
            if restrict and d in restrict and s not in restrict[d]:
                continue
            out.append(Combination.make(d, s))
    return out


def labelled_subpool(pool, labels: pd.Series, max_unlabelled: int | None, seed: int = 0):
    """Every labelled record of ``pool`` plus at most ``max_unlabelled`` unlabelled ones drawn at random
    (``seed``), in pool order — the reduced screening pool (the paper: ~26,000 structures, 155–220 labels)."""
    from sicnb.data import Dataset

    recs = list(pool)
    if max_unlabelled is None:
        return pool
    lab = set(labels.dropna().index)
    unl = [k for k, r in enumerate(recs) if r.id not in lab]
    rng = np.random.default_rng(seed)
    pick = set(rng.choice(unl, size=min(int(max_unlabelled), len(unl)), replace=False).tolist()) if unl else set()
    keep = [r for k, r in enumerate(recs) if r.id in lab or k in pick]
    return Dataset(keep, name=f"{getattr(pool, 'name', 'pool')}[labelled+{len(pick)} unlabelled]")


def soap_grid(r_cut: Sequence[float] = (2.0, 3.0, 4.0), n_max: Sequence[int] = (2, 4, 5), l_max: Sequence[int] = (2, 3),
              average: Sequence[str] = ("outer", "inner"), simplification: str = "CAN") -> list[Combination]:
    """SOAP grid of Table A.1 (paper: r_cut 1–30 Å, n_max 2–9, l_max 1–9, average outer/inner).

    The default is a reduced grid around the paper's three best SOAP-CAN settings
    ([2,4,2], [4,2,2], [3,5,3]); state the grid you ran.
    """
    return [Combination.make("soap", simplification, r_cut=float(r), n_max=int(n), l_max=int(lm), average=a)
            for r, n, lm, a in itertools.product(r_cut, n_max, l_max, average)]


def screen_combinations(
    items,
    labels: pd.Series,
    combinations: Sequence[Combination],
    depths: Sequence[int] = DEFAULT_DEPTHS,
    n_control: int = 100,
    common_labels: bool = True,
    mobile_ion: str = "Li",
    n_workers: int = 1,
    cache_dir=None,
    progress: bool = False,
    seed: int = 0,
    on_result=None,
    standardize: bool = False,
) -> pd.DataFrame:
    """W_σ curve (App. A.1) of every combination on one pool; long table, one row per (combination, depth).

    ``labels``: log10 σ (log10 S/cm) indexed by id (or E_a in eV for W_Ea). With ``common_labels`` every
    combination is scored on the labelled ids that all combinations could describe, so curves are
    comparable (the paper's combinations were scored on their own subsets; see Fig. A.3).
    Combinations that fail completely are reported in ``attrs['failed']`` and skipped. Ward distances are
    on the descriptors as computed unless ``standardize`` (see :func:`sicnb.cluster.ward.ward_tree`).

    With ``common_labels=False`` each combination is scored as soon as its tree is built and
    ``on_result(curve_rows)`` (if given) receives its rows — long screens can save as they go. Compare
    such combinations by ``ratio_to_control`` (W_σ is a sum over labels, so it grows with their number).
    """
    if not combinations:
        raise ParameterError("no combinations to screen")
    labels = labels.dropna()
    trees, failed, rows = {}, {}, []
    for combo in combinations:
        table = descriptor_table(items, combo.descriptor, combo.simplification, dict(combo.options), mobile_ion,
                                 n_workers=n_workers, cache_dir=cache_dir, progress=progress)
        try:
            tree = ward_tree(table, standardize=standardize)
        except InputError as exc:
            failed[combo.label] = str(exc)
            continue
        trees[combo] = (tree, int((table["error"] != "").sum()))
        if not common_labels:
            curve = _score(combo, *trees.pop(combo), labels, depths, n_control, seed, failed)
            if curve is not None:
                rows.append(curve)
                if on_result is not None:
                    on_result(curve)
    if not common_labels:
        if not rows:
            raise InputError(f"no combination could be scored: {failed}")
        out = pd.concat(rows, ignore_index=True)
        out.attrs["failed"] = failed
        return out
    if not trees:
        raise InputError(f"every combination failed: {failed}")
    lab = labels
    if common_labels:
        common = set(labels.index)
        for tree, _ in trees.values():
            common &= set(tree.ids)
        lab = labels[labels.index.isin(common)]
    for combo, (tree, n_failed) in trees.items():
        curve = _score(combo, tree, n_failed, lab, depths, n_control, seed, failed)
        if curve is not None:
            rows.append(curve)
    if not rows:
        raise InputError(f"no combination could be scored: {failed}")
    out = pd.concat(rows, ignore_index=True)
    out.attrs["failed"] = failed
    return out


def _score(combo, tree, n_failed, labels, depths, n_control, seed, failed):
    A = cluster_assignments(tree, depths)
    try:
        curve = w_sigma_curve(A, labels, n_control=n_control, seed=seed)
    except InputError as exc:
        failed[combo.label] = str(exc)
        return None
    curve.insert(0, "combination", combo.label)
    curve.insert(1, "descriptor", combo.descriptor)
    curve.insert(2, "simplification", combo.simplification)
    curve.insert(3, "options", json.dumps(dict(combo.options), sort_keys=True))
    curve.insert(4, "family", combo.family)
    curve["n_structures"] = tree.n_leaves
    curve["n_failed"] = n_failed
    return curve


def rank_combinations(curves: pd.DataFrame, depth_range: tuple[int, int] = (2, 50), value: str = "W_sigma",
                      by: str = "mean") -> pd.DataFrame:
    """Mean W over ``depth_range`` (inclusive; Fig. 2.2 uses 2–50) per combination, ascending in ``by``
    (``"mean"``, or ``"mean_ratio_to_control"`` when combinations were scored on different label sets).

    Columns: combination, descriptor, simplification, family, mean, std, control_mean, mean_ratio_to_control,
    best_of_descriptor (the best simplification/options per descriptor, as Fig. 2.2 shows).
    """
    lo, hi = depth_range
    sel = curves[(curves["depth"] >= lo) & (curves["depth"] <= hi)]
    if sel.empty:
        raise ParameterError(f"no rows with depth in {depth_range}")
    agg = {"mean": (value, "mean"), "std": (value, "std")}
    if f"{value}_control_mean" in sel:
        agg["control_mean"] = (f"{value}_control_mean", "mean")
        agg["mean_ratio_to_control"] = ("ratio_to_control", "mean")
    g = sel.groupby(["combination", "descriptor", "simplification", "family"], as_index=False).agg(**agg)
    if "n_labels" in sel:
        g = g.merge(sel.groupby("combination", as_index=False)["n_labels"].first(), on="combination")
    if by not in g:
        raise ParameterError(f"cannot rank by {by!r}; choose from {[c for c in g.columns if c.startswith('mean')]}")
    g = g.sort_values(by).reset_index(drop=True)
    g["best_of_descriptor"] = ~g.duplicated("descriptor")
    return g


def union_table(table_a: pd.DataFrame, table_b: pd.DataFrame, alpha: float, standardize: bool = False) -> pd.DataFrame:
    """d_AB = d_A ∪ α d_B (App. A.3): B scaled by α and appended to A, on their common ids.

    As in the paper the descriptors are concatenated as computed (hence its tiny α, 2–4·10⁻⁶, for the
    sine Coulomb matrix next to SOAP); ``standardize=True`` z-scores both first.
    """
    Xa, ida, na, _ = descriptor_matrix(table_a, standardize=standardize)
    Xb, idb, nb, _ = descriptor_matrix(table_b, standardize=standardize)
    common = [i for i in ida if i in set(idb)]
    if len(common) < 2:
        raise InputError("the two descriptor tables share fewer than 2 usable structures")
    pa = {i: k for k, i in enumerate(ida)}
    pb = {i: k for k, i in enumerate(idb)}
    A = Xa[[pa[i] for i in common]]
    B = float(alpha) * Xb[[pb[i] for i in common]]
    cols = [f"A:{c}" for c in na] + [f"B:{c}" for c in nb]
    return pd.DataFrame(np.hstack([A, B]), index=pd.Index(common, name="id"), columns=cols)


def alpha_scan(table_a: pd.DataFrame, table_b: pd.DataFrame, labels: pd.Series, alphas: Sequence[float],
               depths: Sequence[int] = DEFAULT_DEPTHS, n_control: int = 0, include_first_order: bool = True,
               standardize: bool = False) -> pd.DataFrame:
    """W_σ per depth for d_A ∪ α d_B at each α (App. A.3); ``alpha=0`` rows are d_A alone on the same ids."""
    rows = []
    alist = ([0.0] if include_first_order else []) + [float(a) for a in alphas]
    for a in alist:
        u = union_table(table_a, table_b, a, standardize=standardize)
        if a == 0.0:
            u = u[[c for c in u.columns if c.startswith("A:")]]
        tree = ward_tree(u, standardize=False)
        curve = w_sigma_curve(cluster_assignments(tree, depths), labels, n_control=n_control)
        curve.insert(0, "alpha", a)
        rows.append(curve)
    return pd.concat(rows, ignore_index=True)
