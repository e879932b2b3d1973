"""Conductivity labels for a clustering pool (thesis §2.3: experimental σ_RT labels on a mostly unlabelled pool).

Sources, in order:

1. OBELiX records in the pool carry ``log10_sigma`` (log10 S/cm; upper bounds such as "<1E-10" enter as
   the bound with ``censored=True`` — drop them with ``include_censored=False``).
2. LASKOWSKI2023 (the paper's own label set) is joined to those records through the ICSD number
   (``laskowski_log10_sigma``, mean over duplicate entries; ``laskowski_Ea_eV``) when its file is available.
3. When the pool has no experimental labels (no ``SICNB_DATA_DIR``), records are matched by composition
   to :func:`sicnb.data.known_conductors` (``source = "known_conductors"``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sicnb.data import Dataset

__all__ = ["conductivity_labels", "HIGH_SIGMA_LOG10", "leave_one_out_cluster_scores"]

#: "high conductivity" label threshold of thesis §2.3: σ_25°C > 1e-5 S/cm
HIGH_SIGMA_LOG10 = -5.0


def conductivity_labels(pool: Dataset, include_censored: bool = True, use_laskowski: bool = True,
                        fallback_known_conductors: bool = True, data_dir=None) -> pd.DataFrame:
    """Label table indexed by pool id: ``log10_sigma``, ``source``, ``censored``, ``formula``, ``icsd_id``
    and, where LASKOWSKI2023 matches, ``laskowski_log10_sigma`` and ``laskowski_Ea_eV``. Only labelled ids."""
    rows = []
    for r in pool:
        if r.structure is None:
            continue
        y = r.labels.get("log10_sigma")
        if y is None or not isinstance(y, (int, float)) or not math.isfinite(y):
            continue
        censored = bool(r.labels.get("sigma_censored", ""))
        if censored and not include_censored:
            continue
        rows.append({"id": r.id, "log10_sigma": float(y), "source": r.provenance.get("source", ""), "censored": censored,
                     "formula": r.formula, "icsd_id": r.labels.get("icsd_id", np.nan)})
    table = pd.DataFrame(rows, columns=["id", "log10_sigma", "source", "censored", "formula", "icsd_id"]).set_index("id")
    if len(table) and use_laskowski:
        try:
            from sicnb.data import laskowski2023

            lask = laskowski2023(data_dir=data_dir)
            g = lask.dropna(subset=["icsd_id"]).groupby("icsd_id").agg(
                laskowski_log10_sigma=("log10_sigma", "mean"), laskowski_Ea_eV=("Ea_eV", "mean"))
            table = table.join(g, on="icsd_id")
        except Exception as exc:  # noqa: BLE001 - optional enrichment; recorded, not fatal
            table.attrs["laskowski_error"] = f"{type(exc).__name__}: {exc}"
    if table.empty and fallback_known_conductors:
        from sicnb.data import match_known_conductors

        recs = [r for r in pool if r.structure is not None]
        m = match_known_conductors([r.structure.composition.reduced_formula for r in recs])
        rows = [{"id": r.id, "log10_sigma": float(row.log10_sigma), "source": "known_conductors", "censored": False,
                 "formula": r.formula, "icsd_id": np.nan}
                for r, row in zip(recs, m.itertuples()) if row.name is not None]
        table = pd.DataFrame(rows, columns=["id", "log10_sigma", "source", "censored", "formula", "icsd_id"]).set_index("id")
    table["high_sigma"] = table["log10_sigma"] > HIGH_SIGMA_LOG10
    return table


def leave_one_out_cluster_scores(clusters: pd.Series, log10_sigma: pd.Series, high_log10_sigma: float = HIGH_SIGMA_LOG10) -> pd.DataFrame:
    """Per structure, from the *other* labelled members of its cluster: mean log10 σ (S/cm), count, and
    whether one of them is high-σ (> ``high_log10_sigma``). NaN mean when no other member is labelled."""
    lab = pd.to_numeric(log10_sigma.reindex(clusters.index), errors="coerce")
    df = pd.DataFrame({"c": clusters, "y": lab})
    df["has"] = df["y"].notna()
    df["hi"] = df["y"] > high_log10_sigma
    g = df.groupby("c").agg(s=("y", "sum"), n=("has", "sum"), h=("hi", "sum"))
    s = df["c"].map(g["s"]) - df["y"].fillna(0.0)
    n = df["c"].map(g["n"]) - df["has"].astype(int)
    h = df["c"].map(g["h"]) - df["hi"].astype(int)
    out = pd.DataFrame({"loo_cluster_log10_sigma": (s / n.replace(0, np.nan)).astype(float), "loo_n_labelled": n.astype(int),
                        "pass_cluster": h > 0, "cluster": clusters})
    return out
