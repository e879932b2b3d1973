"""Point clouds around mobile-ion sites and their exact Vietoris–Rips barcodes (gudhi).

Chen et al. (MTL paper, Sec. 2.2): for every lithium site of the crystal, the atoms of the
*periodic crystal* (all images, not one unit cell) within a sphere of radius R = 10 Å around the
site are split into

* the **Li-only** cloud: the central ion plus every mobile-ion site within R;
* the **Li-free** cloud: every other atom within R (the centre is not part of it).

Partial occupancies (stated once): a site whose species include the mobile ion at *any*
occupancy is a mobile-ion site and belongs to the Li-only cloud only — exactly what the authors'
public code does (``structure[i] = 'Li'`` for every site with Li). A mixed Li/Ge site is therefore
a Li point, not a framework point. Occupancies are not weights: Rips complexes see positions only.

Barcodes are those of the Vietoris–Rips filtration truncated at ``max_edge_length`` (the authors
used ``thresh = R``), filtration value = edge length in Å, coefficients in Z/2 (as ripser).
They are computed by gudhi's double-precision Ripser (``gudhi.sklearn.RipsPersistence``); the
``"simplex_tree"`` backend (gudhi SimplexTree, optional edge collapse) is the reference the tests
compare against, diagram for diagram. Edge collapse (Boissonnat & Pritam, SoCG 2020) provably keeps
the diagrams of a flag filtration but does not pay off for H0/H1 of these clouds (measured: the
collapse costs more than Ripser on the full complex), so it is off by default below dimension 2.

All clouds of a structure come from one periodic neighbour search (:func:`structure_clouds`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure

from sicnb.errors import ParameterError, StructureError, require
from sicnb.structure import check_mobile_ion

__all__ = ["SiteClouds", "Barcode", "site_clouds", "site_barcode", "structure_clouds", "rips_barcode", "h0_deaths", "betti_at",
           "DISTANCE_TOL_ANGSTROM"]

#: pairwise distances are rounded to this many decimals (Å) so that symmetry-equal distances are exactly
#: equal whatever the cell choice; float noise would otherwise create spurious near-zero bars
DISTANCE_DECIMALS = 9

#: points at distance ≤ R + this tolerance from the centre are inside the sphere, so that the
#: cloud does not depend on float noise from the cell choice
DISTANCE_TOL_ANGSTROM = 1e-6


@dataclass(frozen=True)
class SiteClouds:
    """Li-only and Li-free Cartesian point clouds (Å) in the sphere around one mobile site.

    ``mobile_points[0]`` is the central ion at the origin; every cloud is centred on the site.
    ``framework_species`` holds the majority species symbol of each framework point.
    """

    site_index: int
    radius_angstrom: float
    mobile_points: np.ndarray
    framework_points: np.ndarray
    framework_species: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Barcode:
    """Persistence intervals (birth, death) in Å per homology dimension; death = inf for essential classes."""

    intervals: tuple[np.ndarray, ...]
    max_edge_length: float

    def dim(self, k: int) -> np.ndarray:
        """Intervals of dimension ``k`` as an (n, 2) array (empty if not computed)."""
        if k < len(self.intervals):
            return self.intervals[k]
        return np.zeros((0, 2))


def _is_mobile(site, mobile_ion: str) -> bool:
    return any(getattr(sp, "symbol", str(sp)) == mobile_ion for sp in site.species)


def _majority_symbol(site) -> str:
    items = sorted(site.species.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return getattr(items[0][0], "symbol", str(items[0][0]))


def _check_cloud_args(structure: Structure, site_indices, radius_angstrom: float, mobile_ion: str) -> np.ndarray:
    check_mobile_ion(mobile_ion)
    if not radius_angstrom > 0:
        raise ParameterError(f"radius_angstrom={radius_angstrom!r}: the sphere radius must be > 0 Å (paper: 10 Å)")
    mobile_flags = np.array([_is_mobile(s, mobile_ion) for s in structure], dtype=bool)
    for i in site_indices:
        if not mobile_flags[i]:
            raise StructureError(
                f"{structure.composition.reduced_formula}: site {i} ({structure[i].species_string}) holds no {mobile_ion}; "
                f"pass the index of a {mobile_ion} site (see sicnb.structure.mobile_sites)"
            )
    return mobile_flags


def structure_clouds(structure: Structure, site_indices, radius_angstrom: float = 10.0, mobile_ion: str = "Li") -> list[SiteClouds]:
    """:func:`site_clouds` for several mobile sites of one structure, from a single periodic neighbour search.

    One call of pymatgen's compiled neighbour finder (``find_points_in_spheres``, the engine of
    ``Structure.get_neighbor_list``) returns every image within R of every requested centre; species
    flags are looked up once per structure. Raises as :func:`site_clouds`.
    """
    from pymatgen.optimization.neighbors import find_points_in_spheres

    site_indices = [int(i) for i in site_indices]
    mobile_flags = _check_cloud_args(structure, site_indices, radius_angstrom, mobile_ion)
    if not site_indices:
        return []
    lat = structure.lattice
    cart_all = np.ascontiguousarray(structure.cart_coords, dtype=float)
    centres = np.ascontiguousarray(cart_all[site_indices], dtype=float)
    r_cut = float(radius_angstrom) + DISTANCE_TOL_ANGSTROM
    c_idx, p_idx, images, dists = find_points_in_spheres(
        cart_all, centres, r=r_cut, pbc=np.ascontiguousarray(structure.pbc, dtype=np.int64),
        lattice=np.ascontiguousarray(lat.matrix, dtype=float), tol=1e-8,
    )
    c_idx, p_idx = np.asarray(c_idx, dtype=int), np.asarray(p_idx, dtype=int)
    dists = np.asarray(dists, dtype=float)
    inside = dists <= r_cut  # the finder adds its own tolerance; keep exactly ``dist <= R + tol``
    c_idx, p_idx, dists = c_idx[inside], p_idx[inside], dists[inside]
    cart = cart_all[p_idx] + np.asarray(images, dtype=float)[inside] @ lat.matrix - centres[c_idx]
    symbols = np.array([_majority_symbol(site) for site in structure], dtype=object)
    out = []
    for k, site_index in enumerate(site_indices):
        sel = np.flatnonzero(c_idx == k)
        v, d, idx = cart[sel], dists[sel], p_idx[sel]
        # deterministic order (distance, then coordinates) so that results never depend on site order
        order = np.lexsort((np.round(v[:, 2], 8), np.round(v[:, 1], 8), np.round(v[:, 0], 8), np.round(d, 8)))
        v, d, idx = v[order], d[order], idx[order]
        not_self = d > 1e-8  # the centre itself (and any atom coincident with it) is not a neighbour
        mob = mobile_flags[idx] & not_self
        fw = ~mobile_flags[idx] & not_self
        out.append(SiteClouds(site_index, float(radius_angstrom), np.vstack([np.zeros((1, 3)), v[mob]]), v[fw],
                              tuple(symbols[idx[fw]])))
    return out


def site_clouds(structure: Structure, site_index: int, radius_angstrom: float = 10.0, mobile_ion: str = "Li") -> SiteClouds:
    """The two point clouds of one mobile site (MTL paper Sec. 2.2; sphere of radius R from periodic images).

    Raises :class:`ParameterError` for a non-positive radius and :class:`StructureError` if the site
    carries no ``mobile_ion``.
    """
    return structure_clouds(structure, [site_index], radius_angstrom, mobile_ion)[0]


def _distance_matrix(pts: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import pdist, squareform

    return squareform(np.round(pdist(pts), DISTANCE_DECIMALS))


def rips_barcode(points: np.ndarray, max_edge_length: float, max_dimension: int = 1, collapse: bool | None = None,
                 backend: str = "ripser") -> Barcode:
    """Exact Vietoris–Rips barcode of a point cloud, dimensions 0..``max_dimension`` (≤ 2).

    Filtration value = edge length (Å); edges longer than ``max_edge_length`` are left out (ripser's
    ``thresh``). Coefficients Z/2. Zero-length bars are not reported. Distances are rounded to
    1e-9 Å (:data:`DISTANCE_DECIMALS`) so that equal distances tie exactly.

    ``backend="ripser"`` (default): gudhi's fork of Ripser in double precision
    (``gudhi.sklearn.RipsPersistence``; persistent cohomology with clearing and apparent pairs).
    ``backend="simplex_tree"``: gudhi SimplexTree expanded to dimension ``max_dimension + 1`` — the slow
    reference. ``collapse``: edge collapse of the 1-skeleton first (to a fixed point for the simplex tree,
    one round for Ripser); it keeps every persistence diagram of the flag filtration (Boissonnat & Pritam
    2020, Thm. 1). Default (``None``): only for ``max_dimension == 2``, where it pays off.
    """
    gudhi = require("gudhi", extra="topology")

    if max_dimension not in (0, 1, 2):
        raise ParameterError(f"max_dimension={max_dimension!r}: use 0, 1 or 2 (H0, H1, H2)")
    if backend not in ("ripser", "simplex_tree"):
        raise ParameterError(f"backend={backend!r}: use 'ripser' (default) or 'simplex_tree' (reference)")
    if collapse is None:
        collapse = max_dimension >= 2
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    n = len(pts)
    if n == 0:
        return Barcode(tuple(np.zeros((0, 2)) for _ in range(max_dimension + 1)), float(max_edge_length))
    if backend == "ripser":
        from gudhi.sklearn.rips_persistence import RipsPersistence

        rp = RipsPersistence(list(range(max_dimension + 1)), threshold=float(max_edge_length),
                             input_type="full distance matrix", num_collapses=1 if collapse else 0, homology_coeff_field=2)
        dgms = rp.fit_transform([_distance_matrix(pts)])[0]
    else:
        st = gudhi.SimplexTree()
        st.insert_batch(np.arange(n, dtype=np.int64).reshape(1, -1), np.zeros(n))
        if n > 1:
            from scipy.sparse import coo_matrix
            from scipy.spatial.distance import pdist

            d = np.round(pdist(pts), DISTANCE_DECIMALS)
            i, j = np.triu_indices(n, k=1)
            keep = d <= max_edge_length
            st.insert_edges_from_coo_matrix(coo_matrix((d[keep], (i[keep], j[keep])), shape=(n, n)))
        if max_dimension >= 1:
            if collapse and n > 3:
                before = -1
                while st.num_simplices() != before:  # collapse to a fixed point
                    before = st.num_simplices()
                    st.collapse_edges(nb_iterations=1)
            st.expansion(max_dimension + 1)
        st.compute_persistence(homology_coeff_field=2, min_persistence=0.0, persistence_dim_max=True)
        dgms = [st.persistence_intervals_in_dimension(k) for k in range(max_dimension + 1)]
    out = []
    for k in range(max_dimension + 1):
        iv = np.asarray(dgms[k], dtype=float).reshape(-1, 2)
        iv = iv[iv[:, 1] > iv[:, 0]]  # zero-length bars are not part of the diagram
        iv = iv[np.lexsort((iv[:, 1], iv[:, 0]))] if len(iv) else iv
        out.append(iv)
    return Barcode(tuple(out), float(max_edge_length))


def h0_deaths(points: np.ndarray, max_edge_length: float) -> tuple[np.ndarray, int]:
    """Finite H0 death values (Å) of the Rips filtration and the number of essential (infinite) H0 bars.

    The H0 barcode of a Vietoris–Rips filtration is given exactly by the minimum spanning forest of the
    edges ≤ ``max_edge_length``: each forest edge kills one component at its length (Kruskal). This is
    what :func:`rips_barcode` returns in dimension 0, without building a simplex tree.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
    from scipy.spatial.distance import pdist

    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    n = len(pts)
    if n < 2:
        return np.zeros(0), n
    d = np.round(pdist(pts), DISTANCE_DECIMALS)
    i, j = np.triu_indices(n, k=1)
    keep = d <= max_edge_length
    # zero-length edges (coincident points) would vanish from a sparse matrix: store them as tiny values
    w = np.where(d[keep] > 0, d[keep], 1e-300)
    graph = coo_matrix((w, (i[keep], j[keep])), shape=(n, n)).tocsr()
    mst = minimum_spanning_tree(graph)
    deaths = np.sort(np.where(mst.data < 1e-200, 0.0, mst.data))
    n_comp, _ = connected_components(graph, directed=False)
    return deaths, int(n_comp)


def betti_at(intervals: np.ndarray, d: float) -> int:
    """Betti number at filtration value ``d`` (Å): bars with birth ≤ d < death."""
    iv = np.asarray(intervals, dtype=float).reshape(-1, 2)
    return int(np.count_nonzero((iv[:, 0] <= d) & (iv[:, 1] > d)))


def site_barcode(structure: Structure, site_index: int, radius_angstrom: float = 10.0, mobile_ion: str = "Li",
                 cloud: str = "Li-only") -> tuple[np.ndarray, list[np.ndarray], float | None]:
    """One site's cloud (``"Li-only"`` or ``"Li-free"``), its H0/H1 barcode intervals and, for the Li-only
    cloud, the site's connection radius (Å; the largest finite H0 death when the cloud connects within R,
    the per-site term of MTL eq. 1), else ``None``. The physics behind :func:`sicnb.viz.barcode.barcode_widget`."""
    if cloud not in ("Li-only", "Li-free"):
        raise ParameterError(f"cloud must be 'Li-only' or 'Li-free', got {cloud!r}")
    c = site_clouds(structure, site_index, radius_angstrom, mobile_ion)
    pts = c.mobile_points if cloud == "Li-only" else c.framework_points
    bc = rips_barcode(pts, radius_angstrom, 1)
    h0 = bc.dim(0)
    fin = h0[np.isfinite(h0[:, 1]), 1]
    n_inf = int(np.count_nonzero(~np.isfinite(h0[:, 1])))
    r = float(fin.max()) if (cloud == "Li-only" and n_inf == 1 and len(fin)) else None
    return pts, bc.intervals, r
