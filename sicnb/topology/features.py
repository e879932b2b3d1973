"""Per-structure topological descriptors of the MTL paper (Chen et al.): r_connected, rho_cycles, 22 features.

Everything is computed once per *symmetry-distinct* mobile site and averaged with the Wyckoff
multiplicity as weight, which equals the authors' plain average over every Li site of the cell.

Definitions (Å; R = ``radius_angstrom``, default 10 Å as in the paper)

* ``r_connected`` (eq. 1): per site i, the filtration value at which all mobile ions of the Li-only
  cloud become one component = the largest finite H0 death (longest minimum-spanning-tree edge).
  If the cloud is still disconnected at d = R, or holds only the central ion, the site gets R
  (the value the authors' published table shows for such structures). Then averaged over sites.
* ``rho_cycles`` (eq. 2), as the authors computed the values they published and set the 0.6 threshold on
  (``servive_ph1_value.csv``; "Li only filter unit cell" in their ``select_target_cluster.py``): β1 of the
  Vietoris–Rips complex of the **mobile-ion sites of the given cell** (fractional coordinates wrapped into [0, 1),
  no periodic images) at d = r_connected, divided by n = the number of mobile-ion sites of that cell
  (:func:`cell_mobile_beta1`). Note that the paper's text says Li-free; their published numbers are integer / n
  with this numerator (bench/fidelity_topology.py: exact numerator for 17/38 even-ICSD and 24/42 odd-ICSD OBELiX
  overlaps, Spearman 0.72 / 0.80). It depends on the cell and its origin, as theirs did (ICSD cells).
* ``rho_cycles_lifree_sphere``: eq. 2 as the paper's text reads (sicnb's earlier definition): β1 of the Li-free
  Rips complex at d = r_connected, averaged over the sites' spheres, over n; ``beta1_at_r_connected`` is that
  site-averaged β1 (cell-independent). Anti-correlated with the authors' published column.
* The 22 clustering features (Sec. 2.3), from the Li-free barcode, averaged over sites:
  7 from H0 deaths in (0.1 Å, R] (the authors' code keeps deaths ``0.1 < d <= 10``; the infinite bar
  is therefore never used): min, max, mean, sum, std (population), median and ``r_connected``;
  15 from all H1 bars: min, max, sum, mean, std of births, deaths and persistences, each value capped
  at R (an infinite death counts as R, an infinite persistence as R, as in the authors' code).
  Empty selections give 0 (authors' code). The authors' public code puts the *number* of selected H0
  bars where the paper lists r_connected; it is reported as ``lifree_h0_count``
  (:data:`AUTHORS_CODE_FEATURE_NAMES` uses it instead of r_connected).
* :data:`MTL_FEATURE_NAMES` (default for clustering): the same 22 numbers in the order and with the H1 length of the
  authors' ``barcode2feature.py`` (:func:`barcode_statistics`); ``li_only_features=True`` adds the 22 of the Li-only
  barcode. Against the authors' published table (``bench/fidelity_topology.py``) the H0 statistics and H1 birth/death
  min/max/mean agree within a few per cent (the thresholds r_connected < 5 Å and rho_cycles < 0.6 were set on their
  values; see bench/RESULTS.md).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure

from sicnb.errors import ParameterError, StructureError
from sicnb.structure import check_mobile_ion, mobile_sites
from sicnb.topology.barcodes import SiteClouds, betti_at, h0_deaths, rips_barcode, structure_clouds

__all__ = [
    "SiteTopology", "site_topology", "structure_site_topologies", "topology_features", "r_connected",
    "H0_STATS", "H1_STATS", "FEATURE_NAMES", "AUTHORS_CODE_FEATURE_NAMES", "H0_DEATH_MIN_ANGSTROM",
    "MTL_H0_STATS", "MTL_H1_STATS", "mtl_feature_names", "MTL_FEATURE_NAMES", "MTL_LI_ONLY_FEATURE_NAMES",
    "barcode_statistics", "cell_mobile_beta1",
]

#: lower end (exclusive) of the H0-death window of the 22 features (authors' code: ``v > 0.1``)
H0_DEATH_MIN_ANGSTROM = 0.1
H0_STATS = ("min", "max", "mean", "sum", "std", "median")
H1_STATS = ("max", "min", "sum", "mean", "std")
#: the paper's 22 features (Sec. 2.3): 6 Li-free H0-death statistics + r_connected + 15 Li-free H1 statistics
FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"lifree_h0_death_{s}" for s in H0_STATS)
    + ("r_connected",)
    + tuple(f"lifree_h1_{part}_{s}" for part in ("birth", "death", "persistence") for s in H1_STATS)
)
#: the 22 columns of the authors' public code (bar count instead of r_connected), in sicnb's older order;
#: kept as an alternative. The faithful layout is :data:`MTL_FEATURE_NAMES`.
AUTHORS_CODE_FEATURE_NAMES: tuple[str, ...] = tuple("lifree_h0_count" if f == "r_connected" else f for f in FEATURE_NAMES)

#: H0 statistics of the authors' ``barcode2feature.py`` (``statistic_vp``), in their order
MTL_H0_STATS = ("count", "min", "max", "mean", "std", "sum", "median")
#: H1 statistics of the authors' ``barcode2feature.py`` (``statistic_value``), in their order
MTL_H1_STATS = ("min", "max", "mean", "std", "sum")


def mtl_feature_names(cloud: str = "lifree") -> tuple[str, ...]:
    """The 22 names of :func:`barcode_statistics` for the ``"lifree"`` or ``"lionly"`` barcode, in the authors' order:
    7 H0-death statistics, then 5 each of H1 birth, H1 death and H1 length (MTL paper Sec. 2.3)."""
    if cloud not in ("lifree", "lionly"):
        raise ParameterError(f"cloud={cloud!r}: use 'lifree' (framework barcode) or 'lionly' (mobile-ion barcode)")
    return (tuple(f"{cloud}_h0_death_{s}" for s in MTL_H0_STATS)
            + tuple(f"{cloud}_h1_{part}_{s}" for part in ("birth", "death", "length") for s in MTL_H1_STATS))


#: the 22 clustering features as the authors computed them (Li-free barcode; see :func:`barcode_statistics`)
MTL_FEATURE_NAMES: tuple[str, ...] = mtl_feature_names("lifree")
#: the same 22 statistics of the Li-only barcode (``topology_features(..., li_only_features=True)``)
MTL_LI_ONLY_FEATURE_NAMES: tuple[str, ...] = mtl_feature_names("lionly")


def barcode_statistics(h0_deaths: np.ndarray, h1_bars: np.ndarray, cutoff_angstrom: float = 10.0,
                       h0_min_angstrom: float = H0_DEATH_MIN_ANGSTROM) -> np.ndarray:
    """The 22 statistics of one barcode, exactly as the authors' ``barcode2feature.py`` (MTL paper Sec. 2.3).

    * H0 (7): the finite death values ``d`` with ``h0_min < d <= cutoff`` (Å; the authors keep 0.1 < d <= 10 to
      drop "topology noise") → [count, min, max, mean, std, sum, median]; all 0 if none. The count "reflects
      the atom density" (their comment); it stands where the paper's text lists r_connected.
    * H1 (15): [min, max, mean, std, sum] of the births, then of the deaths, then of the lengths. As in their
      ``statistic_value``, which clips the barcode array *in place*: births and deaths above ``cutoff`` become
      ``cutoff`` (an essential bar, death = inf, dies at the cutoff), the length is clipped death − clipped birth,
      itself clipped to ``cutoff``. All 15 are 0 when there is no H1 bar.

    std is the population standard deviation (numpy default), as theirs.
    """
    c = float(cutoff_angstrom)
    d = np.asarray(h0_deaths, dtype=float).ravel()
    d = d[(d > h0_min_angstrom) & (d <= c)]
    h0 = ([float(len(d)), d.min(), d.max(), d.mean(), d.std(), d.sum(), float(np.median(d))] if len(d) else [0.0] * 7)
    bars = np.asarray(h1_bars, dtype=float).reshape(-1, 2)
    if len(bars) == 0:
        return np.array(h0 + [0.0] * 15)
    birth = np.minimum(bars[:, 0], c)
    death = np.minimum(bars[:, 1], c)
    length = np.minimum(death - birth, c)
    h1 = [f(v) for v in (birth, death, length) for f in (np.min, np.max, np.mean, np.std, np.sum)]
    return np.array(h0 + [float(x) for x in h1])


@dataclass(frozen=True)
class SiteTopology:
    """Barcode-derived quantities of one mobile site (Å)."""

    site_index: int
    multiplicity: int
    r_connected: float
    n_mobile_in_sphere: int
    n_framework_in_sphere: int
    lifree_h0_deaths: np.ndarray
    lifree_h1: np.ndarray
    lionly_h0_deaths: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lionly_h1: np.ndarray | None = None  # only computed on request (``li_only_h1=True``)


def _check_radius(radius_angstrom: float) -> float:
    r = float(radius_angstrom)
    if not (r > 0 and np.isfinite(r)):
        raise ParameterError(f"radius_angstrom={radius_angstrom!r}: the sphere radius must be a positive number of Å (paper: 10)")
    return r


def _site_topology(clouds: SiteClouds, multiplicity: int, R: float, collapse: bool | None,
                   li_only_h1: bool = False) -> SiteTopology:
    """Li-only H0 by minimum spanning tree (r_connected^i), Li-free H0 and H1 by Ripser (exact, double precision);
    the Li-only H1 bars only if ``li_only_h1``."""
    deaths, n_comp = h0_deaths(clouds.mobile_points, R)
    r_i = float(deaths.max()) if (n_comp == 1 and len(deaths)) else R
    fw = clouds.framework_points
    bc = rips_barcode(fw, R, max_dimension=1, collapse=collapse)
    h0 = bc.dim(0)
    fw_deaths = h0[np.isfinite(h0[:, 1]), 1]
    li_h1 = rips_barcode(clouds.mobile_points, R, max_dimension=1, collapse=collapse).dim(1) if li_only_h1 else None
    return SiteTopology(clouds.site_index, int(multiplicity), r_i, len(clouds.mobile_points), len(fw), fw_deaths, bc.dim(1),
                        deaths, li_h1)


def site_topology(structure: Structure, site_index: int, multiplicity: int = 1, radius_angstrom: float = 10.0,
                  mobile_ion: str = "Li", collapse: bool | None = None) -> SiteTopology:
    """r_connected^i (eq. 1 summand) and the Li-free barcode (H0 deaths, H1 bars) of one mobile site."""
    R = _check_radius(radius_angstrom)
    return _site_topology(structure_clouds(structure, [site_index], R, mobile_ion)[0], multiplicity, R, collapse)


def structure_site_topologies(structure: Structure, radius_angstrom: float = 10.0, mobile_ion: str = "Li",
                              symprec: float = 0.01, collapse: bool | None = None, li_only_h1: bool = False) -> list[SiteTopology]:
    """:func:`site_topology` for every symmetry-distinct mobile site (weights = multiplicities).

    One symmetry analysis and one periodic neighbour search per structure."""
    check_mobile_ion(mobile_ion)
    R = _check_radius(radius_angstrom)
    sites = mobile_sites(structure, mobile_ion=mobile_ion, symprec=symprec)
    clouds = structure_clouds(structure, [s.index for s in sites], R, mobile_ion)
    return [_site_topology(c, s.multiplicity, R, collapse, li_only_h1) for s, c in zip(sites, clouds)]


def _h0_stats(deaths: np.ndarray, R: float) -> dict[str, float]:
    sel = deaths[(deaths > H0_DEATH_MIN_ANGSTROM) & (deaths <= R)]
    if len(sel) == 0:
        out = {f"lifree_h0_death_{s}": 0.0 for s in H0_STATS}
        out["lifree_h0_count"] = 0.0
        return out
    return {
        "lifree_h0_death_min": float(sel.min()), "lifree_h0_death_max": float(sel.max()),
        "lifree_h0_death_mean": float(sel.mean()), "lifree_h0_death_sum": float(sel.sum()),
        "lifree_h0_death_std": float(sel.std()), "lifree_h0_death_median": float(np.median(sel)),
        "lifree_h0_count": float(len(sel)),
    }


def _h1_stats(bars: np.ndarray, R: float) -> dict[str, float]:
    out = {}
    bars = np.asarray(bars, dtype=float).reshape(-1, 2)
    parts = {
        "birth": bars[:, 0],
        "death": bars[:, 1],
        "persistence": bars[:, 1] - bars[:, 0],
    }
    for part, values in parts.items():
        v = np.minimum(values, R)  # authors' code: every value > max_dis counts as max_dis
        for s in H1_STATS:
            out[f"lifree_h1_{part}_{s}"] = float(getattr(np, s)(v)) if len(v) else 0.0
    return out


def cell_mobile_beta1(structure: Structure, d_angstrom: float, mobile_ion: str = "Li") -> int:
    """β1 at filtration value ``d_angstrom`` of the Vietoris–Rips complex on the mobile-ion sites of the given cell
    (fractional coordinates wrapped into [0, 1), Cartesian, no periodic images): the numerator of the authors'
    published rho_cycles (eq. 2; see the module docstring). Sites holding the mobile ion at any occupancy count."""
    from sicnb.topology.barcodes import _is_mobile

    check_mobile_ion(mobile_ion)
    d = float(d_angstrom)
    idx = [i for i, site in enumerate(structure) if _is_mobile(site, mobile_ion)]
    if len(idx) < 3 or not (d > 0 and np.isfinite(d)):
        return 0
    pts = np.mod(structure.frac_coords[idx], 1.0) @ structure.lattice.matrix
    return betti_at(rips_barcode(pts, d, max_dimension=1).dim(1), d)


def r_connected(structure: Structure, radius_angstrom: float = 10.0, mobile_ion: str = "Li", symprec: float = 0.01) -> float:
    """Eq. (1): multiplicity-weighted mean over mobile sites of the Li-only connection radius (Å)."""
    R = _check_radius(radius_angstrom)
    sites = mobile_sites(structure, mobile_ion=mobile_ion, symprec=symprec)
    vals, w = [], []
    for s, clouds in zip(sites, structure_clouds(structure, [s.index for s in sites], R, mobile_ion)):
        deaths, n_comp = h0_deaths(clouds.mobile_points, R)
        vals.append(float(deaths.max()) if (n_comp == 1 and len(deaths)) else R)
        w.append(s.multiplicity)
    return float(np.average(vals, weights=w))


def topology_features(structure: Structure, radius_angstrom: float = 10.0, mobile_ion: str = "Li",
                      symprec: float = 0.01, collapse: bool | None = None, li_only_features: bool = False,
                      cutoff_angstrom: float | None = None) -> dict[str, float | int | str]:
    """All MTL descriptors of one structure as a flat dict (the per-structure function for ``pmap``).

    Keys: ``formula``, ``n_mobile_sites`` (mobile sites in the given cell = n of eqs. 1–2),
    ``n_distinct_sites``, ``r_connected`` (eq. 1, Å), ``rho_cycles`` (eq. 2 as the authors computed it) with its
    numerator ``beta1_li_cell_at_r_connected``, ``rho_cycles_lifree_sphere`` (eq. 2 as the text reads) with
    ``beta1_at_r_connected`` (site-averaged Li-free β1 at d = r_connected), the 22 :data:`FEATURE_NAMES`,
    ``lifree_h0_count``, ``r_connected_min``/``r_connected_max`` over sites, ``seconds``; and the 22
    :data:`MTL_FEATURE_NAMES` of the authors' code (:func:`barcode_statistics` per site with cutoff
    ``cutoff_angstrom``, default R as the authors' ``cutoff_dis = 10`` with R = 10, then the average over every
    mobile site of the cell). With ``li_only_features`` also the
    22 :data:`MTL_LI_ONLY_FEATURE_NAMES` of the Li-only barcode (one more Ripser run per site).
    """
    t0 = time.perf_counter()
    R = _check_radius(radius_angstrom)
    if structure.is_ordered is False and any(sum(s.species.values()) > 1.0 + 1e-3 for s in structure):
        raise StructureError(f"{structure.composition.reduced_formula}: a site has total occupancy > 1; fix the input structure")
    sites = structure_site_topologies(structure, R, mobile_ion, symprec, collapse, li_only_h1=li_only_features)
    w = np.array([s.multiplicity for s in sites], dtype=float)
    n_mobile = int(w.sum())
    r_sites = np.array([s.r_connected for s in sites])
    r_conn = float(np.average(r_sites, weights=w))
    beta1 = float(np.average([betti_at(s.lifree_h1, r_conn) for s in sites], weights=w))
    beta1_cell = cell_mobile_beta1(structure, r_conn, mobile_ion)
    per_site = [{**_h0_stats(s.lifree_h0_deaths, R), **_h1_stats(s.lifree_h1, R)} for s in sites]
    keys = per_site[0].keys()
    feats = {k: float(np.average([p[k] for p in per_site], weights=w)) for k in keys}
    out: dict[str, float | int | str] = {
        "formula": structure.composition.reduced_formula,
        "n_mobile_sites": n_mobile,
        "n_distinct_sites": len(sites),
        "r_connected": r_conn,
        "rho_cycles": beta1_cell / n_mobile,
        "beta1_li_cell_at_r_connected": beta1_cell,
        "rho_cycles_lifree_sphere": beta1 / n_mobile,
        "beta1_at_r_connected": beta1,
        "r_connected_min": float(r_sites.min()),
        "r_connected_max": float(r_sites.max()),
        "radius_angstrom": R,
    }
    for k in FEATURE_NAMES:
        if k != "r_connected":
            out[k] = feats[k]
    out["lifree_h0_count"] = feats["lifree_h0_count"]
    cutoff_angstrom = R if cutoff_angstrom is None else float(cutoff_angstrom)
    mtl = np.average([barcode_statistics(s.lifree_h0_deaths, s.lifree_h1, cutoff_angstrom) for s in sites], axis=0, weights=w)
    out.update(zip(MTL_FEATURE_NAMES, map(float, mtl)))
    if li_only_features:
        li = np.average([barcode_statistics(s.lionly_h0_deaths, s.lionly_h1, cutoff_angstrom) for s in sites], axis=0, weights=w)
        out.update(zip(MTL_LI_ONLY_FEATURE_NAMES, map(float, li)))
    out["seconds"] = time.perf_counter() - t0
    return out


topology_features.cache_version = 3  # type: ignore[attr-defined]
