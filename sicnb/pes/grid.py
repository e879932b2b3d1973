"""The frozen-framework scan grid (Maevskiy et al., Sec. II A) and its symmetry.

* :func:`grid_shape` — ``N_i`` = smallest integer with ``|l_i| / N_i ≤ step`` (paper: 0.25 Å), raised
  to the next multiple of the denominators of the space group's fractional translations along
  ``i`` when ``symmetry_compatible`` so that every symmetry operation maps grid points onto grid
  points (the step stays ≤ ``step``; the exhaustive reference uses the same grid).
* :func:`symmetrize_structure` — project cell and positions onto the space group found at ``symprec``
  (as pymatgen detects it), so that the operations used to reduce the scan are exact symmetries of
  the scanned geometry: symmetry-equivalent grid points then have the same energy up to float32
  rounding of the potential (~1e-6 eV), and the reduced and exhaustive scans see the same input.
* :func:`excluded_mask` — points closer than ``R_min`` (paper: 1.2 Å) to any framework atom.
* :func:`grid_symmetry_ops` / :func:`orbit_labels` — space-group operations as integer maps on the
  grid, and the orbits of the site stabiliser (points with equal energy by symmetry).
"""
from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from sicnb.errors import ParameterError, StructureError

__all__ = ["symmetrize_structure", "standard_origin", "translations_fit_grid", "grid_shape", "frac_grid", "excluded_mask", "nearest_distance", "atomic_radii", "space_group_ops", "space_group_ops_checked", "grid_symmetry_ops", "orbit_labels", "stabiliser"]


def space_group_ops(structure: Structure, symprec: float = 0.01) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fractional symmetry operations ``(R, t)`` of ``structure`` in its own cell (spglib via pymatgen).

    If the symmetry search fails, the identity alone is returned with a warning naming the error;
    :func:`space_group_ops_checked` also returns that reason so results can record it."""
    ops, reason = space_group_ops_checked(structure, symprec)
    if reason:
        warnings.warn(f"{structure.composition.reduced_formula}: {reason}", stacklevel=2)
    return ops


def space_group_ops_checked(structure: Structure, symprec: float = 0.01) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """``(ops, reason)``: the operations of :func:`space_group_ops` and ``""``, or the identity and why the
    symmetry search failed (a result should carry that reason: its scan used no symmetry)."""
    try:
        ops = SpacegroupAnalyzer(structure, symprec=symprec).get_symmetry_operations(cartesian=False)
    except Exception as exc:  # noqa: BLE001 - no symmetry found: identity only, reason returned
        return [(np.eye(3, dtype=int), np.zeros(3))], f"symmetry search failed ({type(exc).__name__}: {exc}); identity only"
    out = []
    for op in ops:
        r = np.rint(op.rotation_matrix).astype(int)
        t = np.asarray(op.translation_vector, dtype=float) % 1.0
        out.append((r, t))
    return out, ""


def symmetrize_structure(structure: Structure, symprec: float = 0.01, angle_tolerance: float = 5.0) -> tuple[Structure, float]:
    """The structure made exactly symmetric under its space group at ``symprec`` (Å) / ``angle_tolerance`` (deg).

    Cell: the spglib standard cell of that group transformed back to the input cell's basis (as
    ``ase.spacegroup.symmetrize`` does, but with pymatgen's angle tolerance so the group is the one
    :func:`space_group_ops` finds). Positions: the average over the group of the images of each atom
    (the Reynolds projection). Same cell basis, same site order. Returns the structure and the
    largest atomic displacement in Å (0 for an already exact input). Inputs with no symmetry beyond
    P1 at ``symprec`` come back unchanged.
    """
    import spglib

    lat = np.array(structure.lattice.matrix)
    numbers = np.array([site.specie.Z for site in structure])
    cell = (lat, structure.frac_coords, numbers)
    ds = spglib.get_symmetry_dataset(cell, symprec=symprec, angle_tolerance=angle_tolerance)
    if ds is None or len(ds.rotations) <= 1:
        return structure.copy(), 0.0
    new_lat = ds.transformation_matrix.T @ ds.std_lattice @ ds.std_rotation_matrix
    frac = structure.frac_coords
    acc = np.zeros_like(frac)
    for r, t in zip(ds.rotations, ds.translations):
        img = frac @ r.T + t
        # image of atom i lands on atom j of the same species: nearest periodic image
        d = img[:, None, :] - frac[None, :, :]
        d -= np.round(d)
        dist = np.linalg.norm(d @ lat, axis=-1)
        dist[numbers[:, None] != numbers[None, :]] = np.inf
        j = np.argmin(dist, axis=1)
        if np.any(dist[np.arange(len(j)), j] > 2 * symprec + 1e-6) or len(set(j.tolist())) != len(j):
            raise StructureError(f"{structure.composition.reduced_formula}: spglib operation does not map the structure onto "
                                 f"itself within symprec={symprec} Å; pass a smaller symprec or symmetrize=False")
        acc[j] += frac[j] + d[np.arange(len(j)), j]  # the image, unwrapped next to atom j
    new_frac = acc / len(ds.rotations)
    out = Structure(Lattice(new_lat), structure.species, new_frac, site_properties=structure.site_properties or None)
    shift = np.linalg.norm(out.lattice.get_cartesian_coords(new_frac) - structure.lattice.get_cartesian_coords(frac), axis=1)
    return out, float(shift.max())


def _denominators(ops, max_den: int = 12) -> np.ndarray:
    den = np.ones(3, dtype=int)
    for _, t in ops:
        for i in range(3):
            d = Fraction(float(t[i])).limit_denominator(max_den).denominator
            den[i] = np.lcm(den[i], d)
    return den


def translations_fit_grid(ops, tol: float = 1e-4) -> bool:
    """True when every translation of ``ops`` is a multiple of 1/24 (within ``tol``), as in any crystallographic
    setting; False for an origin placed arbitrarily (move it with :func:`standard_origin`)."""
    return all(np.all(np.abs(24 * np.asarray(t, dtype=float) - np.round(24 * np.asarray(t, dtype=float))) < 24 * tol) for _, t in ops)


def standard_origin(structure: Structure, symprec: float = 0.01, angle_tolerance: float = 5.0) -> tuple[Structure, np.ndarray]:
    """The structure translated so that the origin of spglib's standard setting of its space group sits at fractional
    ``0`` (same cell basis, same site order), and the fractional shift applied (``x' = x + P^-1 p``, spglib's
    ``x_s = P x + p``). With that origin every space-group translation is a multiple of 1/2, 1/3, 1/4 or 1/6, so the
    operations map the scan grid onto itself; an input translated by an arbitrary vector would otherwise ask
    :func:`grid_shape` for the least common multiple of arbitrary denominators (``pes_scan`` moves only such inputs:
    an origin that already fits the grid is kept, so results of inputs in a crystallographic setting are unchanged).
    P1 inputs come back unchanged."""
    import spglib

    numbers = np.array([site.specie.Z for site in structure])
    ds = spglib.get_symmetry_dataset((np.array(structure.lattice.matrix), structure.frac_coords, numbers),
                                     symprec=symprec, angle_tolerance=angle_tolerance)
    if ds is None or len(ds.rotations) <= 1:
        return structure.copy(), np.zeros(3)
    shift = np.linalg.solve(np.asarray(ds.transformation_matrix, dtype=float), np.asarray(ds.origin_shift, dtype=float))
    shift -= np.floor(shift + 1e-9)
    out = structure.copy()
    if np.abs(shift).max() > 1e-12:
        out.translate_sites(list(range(len(out))), shift, frac_coords=True, to_unit_cell=True)
    return out, shift


def grid_shape(lattice: Lattice, step: float = 0.25, ops=None) -> tuple[int, int, int]:
    """``N_i`` = smallest integer with ``|l_i|/N_i ≤ step`` Å (Sec. II A); with ``ops`` also a multiple of the
    translation denominators along ``i`` and equal for axes mixed by a rotation, so the ops act on the grid."""
    if step <= 0:
        raise ParameterError(f"grid step must be > 0 Å, got {step}")
    n = np.ceil(np.asarray(lattice.abc) / step - 1e-9).astype(int)
    n = np.maximum(n, 1)
    if ops:
        den = _denominators(ops)
        for _ in range(4):
            n = (np.ceil(n / den) * den).astype(int)
            for r, _t in ops:  # rotations mixing axes i and j need N_i == N_j
                for i in range(3):
                    for j in range(3):
                        if i != j and r[i, j] != 0:
                            n[i] = n[j] = max(n[i], n[j])
    return int(n[0]), int(n[1]), int(n[2])


def frac_grid(shape: tuple[int, int, int]) -> np.ndarray:
    """Fractional coordinates ``(i/N1, j/N2, k/N3)`` of every grid point, C order, shape ``(N, 3)``."""
    idx = np.indices(shape).reshape(3, -1).T
    return idx / np.asarray(shape, dtype=float)


def excluded_mask(framework: Structure, shape: tuple[int, int, int], r_min: float = 1.2) -> np.ndarray:
    """Boolean grid, True where a point is closer than ``r_min`` Å to any atom of ``framework`` (periodic)."""
    from pymatgen.optimization.neighbors import find_points_in_spheres

    frac = frac_grid(shape)
    cart = framework.lattice.get_cartesian_coords(frac)
    mask = np.zeros(len(frac), dtype=bool)
    if len(framework) == 0:
        return mask.reshape(shape)
    pbc = np.array([1, 1, 1], dtype=np.int64)
    centers, _points, _images, dist = find_points_in_spheres(
        np.ascontiguousarray(framework.cart_coords, dtype=float),
        np.ascontiguousarray(cart, dtype=float),
        r=float(r_min),
        pbc=pbc,
        lattice=np.ascontiguousarray(framework.lattice.matrix, dtype=float),
        tol=1e-8,
    )
    mask[centers[dist < r_min]] = True
    return mask.reshape(shape)


def nearest_distance(framework: Structure, shape: tuple[int, int, int], r_max: float = 4.0,
                     radii: bool = False) -> np.ndarray:
    """Distance (Å, periodic) from every grid point to the nearest framework atom, within ``r_max``; flat, C order.

    ``radii=True``: distance to the nearest atom's *surface*, ``min_j (|r - r_j| - R_j)`` with ``R_j`` the empirical
    atomic radius of atom j's element (Slater 1964, pymatgen ``Element.atomic_radius``; 1.0 Å where pymatgen has none),
    so that a small framework atom (H: 0.25 Å) and a large one (Ir: 1.35 Å) at the same centre distance are told apart.
    Points with no atom within ``r_max`` get ``r_max`` (minus the smallest radius with ``radii``)."""
    from pymatgen.optimization.neighbors import find_points_in_spheres

    frac = frac_grid(shape)
    radius = atomic_radii(framework) if radii else np.zeros(len(framework))
    out = np.full(len(frac), float(r_max) - (float(radius.min()) if len(framework) else 0.0))
    if len(framework) == 0:
        return out
    cart = framework.lattice.get_cartesian_coords(frac)
    centers, points, _images, dist = find_points_in_spheres(
        np.ascontiguousarray(framework.cart_coords, dtype=float), np.ascontiguousarray(cart, dtype=float), r=float(r_max),
        pbc=np.array([1, 1, 1], dtype=np.int64), lattice=np.ascontiguousarray(framework.lattice.matrix, dtype=float), tol=1e-8,
    )
    np.minimum.at(out, centers, dist - radius[points])
    return out


def atomic_radii(structure: Structure) -> np.ndarray:
    """Empirical atomic radius (Å; Slater 1964 via pymatgen) of every site's element; 1.0 Å where none is tabulated."""
    from pymatgen.core import Element

    cache: dict[str, float] = {}
    out = []
    for site in structure:
        sym = site.specie.symbol
        if sym not in cache:
            r = Element(sym).atomic_radius
            cache[sym] = float(r) if r is not None else 1.0
        out.append(cache[sym])
    return np.asarray(out, dtype=float)


def stabiliser(ops, frac_site: np.ndarray, tol: float = 1e-3):
    """Operations that fix ``frac_site`` modulo lattice translations (the site-symmetry group)."""
    out = []
    for r, t in ops:
        d = (r @ frac_site + t) - frac_site
        d -= np.round(d)
        if np.all(np.abs(d) < tol):
            out.append((r, t))
    return out


def grid_symmetry_ops(ops, shape: tuple[int, int, int], tol: float = 1e-6) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ops that map the grid onto itself, as integer maps ``idx' = (M @ idx + s) mod N``."""
    n = np.asarray(shape)
    out = []
    for r, t in ops:
        # idx'/N = r @ (idx/N) + t  →  idx' = (N r N^-1) idx + N t
        m = (n[:, None] * r) / n[None, :]
        s = n * t
        if np.all(np.abs(m - np.rint(m)) < tol) and np.all(np.abs(s - np.rint(s)) < 1e-4):
            out.append((np.rint(m).astype(int), np.rint(s).astype(int)))
    return out


def apply_grid_op(op, shape: tuple[int, int, int]) -> np.ndarray:
    """Flat index of the image of every grid point (C order) under an integer grid op."""
    m, s = op
    idx = np.indices(shape).reshape(3, -1)
    img = (m @ idx + s[:, None]) % np.asarray(shape)[:, None]
    return np.ravel_multi_index(img, shape)


def orbit_labels(grid_ops, shape: tuple[int, int, int]) -> np.ndarray:
    """Label of each grid point's orbit under ``grid_ops`` (union–find over the generating maps)."""
    size = int(np.prod(shape))
    label = np.arange(size)
    if not grid_ops:
        return label
    images = [apply_grid_op(op, shape) for op in grid_ops]
    while True:  # iterate label = min over images until stable (connected components of the orbit graph)
        new = label.copy()
        for img in images:
            np.minimum.at(new, img, label)
            np.minimum(new, new[img], out=new)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new
