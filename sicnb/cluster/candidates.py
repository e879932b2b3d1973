"""Candidate selection at one clustering depth and the practical filters of thesis §2.3 (Table 2.2).

1. :func:`select_candidates` — at depth d (paper: 241), every cluster that contains a high-conductivity
   label (σ > 1e-5 S/cm) and the cluster directly adjacent to it (nearest centroid, Euclidean, in
   the descriptor space the clustering was built on).
2. :func:`filter_candidates` — E_hull ≤ 70 meV/atom (where data gives it), E_g ≥ 1 eV (data or the
   MEGNet band-gap model, :func:`megnet_band_gap`), BVSE E_a < 0.6 eV; ranked by BVSE E_a.
   A missing value never passes silently: ``filter_notes`` says which filter could not be applied.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from sicnb.cluster.labels import HIGH_SIGMA_LOG10
from sicnb.cluster.ward import WardTree
from sicnb.errors import ParameterError
from sicnb.potentials.bandgap import BANDGAP_MODEL

__all__ = ["select_candidates", "filter_candidates", "megnet_band_gap", "MEGNET_BANDGAP_MODEL"]

MEGNET_BANDGAP_MODEL = BANDGAP_MODEL  # the one definition, sicnb.potentials.bandgap


def select_candidates(tree: WardTree, assignments: pd.DataFrame, labels: pd.Series, depth: int = 241,
                      high_log10_sigma: float = HIGH_SIGMA_LOG10, adjacent: bool = True) -> pd.DataFrame:
    """Members of clusters containing, or nearest to a cluster containing, a label with log10 σ > ``high_log10_sigma``.

    Returns one row per member (labelled ones included, flagged), indexed by id: ``cluster`` (scipy node id),
    ``relation`` ("contains high-σ label" or "adjacent to cluster N"), ``cluster_size``,
    ``n_labels_in_cluster``, ``n_high_in_cluster``, ``labelled``, ``log10_sigma``.
    """
    if depth not in assignments.columns:
        raise ParameterError(f"depth {depth} not computed; available {assignments.columns.min()}–{assignments.columns.max()}")
    a = assignments[depth]
    lab = labels.dropna()
    lab = lab[lab.index.isin(a.index)]
    high = lab[lab > high_log10_sigma]
    hot = sorted(set(a.loc[high.index]))
    pos = {i: k for k, i in enumerate(tree.ids)}
    clusters = np.asarray(a.loc[tree.ids])
    uniq = np.unique(clusters)
    cent = np.vstack([tree.X[clusters == c].mean(axis=0) for c in uniq])
    idx = {c: k for k, c in enumerate(uniq)}
    relation: dict[int, str] = {c: "contains high-σ label" for c in hot}
    if adjacent:
        for c in hot:
            d = np.linalg.norm(cent - cent[idx[c]], axis=1)
            d[idx[c]] = np.inf
            near = int(uniq[int(np.argmin(d))])
            relation.setdefault(near, f"adjacent to cluster {c}")
    rows = []
    size = a.value_counts()
    nlab = a.loc[lab.index].value_counts()
    nhigh = a.loc[high.index].value_counts()
    for i in a.index:
        c = int(a.loc[i])
        if c not in relation:
            continue
        rows.append({"id": i, "cluster": c, "relation": relation[c], "cluster_size": int(size[c]),
                     "n_labels_in_cluster": int(nlab.get(c, 0)), "n_high_in_cluster": int(nhigh.get(c, 0)),
                     "labelled": i in lab.index, "log10_sigma": float(lab[i]) if i in lab.index else np.nan})
    _ = pos
    out = pd.DataFrame(rows, columns=["id", "cluster", "relation", "cluster_size", "n_labels_in_cluster",
                                      "n_high_in_cluster", "labelled", "log10_sigma"]).set_index("id")
    out.attrs.update({"depth": depth, "n_high_labels": len(high), "n_hot_clusters": len(hot),
                      "fraction_of_pool": len(out) / max(1, len(a))})
    return out


def filter_candidates(candidates: pd.DataFrame, e_hull_eV_per_atom: pd.Series | None = None,
                      band_gap_eV: pd.Series | None = None, bvse_Ea_eV: pd.Series | None = None,
                      max_e_hull_eV_per_atom: float = 0.070, min_band_gap_eV: float = 1.0,
                      max_Ea_eV: float = 0.6, drop_labelled: bool = True) -> pd.DataFrame:
    """Apply the §2.3 filters (E_hull ≤ 70 meV/atom, E_g ≥ 1 eV, BVSE E_a < 0.6 eV) and rank by E_a.

    A filter whose data is missing for a candidate does not reject it; ``filter_notes`` lists
    the filters that could not be applied. ``passes`` = every applicable filter passed and E_a is known.
    """
    df = candidates.copy()
    if drop_labelled and "labelled" in df:
        df = df[~df["labelled"].astype(bool)]
    for name, series in (("e_hull_eV_per_atom", e_hull_eV_per_atom), ("band_gap_eV", band_gap_eV), ("bvse_Ea_eV", bvse_Ea_eV)):
        df[name] = series.reindex(df.index).astype(float) if series is not None else np.nan
    notes = [[] for _ in range(len(df))]
    ok = np.ones(len(df), dtype=bool)
    for j, (col, test, why) in enumerate([
        ("e_hull_eV_per_atom", lambda v: v <= max_e_hull_eV_per_atom, "no E_hull"),
        ("band_gap_eV", lambda v: v >= min_band_gap_eV, "no E_g"),
        ("bvse_Ea_eV", lambda v: v < max_Ea_eV, "no BVSE E_a"),
    ]):
        vals = df[col].to_numpy(dtype=float)
        known = np.isfinite(vals)
        ok &= ~known | test(np.where(known, vals, 0.0))
        for k in np.flatnonzero(~known):
            notes[k].append(why)
    df["filter_notes"] = ["; ".join(n) for n in notes]
    df["passes"] = ok & np.isfinite(df["bvse_Ea_eV"].to_numpy(dtype=float))
    df = df.sort_values(["passes", "bvse_Ea_eV"], ascending=[False, True])
    return df


def megnet_band_gap(structure: Structure, model: str = MEGNET_BANDGAP_MODEL, fidelity: "str | int" = 0,
                    min_occupancy: float = 0.5) -> dict[str, Any]:
    """MEGNet multi-fidelity band gap (eV; fidelity 0 = "PBE" (name or index), as the Materials Project E_g of the paper).

    Per-structure (for ``pmap``); disordered structures use the majority-species ordered approximant.
    Chen et al., Nat. Comput. Sci. 1, 46 (2021); the model folder comes from ``$SICNB_MATGL_MODELS``.
    """
    from sicnb.potentials.bandgap import megnet_band_gap_eV
    from sicnb.structure.approximant import majority_ordered

    s = majority_ordered(structure, min_occupancy=min_occupancy)
    gap = megnet_band_gap_eV(s, fidelity=fidelity, model=model)
    return {"band_gap_eV": gap, "band_gap_model": model, "ordered_approximant": not structure.is_ordered}


megnet_band_gap.cache_version = 1  # type: ignore[attr-defined]
