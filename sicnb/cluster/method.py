"""Semi-supervised Ward clustering (Laskowski, McHaffie & See, EES 16, 1264 (2023); McHaffie thesis Ch. 2), declared
once as a :class:`sicnb.methods.TableMethod`: its score comes from clusters over the whole pool and the labels in them.

* feature step — the descriptor vectors of every structure through pmap (:func:`~sicnb.cluster.descriptor_table`;
  notebook 02's SOAP-on-CAN default, so its cache is reused);
* fit — Ward tree over the pool (:func:`~sicnb.cluster.ward_tree`, descriptors as computed, unscaled as the authors'
  code), cut at ``depth`` clusters (capped at max(2, n // 3) for small pools), with the labels' log10 σ (S/cm);
* score — :func:`~sicnb.cluster.labels.leave_one_out_cluster_scores`: the mean log10 σ of the *other* labelled
  members of each structure's cluster. Leave-one-out on purpose: a structure's own label must not vote for it when the
  ledger checks how well the method finds the labelled conductors.

``sicnb cluster`` keeps its own command module (descriptor screens, W_σ curves), so ``cli=False``; labels are required.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

from sicnb.cluster.descriptors import descriptor_row
from sicnb.cluster.labels import HIGH_SIGMA_LOG10, leave_one_out_cluster_scores
from sicnb.methods import TableMethod, register

__all__ = ["CLUSTER", "ClusterParams"]


def _soap_default() -> dict[str, Any]:
    return {"r_cut": 4.0, "n_max": 4, "l_max": 3, "average": "outer"}  # notebook 02's SOAP default (r_cut in Å)


@dataclass(frozen=True)
class ClusterParams:
    """Descriptor (Table 2.1) on a simplification, its hyperparameters ``options`` (Table A.1; SOAP ``r_cut`` in Å),
    the Ward cut ``depth`` (number of clusters) and the high-σ threshold of the pass flag (log10 S/cm)."""

    descriptor: str = "soap"
    simplification: str = "CAN"
    mobile_ion: str = "Li"
    depth: int = 241
    options: Mapping[str, Any] = field(default_factory=_soap_default)
    high_log10_sigma: float = HIGH_SIGMA_LOG10


def _featurize(items, p: ClusterParams, n_workers: int = 1, cache_dir: Any = None, scheduler: Any = None,
               progress: bool = True, **_ignored) -> pd.DataFrame:
    from sicnb.cluster.transformers import descriptor_table

    return descriptor_table(items, descriptor=p.descriptor,
                            simplification=p.simplification, options=dict(p.options or {}), mobile_ion=p.mobile_ion,
                            n_workers=n_workers, cache_dir=cache_dir, scheduler=scheduler, progress=progress)


def _fit(feats: pd.DataFrame, labels: pd.DataFrame, p: ClusterParams) -> dict[str, Any]:
    """Ward tree over the pool's descriptors, cut at ``depth``; the labels' log10 σ kept for the score step."""
    from sicnb.cluster.ward import cluster_assignments, ward_tree

    tree = ward_tree(feats)
    depth = min(int(p.depth), max(2, len(tree.ids) // 3))
    return {"clusters": cluster_assignments(tree, [depth])[depth], "depth": depth, "log10_sigma": labels["log10_sigma"]}


def _predict(state: Mapping[str, Any], feats: pd.DataFrame, p: ClusterParams) -> pd.DataFrame:
    out = leave_one_out_cluster_scores(state["clusters"], state["log10_sigma"], p.high_log10_sigma)
    out["depth"] = state["depth"]
    table = feats[["error"]].join(out, how="left")
    table.loc[table["error"].eq("") & table["cluster"].isna(), "error"] = "dropped before clustering (non-finite descriptor)"
    table.loc[table["error"].eq("") & table["loo_cluster_log10_sigma"].isna(), "error"] = "no other labelled structure in its cluster"
    return table


CLUSTER = register(TableMethod(
    name="cluster", title="Ward clustering (W_σ)", params=ClusterParams, featurize=_featurize, function=descriptor_row,
    fit=_fit, predict=_predict, labels="required",
    features={"loo_cluster_log10_sigma": "loo_cluster_log10_sigma", "loo_n_labelled": "loo_n_labelled", "cluster": "cluster",
              "depth": "depth"},
    new_columns={"loo_cluster_log10_sigma": "mean log10 σ_RT (S/cm) of the other labelled structures in the structure's Ward cluster",
                 "loo_n_labelled": "number of other labelled structures in the structure's Ward cluster (count)",
                 "cluster": "Ward cluster of the structure at the cut depth (label)",
                 "depth": "number of Ward clusters the tree was cut into (count)"},
    score="loo_cluster_log10_sigma", direction=+1, pass_flags=("pass_cluster",), ledger_extra=("cluster", "loo_n_labelled", "depth"),
    requires=("sicnb.cluster:descriptor_table", "sicnb.cluster:ward_tree", "sicnb.cluster:cluster_assignments"), cli=False,
    model="Ward linkage on the descriptors as computed, unscaled as the authors' code (no trained model); labels: record / OBELiX / known-conductor table",
    description="mean log10 σ (S/cm) of the other labelled structures in the same Ward cluster (leave-one-out)",
    citations=("Laskowski, McHaffie & See, Energy Environ. Sci. 16, 1264 (2023) (Ward clustering, W_σ)",
               "McHaffie, PhD thesis, Ch. 2 and App. A (descriptors Table 2.1, hyperparameters Table A.1)"),
    # descriptor_row's own invariance tests live in tests/test_cluster*.py; here the cheap density descriptor
    testing={"params": {"descriptor": "density", "options": {}}, "structures": ("Li2O", "LiFePO4"), "keys": None, "slow": True},
))
