"""Estimators and MPE refinement of the coarse-to-fine PES scan (:func:`sicnb.pes.scan.scan_site`).

* :func:`_interpolate_periodic`, :func:`_distance_drift_estimate`, :func:`_neighbour_estimate` — energy estimates
  of unevaluated grid points (design note 2 in bench/RESULTS.md, "PES scan: design notes");
* :func:`_refine_percolation_path` (``mpe_method="path"``) and :func:`_certify_mpe_by_cut` (``"cut"``, the
  default) — make the MPE rest on evaluated points (design note 3).
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from sicnb.pes.levelmap import UNCUTTABLE, centred_supercell, neighbour_offsets, percolation_path, separating_set, supercell_cell_index

__all__: list[str] = []  # internal to sicnb.pes.scan; tests import the helpers by name


def _interpolate_periodic(values: np.ndarray, stride: int, shape: tuple[int, int, int]) -> np.ndarray:
    """Linearly interpolate a field known on the stride sub-grid (indices multiple of ``stride``) to the full grid."""
    axes = []
    sub = values
    for ax, n in enumerate(shape):
        c = np.arange(0, n, stride)
        axes.append(np.append(c, n).astype(float))
        take = np.append(c, 0)
        sub = np.take(sub, take, axis=ax)
    interp = RegularGridInterpolator(tuple(axes), sub, method="linear")
    pts = np.indices(shape).reshape(3, -1).T.astype(float)
    return interp(pts).reshape(shape)


def _distance_drift_estimate(cur: np.ndarray, known: np.ndarray, excl: np.ndarray, dmin: np.ndarray, stride: int,
                             shape: tuple[int, int, int], clip_ev: float) -> np.ndarray:
    """Estimate of the relative energy (eV) on the full grid from the stride sub-grid: a drift ``f(d)`` of the distance to
    the nearest framework atom (isotonic, non-increasing, fitted to the evaluated points) plus the linearly
    interpolated residual. The drift is known at full resolution, so a channel narrower than the coarse spacing,
    where the ion is farther from the framework than at the coarse points around it, is estimated low and refined
    (plain linear interpolation of the coarse energies misses it: LiAlO2 in bench/RESULTS.md)."""
    from sklearn.isotonic import IsotonicRegression

    ok = np.isfinite(known) & ~excl
    iso = IsotonicRegression(increasing=False, out_of_bounds="clip", y_max=clip_ev)
    iso.fit(dmin[ok], np.minimum(known[ok], clip_ev))
    base = iso.predict(dmin)
    resid = np.where(excl, 0.0, cur - base)
    return np.minimum(base + _interpolate_periodic(resid.reshape(shape), stride, shape).ravel(), clip_ev)


def _grid_neighbours(points: np.ndarray, shape: tuple[int, int, int], connectivity: int = 6) -> np.ndarray:
    """Flat indices of the periodic neighbours (6 face-sharing, or 26) of ``points`` on the unit-cell grid."""
    ijk = np.array(np.unravel_index(points, shape))
    out = []
    for d in neighbour_offsets(connectivity):
        nb = (ijk + d[:, None]) % np.asarray(shape)[:, None]
        out.append(np.ravel_multi_index(nb, shape))
    return np.unique(np.concatenate(out)) if out else points


def _neighbour_estimate(points: np.ndarray, known: np.ndarray, excl: np.ndarray, dmin: np.ndarray, shape, clip_ev: float) -> np.ndarray:
    """Estimate at ``points`` from their evaluated 6-neighbours: ``min_q E(q) + f(d_p) - f(d_q)`` with ``f`` the
    isotonic distance drift fitted to every evaluated point (the drift carries the wall between p and q)."""
    from sklearn.isotonic import IsotonicRegression

    if not points.size:
        return np.zeros(0)
    ok = ~np.isnan(known) & ~excl
    emin = np.nanmin(known)
    iso = IsotonicRegression(increasing=False, out_of_bounds="clip", y_max=clip_ev)
    iso.fit(dmin[ok], np.minimum(known[ok] - emin, clip_ev))
    base_p = iso.predict(dmin[points])
    ijk = np.array(np.unravel_index(points, shape))
    out = np.full(points.size, np.inf)
    for ax in range(3):
        for d in (-1, 1):
            nb = ijk.copy()
            nb[ax] = (nb[ax] + d) % shape[ax]
            q = np.ravel_multi_index(nb, shape)
            good = ok[q]
            if good.any():
                cand = known[q[good]] + base_p[good] - iso.predict(dmin[q[good]])
                out[good] = np.minimum(out[good], cand)
    return out


def _refine_percolation_path(known: np.ndarray, field: np.ndarray, excl: np.ndarray, shape: tuple[int, int, int], evaluate,
                             margin_ev: float, dilation: int, max_iter: int, stop_ev: float | None,
                             prior: np.ndarray | None = None, connectivity: int = 6) -> tuple[float, bool, int]:
    """Make the MPE (eq. 2) rest on evaluated points, refining only along the minimax path.

    Field ``G``: evaluated energies where known, ``estimate - margin_ev`` elsewhere (a lower bound on the true
    energy when the estimate exceeds it by at most ``margin_ev``; not guaranteed, see design note 3 in bench/RESULTS.md). The minimax value of ``G`` on the 2×2×2
    supercell is then a lower bound on the true MPE; once the minimax path found on ``G`` passes through
    evaluated points only, that path realises the bound with true energies, so it *is* the true MPE (no
    estimated point can lower it: it already counts at its lower bound). Each iteration evaluates the estimated
    points on the path plus, ``dilation`` times, their estimated 6-neighbours with ``G`` below the path level
    (the saddle region), so that a wrong guess is not followed one point at a time. ``known`` is updated in
    place by ``evaluate``. Stops early when the bound reaches ``stop_ev`` (another ion's exact MPE: this ion
    cannot lower the structure's minimum). With ``prior`` (the estimates before evaluation) the margin is raised to
    the largest ``prior - E`` over evaluated points below the current path level before each search (design note 3 in bench/RESULTS.md,
    item 3). Returns (MPE or its lower bound relative to this ion's minimum, exact?, iterations).
    """
    uc_of_sc, last_origin = None, None
    mpe = np.inf
    margin = float(margin_ev)
    for it in range(max_iter + 1):
        imin = int(np.nanargmin(known))
        emin = known[imin]
        origin = tuple(int(i) for i in np.unravel_index(imin, shape))
        if origin != last_origin:
            uc_of_sc = supercell_cell_index(shape, origin).ravel()
            last_origin = origin
        while True:
            g = np.where(np.isnan(known), field - margin, known) - emin
            g = np.where(excl, np.inf, g)
            sc, _ = centred_supercell(g.reshape(shape), origin)
            mpe, path = percolation_path(sc, connectivity=connectivity)
            if prior is None or not np.isfinite(mpe):
                break
            # self-calibrated margin: the largest overshoot of the prior estimate over the true energy among the
            # evaluated points that lie below the current path level (the points that could matter for the MPE)
            ev = ~np.isnan(known) & ~excl & (known - emin < mpe)
            need = float(np.max(prior[ev] - known[ev], initial=0.0))
            if need <= margin + 1e-9:
                break
            margin = need
        if not np.isfinite(mpe):
            return mpe, True, it  # sealed by the R_min exclusion, which is known exactly
        if stop_ev is not None and mpe >= stop_ev:
            return mpe, False, it
        pts = np.unique(uc_of_sc[path])
        todo = pts[np.isnan(known[pts])]
        if not todo.size:
            return mpe, True, it
        if it == max_iter:
            break
        grow = todo
        for _ in range(dilation):
            nb = _grid_neighbours(grow, shape, connectivity)
            grow = np.setdiff1d(nb[np.isnan(known[nb]) & ~excl[nb] & (g[nb] <= mpe)], todo)
            if not grow.size:
                break
            todo = np.union1d(todo, grow)
        evaluate(todo)
    return mpe, False, max_iter


def _certify_mpe_by_cut(known: np.ndarray, field: np.ndarray, excl: np.ndarray, shape: tuple[int, int, int], evaluate,
                        max_iter: int, stop_ev: float | None, low_cost: int = 50, connectivity: int = 6) -> tuple[float, bool, int]:
    """The MPE (eq. 2) with a proof that rests on evaluated energies only: an evaluated path and an evaluated cut.

    Each round (i) finds a minimax path on the field ``G`` (evaluated energies where known, the estimate elsewhere;
    :func:`_refine_percolation_path` without margin) and evaluates it until it rests on evaluated points; ``U`` is
    then the lowest maximum over paths of evaluated points on the 2×2×2 supercell — an upper bound on the MPE.
    (ii) It looks for the cheapest set of not-yet-evaluated points whose removal, together with the evaluated
    points at or above ``L = min(U, stop_ev)`` and the R_min exclusion, separates the centre from the supercell faces
    (:func:`sicnb.pes.levelmap.separating_set`; price 1 per point whose estimate is ≥ ``L``, ``low_cost`` per point
    estimated below it, evaluated points below ``L`` cannot be cut) and evaluates it. When the cheapest cut needs no
    new point, every path from the centre to a face steps on a point with ``E ≥ L``: the MPE is ≥ ``L``, so it *is*
    ``U`` when ``L = U``. If some cut points come out below ``L``, they join the known field and the round repeats
    (the path may get lower, the next cut goes elsewhere). No assumption on the estimate: it only decides where to
    look. The cut runs across each exit of the well at its saddle, so it costs about a cross-section of the channels
    instead of the whole well below the saddle (the basin a minimax flood would evaluate).
    Returns (MPE, or its lower bound ``stop_ev``, relative to this ion's minimum; exact?; rounds).
    """
    ub = np.inf
    for it in range(max_iter + 1):
        _refine_percolation_path(known, field, excl, shape, evaluate, 0.0, 0, max_iter, stop_ev, connectivity=connectivity)
        imin = int(np.nanargmin(known))
        emin = known[imin]
        origin = tuple(int(i) for i in np.unravel_index(imin, shape))
        sc_idx = supercell_cell_index(shape, origin)
        sc_shape = sc_idx.shape
        uc = sc_idx.ravel()
        e_sc = (known - emin)[uc]
        x_sc = excl[uc]
        f_known = np.where(np.isnan(e_sc) | x_sc, np.inf, e_sc)
        ub, _ = percolation_path(f_known.reshape(sc_shape), connectivity=connectivity)
        level = ub if stop_ev is None else min(ub, stop_ev)
        unknown = np.isnan(e_sc) & ~x_sc
        if not np.isfinite(level):
            if not unknown.any() or not np.isfinite(percolation_path(np.where(x_sc, np.inf, 0.0).reshape(sc_shape), connectivity=connectivity)[0]):
                return np.inf, True, it  # sealed by the R_min exclusion, which is known exactly
            level = np.inf
        cost = np.zeros(e_sc.size, dtype=np.int64)
        est_sc = (field - emin)[uc]
        cost[unknown] = np.where(est_sc[unknown] >= level, 1, low_cost)
        cost[~unknown & ~x_sc & (np.nan_to_num(e_sc, nan=np.inf) < level)] = UNCUTTABLE
        cut = separating_set(cost.reshape(sc_shape), connectivity=connectivity)
        todo = np.unique(uc[cut])
        todo = todo[np.isnan(known[todo])]
        if not todo.size:
            return float(level), bool(level == ub), it
        if it == max_iter:
            break
        evaluate(todo)
    return float(ub), False, max_iter
