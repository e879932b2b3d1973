"""Table-level steps of the MTL workflow: threshold screen, affinity propagation, enrichment, funnel.

All functions take the feature table of :func:`sicnb.topology.topology_features` (via ``pmap``,
indexed by id) and return numbers (DataFrames/Series); figures live in :mod:`sicnb.viz.barcode`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from sicnb.errors import InputError, ParameterError
from sicnb.topology.features import FEATURE_NAMES

__all__ = ["topological_screen", "affinity_clusters", "cluster_enrichment", "known_conductor_flags", "funnel",
           "R_CONNECTED_MAX_ANGSTROM", "RHO_CYCLES_MAX", "TopologicalFeaturizer"]

#: Sec. 2.2 thresholds: r_connected < 5 Å and rho_cycles < 0.6
R_CONNECTED_MAX_ANGSTROM = 5.0
RHO_CYCLES_MAX = 0.6


def _need(table: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise InputError(f"feature table lacks column(s) {missing}; compute it with sicnb.topology.topology_features (via pmap)")


def topological_screen(table: pd.DataFrame, r_connected_max_angstrom: float = R_CONNECTED_MAX_ANGSTROM,
                       rho_cycles_max: float = RHO_CYCLES_MAX, rho_cycles_min: float | None = None) -> pd.DataFrame:
    """Add ``pass_r_connected`` (r_connected < threshold, Å), ``pass_rho_cycles`` (rho_cycles < threshold)
    and ``pass_topology`` (both) to a copy of ``table`` (Sec. 2.2: 5 Å, 0.6). Rows with an error fail both.

    ``rho_cycles_min``: also require rho_cycles > this value (exclusive). The paper states only the upper bound;
    the authors' published list after this filter (``list_filtered_by_servive_ph1_value.csv``) also drops every
    structure with rho = 0, i.e. ``rho_cycles_min=0``."""
    _need(table, ["r_connected", "rho_cycles"])
    out = table.copy()
    ok = out["error"].fillna("").eq("") if "error" in out else pd.Series(True, index=out.index)
    r = pd.to_numeric(out["r_connected"], errors="coerce")
    rho = pd.to_numeric(out["rho_cycles"], errors="coerce")
    out["pass_r_connected"] = ok & (r < r_connected_max_angstrom)
    out["pass_rho_cycles"] = ok & (rho < rho_cycles_max)
    if rho_cycles_min is not None:
        out["pass_rho_cycles"] &= rho > rho_cycles_min
    out["pass_topology"] = out["pass_r_connected"] & out["pass_rho_cycles"]
    return out


def affinity_clusters(table: pd.DataFrame, features: Sequence[str] = FEATURE_NAMES, standardize: bool = True,
                      damping: float = 0.5, max_iter: int = 1000, random_state: int = 1234) -> pd.Series:
    """Affinity propagation (scikit-learn; similarity −‖x_i − x_k‖², median preference; Sec. 2.3/3.2) on
    the standardised features (paper: "22 standardized topological features"; the authors' script ran
    unscaled — ``standardize=False``). Returns the cluster label per id (name ``cluster``)."""
    from sklearn.cluster import AffinityPropagation
    from sklearn.preprocessing import StandardScaler

    _need(table, list(features))
    if len(table) < 2:
        raise InputError(f"affinity propagation needs at least 2 structures, got {len(table)}")
    X = table[list(features)].to_numpy(dtype=float)
    if not np.isfinite(X).all():
        raise InputError("feature table has NaN/inf values; drop failed rows (error column) first")
    if standardize:
        X = StandardScaler().fit_transform(X)
    ap = AffinityPropagation(damping=damping, max_iter=max_iter, random_state=random_state).fit(X)
    return pd.Series(ap.labels_, index=table.index, name="cluster")


def known_conductor_flags(formulas: pd.Series, log10_sigma: pd.Series | None = None, sigma_min_S_cm: float = 1e-4) -> pd.Series:
    """True where a structure is a known conductor: σ ≥ ``sigma_min_S_cm`` from measured labels
    (``log10_sigma``, e.g. OBELiX) where given, else a composition match to
    :func:`sicnb.data.known_conductors` with σ_RT ≥ the same threshold."""
    from sicnb.data import match_known_conductors

    m = match_known_conductors(list(formulas))
    lit = pd.Series([bool(x) if x is not None else False for x in m["superionic"]], index=formulas.index)
    if log10_sigma is None:
        return lit.rename("known_conductor")
    meas = pd.to_numeric(log10_sigma, errors="coerce")
    flags = np.where(meas.notna(), meas >= np.log10(sigma_min_S_cm), lit)
    return pd.Series(flags.astype(bool), index=formulas.index, name="known_conductor")


def cluster_enrichment(clusters: pd.Series, known: pd.Series) -> pd.DataFrame:
    """Per cluster: ``size``, ``n_known``, ``fraction_known``, ``enrichment`` (fraction / overall fraction),
    ``has_known``; sorted by size (Fig. 2g)."""
    df = pd.DataFrame({"cluster": clusters, "known": known.reindex(clusters.index).fillna(False).astype(bool)})
    g = df.groupby("cluster")["known"].agg(size="size", n_known="sum").reset_index()
    overall = df["known"].mean() if len(df) else 0.0
    g["fraction_known"] = g["n_known"] / g["size"]
    g["enrichment"] = g["fraction_known"] / overall if overall > 0 else np.nan
    g["has_known"] = g["n_known"] > 0
    return g.sort_values(["size", "cluster"], ascending=[False, True]).reset_index(drop=True)


def funnel(stages: dict[str, pd.Series | pd.Index | Sequence]) -> pd.DataFrame:
    """Counts per stage (Fig. 2d): ``{"stage name": boolean Series or ids}`` in order → stage, n, fraction of first."""
    rows = []
    for name, sel in stages.items():
        if isinstance(sel, pd.Series) and sel.dtype == bool:
            n = int(sel.sum())
        else:
            n = len(sel)
        rows.append({"stage": name, "n": n})
    out = pd.DataFrame(rows)
    if len(out) and out["n"].iloc[0] > 0:
        out["fraction_of_first"] = out["n"] / out["n"].iloc[0]
    return out


class TopologicalFeaturizer:
    """scikit-learn transformer: structures → the 22 MTL features (Sec. 2.3), via ``topology_features``.

    Parameters are stored under their own names; ``fit`` only records ``n_features_in_`` (the
    features need no fitting). Use in a Pipeline before ``StandardScaler`` + a clusterer.
    """

    def __init__(self, radius_angstrom: float = 10.0, mobile_ion: str = "Li", feature_set: str = "paper", n_workers: int = 1):
        self.radius_angstrom = radius_angstrom
        self.mobile_ion = mobile_ion
        self.feature_set = feature_set
        self.n_workers = n_workers

    def _names(self) -> tuple[str, ...]:
        from sicnb.topology.features import AUTHORS_CODE_FEATURE_NAMES, MTL_FEATURE_NAMES

        if self.feature_set == "mtl":
            return MTL_FEATURE_NAMES
        if self.feature_set == "paper":
            return FEATURE_NAMES
        if self.feature_set == "authors_code":
            return AUTHORS_CODE_FEATURE_NAMES
        raise ParameterError(f"feature_set={self.feature_set!r}: use 'mtl' (the authors' barcode2feature.py layout), "
                             "'paper' (the paper's text, with r_connected) or 'authors_code' (older sicnb order)")

    def fit(self, X, y=None):
        self.n_features_in_ = len(self._names())
        return self

    def transform(self, X) -> np.ndarray:
        from sicnb.parallel import pmap
        from sicnb.topology.features import topology_features

        names = self._names()
        table = pmap(topology_features, X, {"radius_angstrom": self.radius_angstrom, "mobile_ion": self.mobile_ion},
                     n_workers=self.n_workers, progress=False)
        bad = table["error"].fillna("").ne("")
        if bad.any():
            raise InputError(f"topology features failed for {list(table.index[bad])[:5]}: {table['error'][bad].iloc[0]}")
        return table[list(names)].to_numpy(dtype=float)

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X).transform(X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array(self._names(), dtype=object)

    def get_params(self, deep: bool = True) -> dict:
        return {"radius_angstrom": self.radius_angstrom, "mobile_ion": self.mobile_ion, "feature_set": self.feature_set, "n_workers": self.n_workers}

    def set_params(self, **params):
        for k, v in params.items():
            setattr(self, k, v)
        return self

    @staticmethod
    def citations() -> list[str]:
        return [
            "D. Chen, B. Wang, S. Li, W. Zhang, K. Yang, Y. Song, G.-W. Wei, F. Pan, Superionic ionic conductor "
            "discovery via multiscale topological learning (MTL), arXiv (2025).",
            "J.-D. Boissonnat, S. Pritam, Edge collapse and persistence of flag complexes, SoCG 2020.",
            "The GUDHI Project, GUDHI User and Reference Manual.",
        ]
