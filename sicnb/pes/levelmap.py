"""Level map, minimal percolation energy, free volumes and Ξ (Maevskiy et al., Sec. II A–B, eqs. 1–4).

Pure array code: no potentials, no structures. Energies are in eV on a regular grid of shape
``(N1, N2, N3)`` spanning one unit cell along the lattice vectors; excluded points
(closer than R_min to an atom) are ``+inf``.

* :func:`centred_supercell` — repeat the unit-cell grid to the paper's ``(2N+1)^3`` supercell with
  the lowest-energy point at the centre (Sec. II A, ``c_i ∈ {-N_i..N_i}``).
* :func:`level_map` — eq. 1, ``LM(r) = min over paths C(r, r0) of max E on C``, on the grid with
  ``connectivity`` 6 (face-sharing neighbours) or 26 (faces, edges and corners: the rule of the authors' code,
  SiLiKhon/pes_fingerprint ``wave_search``, which steps to every point within sqrt(3) grid steps; the paper does not
  say which), computed exactly as the minimax path through a minimum spanning tree. The pure functions here default
  to 6; :mod:`sicnb.pes.scan` defaults to the authors' 26.
* :func:`minimal_percolation_energy` — eq. 2, min LM over the supercell faces;
  :func:`percolation_path` also returns a minimax path that realises it (the MPE refinement of
  :mod:`sicnb.pes.scan` evaluates the not-yet-evaluated points on it).
* :func:`separating_set` — the cheapest set of grid points whose removal cuts every path from the centre to the
  supercell faces (a minimum vertex cut, by maximum flow): the certificate that no path has a lower maximum than
  the MPE (:mod:`sicnb.pes.scan` evaluates it instead of the whole well below the saddle).
* :func:`free_volume` — eq. 3, fraction of grid points with ``X < t``.
* :func:`xi_descriptor` — eq. 4.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from sicnb.errors import ParameterError

__all__ = [
    "centred_supercell",
    "supercell_cell_index",
    "level_map",
    "minimal_percolation_energy",
    "percolation_path",
    "separating_set",
    "free_volume",
    "xi_descriptor",
    "DEFAULT_THRESHOLDS_EV",
    "neighbour_offsets",
    "lowest_point",
    "ORIGIN_TIE_EV",
]

#: energy thresholds (eV above the minimum) of the FV descriptors (Fig. 3: 0.1–1.0 eV)
DEFAULT_THRESHOLDS_EV: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


#: energies within this of the minimum (eV) tie for the supercell centre; the lowest flat index among them wins. The
#: potentials' float32 noise (about 1e-5 eV) otherwise picks different symmetry-equivalent minima in a reduced scan and
#: in the exhaustive grid, and above the MPE, where the connected region percolates, the connected FV of the
#: (2N+1)^3 window depends on which (measured: Li2O with M3GNet, FV_connected(1.0 eV) 0.147 vs 0.154)
ORIGIN_TIE_EV = 1e-4


def lowest_point(energy: np.ndarray) -> tuple[int, int, int]:
    """Grid index of the minimum, ties within :data:`ORIGIN_TIE_EV` broken by the lowest flat index."""
    f = np.where(np.isfinite(energy), energy, np.inf).ravel()
    return tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(f <= f.min() + ORIGIN_TIE_EV)[0]), np.shape(energy)))  # type: ignore[return-value]


def centred_supercell(energy: np.ndarray, origin: tuple[int, int, int] | None = None) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The ``(2N1+1, 2N2+1, 2N3+1)`` supercell grid centred on ``origin`` (default: the minimum, :func:`lowest_point`).

    Element ``[N1 + c1, N2 + c2, N3 + c3]`` holds ``E(o + c)`` with ``c_i ∈ {-N_i..N_i}`` (Sec. II A);
    the 26 periodic replicas of the centre lie on the outer faces. Returns the array and ``origin``.
    """
    e = np.asarray(energy, dtype=float)
    if e.ndim != 3:
        raise ParameterError(f"energy grid must be 3-D, got shape {e.shape}")
    if origin is None:
        if not np.isfinite(e).any():
            raise ParameterError("energy grid has no finite value (every point excluded)")
        origin = lowest_point(e)
    idx = [(np.arange(-n, n + 1) + o) % n for n, o in zip(e.shape, origin)]
    return e[np.ix_(*idx)], origin  # type: ignore[return-value]


def supercell_cell_index(shape: tuple[int, int, int], origin: tuple[int, int, int]) -> np.ndarray:
    """Flat unit-cell grid index of every point of the :func:`centred_supercell` layout around ``origin`` (shape
    ``(2N1+1, 2N2+1, 2N3+1)``): ``field.ravel()[supercell_cell_index(...)]`` is the centred supercell of ``field``."""
    idx = [(np.arange(-n, n + 1) + o) % n for n, o in zip(shape, origin)]
    return np.ravel_multi_index(np.meshgrid(*idx, indexing="ij"), tuple(shape))


def neighbour_offsets(connectivity: int = 6) -> np.ndarray:
    """Grid steps that count as neighbours: 6 face-sharing, or 26 (faces, edges, corners; the authors' "sqrt3" rule)."""
    if connectivity not in (6, 26):
        raise ParameterError(f"connectivity must be 6 (face neighbours) or 26 (the authors' sqrt3 rule), got {connectivity!r}")
    d = np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij")).reshape(3, -1).T
    d = d[np.abs(d).sum(axis=1) > 0]
    return d if connectivity == 26 else d[np.abs(d).sum(axis=1) == 1]


def _grid_edges(shape: tuple[int, ...], connectivity: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Undirected neighbour pairs ``(u, v)`` of a non-periodic grid (each pair once)."""
    ids = np.arange(int(np.prod(shape))).reshape(shape)
    us, vs = [], []
    for d in neighbour_offsets(connectivity):
        if tuple(d) <= (0, 0, 0):  # one of each ±d pair
            continue
        a = tuple(slice(max(0, -int(di)), n - max(0, int(di))) for di, n in zip(d, shape))
        b = tuple(slice(max(0, int(di)), n - max(0, -int(di))) for di, n in zip(d, shape))
        us.append(ids[a].ravel())
        vs.append(ids[b].ravel())
    return np.concatenate(us), np.concatenate(vs)


def _minimax_tree(energy: np.ndarray, start: tuple[int, int, int] | None, connectivity: int = 6):
    """Level map (eq. 1) plus the minimum-spanning-tree predecessors that realise it (``pred[s] < 0``)."""
    e = np.asarray(energy, dtype=float)
    if e.ndim != 3:
        raise ParameterError(f"energy grid must be 3-D, got shape {e.shape}")
    shape = e.shape
    if start is None:
        start = tuple(n // 2 for n in shape)  # type: ignore[assignment]
    flat = np.where(np.isfinite(e), e, np.inf).ravel()
    s = int(np.ravel_multi_index(start, shape))
    out = np.full(flat.size, np.inf)
    pred = np.full(flat.size, -9999, dtype=np.int64)
    if not np.isfinite(flat[s]):
        return out.reshape(shape), pred
    u, v = _grid_edges(shape, connectivity)
    ok = np.isfinite(flat[u]) & np.isfinite(flat[v])
    u, v = u[ok], v[ok]
    # shift weights to be strictly positive (csgraph treats 0 as "no edge"); order is preserved
    w = np.maximum(flat[u], flat[v]) - flat[np.isfinite(flat)].min() + 1.0
    g = sparse.coo_matrix((w, (u, v)), shape=(flat.size, flat.size)).tocsr()
    mst = csgraph.minimum_spanning_tree(g)
    mst = mst + mst.T
    order, pred = csgraph.breadth_first_order(mst, s, directed=False, return_predecessors=True)
    # walk the tree from the start (BFS order: parents come first): LM(child) = max(LM(parent), E(child))
    lm = out.tolist()
    ev = flat.tolist()
    lm[s] = ev[s]
    for node, parent in zip(order[1:].tolist(), pred[order[1:]].tolist()):
        lp = lm[parent]
        en = ev[node]
        lm[node] = lp if lp > en else en
    return np.asarray(lm).reshape(shape), pred


def level_map(energy: np.ndarray, start: tuple[int, int, int] | None = None, connectivity: int = 6) -> np.ndarray:
    """Eq. 1: ``LM(r) = min_{paths r0→r} max_{r' on path} E(r')`` on a (non-periodic) grid.

    Paths step between neighbours: ``connectivity`` 6 (face-sharing) or 26 (the authors' rule). ``start`` defaults to the grid centre (the layout of
    :func:`centred_supercell`). ``+inf``/NaN points are impassable; unreachable points get ``+inf``.
    Exact: the minimax path between two nodes runs along the minimum spanning tree of the grid graph
    with edge weight ``max(E_u, E_v)``.
    """
    return _minimax_tree(energy, start, connectivity)[0]


def percolation_path(energy: np.ndarray, start: tuple[int, int, int] | None = None,
                     connectivity: int = 6) -> tuple[float, np.ndarray]:
    """Eq. 2 with its witness: ``(MPE, path)`` where ``path`` holds the flat indices (into ``energy``) of a
    minimax path from ``start`` (default: the centre) to a face point of lowest level; every point on it
    has ``E ≤ MPE`` and its highest point is the bottleneck. Empty path and ``inf`` if nothing percolates."""
    lm, pred = _minimax_tree(energy, start, connectivity)
    faces = _faces_mask(lm.shape)
    vals = np.where(faces, lm, np.inf).ravel()
    end = int(np.argmin(vals))
    mpe = float(vals[end])
    if not np.isfinite(mpe):
        return mpe, np.zeros(0, dtype=np.int64)
    path = [end]
    while pred[path[-1]] >= 0:
        path.append(int(pred[path[-1]]))
    return mpe, np.asarray(path[::-1], dtype=np.int64)


#: capacity of a point that must not be cut (scipy's maximum flow wants int32 capacities)
UNCUTTABLE = 1 << 24


def separating_set(cost: np.ndarray, start: tuple[int, int, int] | None = None, connectivity: int = 6) -> np.ndarray:
    """Minimum vertex cut between ``start`` (default: the centre) and the outer faces of a grid.

    ``cost`` (int, shape of the grid): ``0`` where a point is already no way through (a path may not step on it),
    ``≥ 1`` the price of putting it in the cut, :data:`UNCUTTABLE` where it must not be cut (``start`` always is).
    Paths step between neighbours of the given ``connectivity``, as in :func:`level_map`. Returns the flat indices of a cheapest set
    of points whose removal leaves no path from ``start`` to a face (empty when there is none already), computed as
    a maximum flow on the split-node graph (scipy's Dinic) and read off the residual graph. Raises
    :class:`ParameterError` when every cut would need an uncuttable point.
    """
    c = np.asarray(cost)
    if c.ndim != 3:
        raise ParameterError(f"cost grid must be 3-D, got shape {c.shape}")
    shape = c.shape
    if start is None:
        start = tuple(n // 2 for n in shape)  # type: ignore[assignment]
    flat = c.ravel().astype(np.int64)
    s = int(np.ravel_multi_index(start, shape))
    flat[s] = UNCUTTABLE
    active = np.flatnonzero(flat > 0)
    m = active.size
    node = np.full(flat.size, -1, dtype=np.int64)
    node[active] = np.arange(m)
    u, v = _grid_edges(shape, connectivity)
    ok = (node[u] >= 0) & (node[v] >= 0)
    u, v = node[u[ok]], node[v[ok]]
    faces = node[np.flatnonzero(_faces_mask(shape).ravel() & (flat > 0))]
    sink = 2 * m
    # node i: in = i, out = m + i; in -> out carries the point's cost; neighbours out -> in both ways, uncuttable
    rows = np.concatenate([np.arange(m), m + u, m + v, m + faces])
    cols = np.concatenate([m + np.arange(m), v, u, np.full(faces.size, sink)])
    cap = np.concatenate([np.minimum(flat[active], UNCUTTABLE), np.full(2 * u.size + faces.size, UNCUTTABLE)])
    g = sparse.csr_matrix((cap.astype(np.int32), (rows, cols)), shape=(2 * m + 1, 2 * m + 1))
    res = csgraph.maximum_flow(g, int(node[s]), sink, method="dinic")
    if res.flow_value == 0:
        return np.zeros(0, dtype=np.int64)
    if res.flow_value >= UNCUTTABLE:
        raise ParameterError("no finite cut: an uncuttable path joins the start to the faces")
    residual = (g - res.flow).tocsr()
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    reach = np.zeros(2 * m + 1, dtype=bool)
    reach[csgraph.breadth_first_order(residual, int(node[s]), directed=True, return_predecessors=False)] = True
    cut = np.flatnonzero(reach[:m] & ~reach[m : 2 * m])
    return active[cut]


def _faces_mask(shape: tuple[int, int, int]) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    m[0], m[-1] = True, True
    m[:, 0], m[:, -1] = True, True
    m[:, :, 0], m[:, :, -1] = True, True
    return m


def minimal_percolation_energy(lm: np.ndarray) -> float:
    """Eq. 2: ``MPE = min LM`` over the outer faces of the supercell (eV; ``inf`` if no path)."""
    lm = np.asarray(lm, dtype=float)
    return float(lm[_faces_mask(lm.shape)].min())


def free_volume(field: np.ndarray, threshold: float) -> float:
    """Eq. 3: fraction of the supercell where ``field < threshold`` (grid points of equal volume)."""
    f = np.asarray(field, dtype=float)
    return float(np.count_nonzero(f < threshold)) / f.size


def xi_descriptor(fv_connected_05: float, fv_disconnected_05: float) -> float:
    """Eq. 4: ``Ξ = s10(2.00 + log10 FV_conn(0.5 eV)) · s10(1.15 + log10 FV_disc(0.5 eV))``, ``s10(x)=1/(1+e^{-10x})``."""

    def s10(x: float) -> float:
        return float(1.0 / (1.0 + np.exp(-10.0 * x)))

    def lg(x: float) -> float:
        return float(np.log10(x)) if x > 0 else -np.inf

    return s10(2.00 + lg(fv_connected_05)) * s10(1.15 + lg(fv_disconnected_05))
