"""Frozen-framework PES scans and the PES descriptors of Maevskiy et al. (Sec. II A–B).

For each symmetry-distinct mobile ion: remove it, place it at the points of the 0.25 Å grid that are
≥ R_min = 1.2 Å from every other atom, and evaluate the potential energy (energy-only, batched).
Descriptors: MPE (eq. 2, min over ions), FV_connected / FV_disconnected (eq. 3, logical OR over all
mobile ions, symmetry-equivalent ions by mapping the scanned grid with the space-group operation),
Ξ (eq. 4).

Cheaper than the paper, checked against the exhaustive grid by the same code (``exhaustive=True``):

1. **Symmetry.** Only symmetry-distinct mobile ions are scanned; within a scan only one grid point
   per orbit of the site's stabiliser is evaluated (equal energies by symmetry, exact).
0. **Exact symmetry.** The input is first projected onto the space group found at ``symprec``
   (:func:`sicnb.pes.grid.symmetrize_structure`). Without it, a structure that is only nearly
   symmetric (Materials Project Li2O: 60.13° instead of 60°) gets one energy per stabiliser orbit in
   the reduced scan while the orbit's points really differ (by up to 0.01 eV with CHGNet) — the
   Li2O FV mismatch of the first bench. The exhaustive reference scans the same symmetrized input.
2. **Coarse-to-fine for the FV (eq. 3).** Energies are first computed on a stride-``strides[0]`` sub-grid;
   each finer level evaluates only the points whose *estimated* energy lies below ``E_min + t_max + margin``
   (``margins_ev``, one per refinement; t_max = 1.0 eV, the highest FV threshold). The estimate
   (``estimator="distance"``) is an isotonic drift in the distance to the nearest framework atom — known
   exactly at full resolution — plus the linearly interpolated residual; plain linear interpolation
   (``"linear"``) misses channels narrower than the coarse spacing (LiAlO2: MPE off by 1.97 eV). At the
   finest level the set ``{E < t_max}`` is then *flood-filled*: every unevaluated neighbour of an evaluated
   point below ``t_max`` is evaluated, repeated until nothing is added. So each component of
   ``{E < t_max}`` that the band seeds is evaluated whole (exactly, whatever the estimate), and
   FV_connected / FV_disconnected rest on evaluated points; only a component with no seed (every point's
   estimate above the band) can be missed. ``flood_margin_ev`` optionally skips neighbours whose estimate from
   their evaluated neighbours exceeds ``t_max + flood_margin_ev``: chosen at 1.0 eV on the tuning cells, it
   failed the validation cell LiCrSiO4 (FV off by 39 %: the estimate overshoots its low points by up to 4 eV),
   so the default is no pruning (``None``).
3. **The MPE (eq. 2) with a proof** (``mpe_method="cut"``, the default; :func:`_certify_mpe_by_cut`). Two
   evaluated objects decide it: a minimax *path* from the centre of the 2×2×2 supercell to its faces whose points
   are all evaluated (found on the field ``G`` = evaluated energy where known, estimate elsewhere, and evaluated
   until it rests on evaluated points: its maximum ``U`` bounds the MPE from above), and a *cut* — a set of points,
   each evaluated at ``≥ U`` or excluded by R_min, that every path from the centre to a face must cross (bounds it
   from below). The cut is the cheapest one by a minimum vertex cut (maximum flow,
   :func:`sicnb.pes.levelmap.separating_set`) in which unevaluated points estimated at ``≥ U`` cost 1, those
   estimated below cost 50, evaluated points ``≥ U`` and excluded points are free and evaluated points below ``U``
   cannot be cut; its unevaluated points are evaluated, and if some come out below ``U`` the round repeats (the path
   may get lower through them, the next cut goes elsewhere). When a cut needs no new point the MPE is ``U`` —
   **exactly, whatever the estimate**, given the ion's minimum (the centre; the coarse grid and the FV flood find it,
   as before): the estimate only decides where to look (a one-grid-point tunnel that no
   coarse point sees crosses every cut and is found, ``tests/test_pes.py``). The cut runs across each exit of the
   well near its saddle, between the exclusion spheres, so it costs about a cross-section of the channels instead
   of the whole well below the saddle. Ions are scanned in turn; an ion stops once it proves its MPE ≥ an exact MPE
   already found for another ion (cut at that level). ``mpe_refined`` is True when the reported MPE is proven so.
   Replayed on stored CHGNet energies of the thirteen bench cells: exact on all, with 1.4–5× fewer calls than the
   self-calibrated path margin on the cells whose saddle lies far above the FV thresholds (bench/RESULTS.md).
   ``mpe_method="path"`` keeps the earlier **minimax-path refinement** (:func:`_refine_percolation_path`): on
   ``G`` with ``estimate - path_margin_ev`` for unevaluated points, evaluate the minimax path until it rests on
   evaluated points. It is exact only if every estimate errs high by at most the margin, which is not guaranteed
   (the distance-drift estimate overshoots some points by 2–4 eV; with the fixed 0.5 eV margin the MPE came out
   0.26 eV too high on LiMgH6Ir and 0.12 eV on KLiSO4). By default it calibrates the margin to the largest
   overshoot ``prior - E`` seen on evaluated points below the path level (``path_margin_adaptive``): exact on the
   thirteen cells, still a premise, more calls. The former MPE band (``mpe_cap_ev``) is off by default (it missed
   MPEs above the cap: Li6CrN4, 2.6 eV). Defaults (strides 4, 2, 1; margins 1.0, 0.5 eV) were chosen by replaying
   the scan on the stored exhaustive energies of the seven bench cells (Li2O, LiCl, Li3N, Li2S, LiAlO2, LiBr,
   Li6CrN4) and checked on cells not used for that choice (bench/RESULTS.md). ``estimator="surface"`` measures the
   drift coordinate to the nearest atom's surface (centre distance minus its element's atomic radius); not the
   default. Estimates are clipped at ``clip_ev`` = 10 eV above the minimum (at 5 eV the plateau below LiAl5O8's
   5.4 eV saddle made the path search wander: 981 instead of 146 calls).
4. **Batched energy-only calls** through :meth:`sicnb.potentials.Potential.energies`.

Disordered inputs are ordered first (:func:`order_structure`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np
from pymatgen.core import Structure
from scipy.interpolate import RegularGridInterpolator

from sicnb.errors import ParameterError, StructureError

if TYPE_CHECKING:
    from sicnb.potentials import Potential
from sicnb.pes.grid import (
    apply_grid_op,
    excluded_mask,
    frac_grid,
    nearest_distance,
    grid_shape,
    grid_symmetry_ops,
    orbit_labels,
    space_group_ops,
    space_group_ops_checked,
    stabiliser,
    standard_origin,
    symmetrize_structure,
    translations_fit_grid,
)
from sicnb.pes.levelmap import (
    DEFAULT_THRESHOLDS_EV,
    centred_supercell,
    level_map,
    lowest_point,
    minimal_percolation_energy,
    percolation_path,
    neighbour_offsets,
    separating_set,
    supercell_cell_index,
    UNCUTTABLE,
    xi_descriptor,
)

__all__ = ["SiteScan", "PESResult", "scan_site", "pes_scan", "pes_descriptors", "order_structure", "DEFAULT_POTENTIAL"]

#: coarse-to-fine defaults, chosen by replaying the scan on the stored exhaustive energies of the seven bench cells
#: of bench/RESULTS.md (Li2O, LiCl, Li3N, Li2S, LiAlO2, LiBr, Li6CrN4) and validated on cells not used for the choice:
#: strides in grid steps, FV-band margins (eV above t_max) per refinement, MPE band (off by default: ``mpe_cap_ev=0``;
#: the minimax-path refinement replaces it), drift estimator, flood margin (None: flood-fill {E < t_max} without
#: pruning; the 1.0 eV pruning chosen on the tuning cells failed a validation cell), path margin (eV subtracted from
#: estimates in the MPE refinement) and path dilation (rings of neighbours)
DEFAULT_STRIDES: tuple[int, ...] = (4, 2, 1)
DEFAULT_MARGINS_EV: tuple[float, ...] = (1.0, 0.5)
DEFAULT_MPE_CAP_EV = 0.0
DEFAULT_MPE_MARGIN_EV = 0.4
DEFAULT_ESTIMATOR = "distance"
DEFAULT_FLOOD_MARGIN_EV: float | None = None
DEFAULT_PATH_MARGIN_EV = 0.5
DEFAULT_PATH_DILATION = 0
#: raise the path margin to the largest overshoot of the estimate seen on evaluated points below the path level
#: (item 3 of the module doc); False gives the fixed 0.5 eV margin (fewer calls, failed two of thirteen cells)
DEFAULT_PATH_MARGIN_ADAPTIVE = True
#: how the MPE is made exact: "cut" (an evaluated path plus an evaluated minimum cut: a proof, item 3) or "path"
#: (minimax-path refinement under the path-margin premise)
DEFAULT_MPE_METHOD = "cut"
#: estimates are clipped at this many eV above the minimum (5.0 before the cut: the plateau made the path search
#: wander on LiAl5O8, whose saddle is at 5.4 eV — 981 instead of 146 path calls)
DEFAULT_CLIP_EV = 10.0
#: structures per forward pass of the potential: with CHGNet 0.3.0 on the bench cells 16 is 8-18 % faster per structure
#: than 32 (LiCrSiO4, 28 atoms: 75 vs 91 ms on 2 threads, 112 vs 136 ms on one; LiNH2: 30 vs 32 ms); energies agree to
#: float32 rounding (bench/RESULTS.md)
DEFAULT_BATCH_SIZE = 16

#: default potential of sicnb.pes: M3GNet-MP-2021.2.8-PES, the potential of Maevskiy et al. (run with the aggregation
#: convention it was trained with and self-tested at load, sicnb.potentials); "chgnet", "sevennet" and
#: ``load_potential("m3gnet", model="M3GNet-MatPES-PBE-v2025.1-PES")`` are selectable cross-checks
DEFAULT_POTENTIAL = "m3gnet"
#: grid neighbours that connect in the level map, its path and cut searches and the flood fill: 26 (faces, edges and
#: corners), the rule of the authors' code (SiLiKhon/pes_fingerprint, ``wave_search``: every point within sqrt(3) grid
#: steps); 6 (face neighbours) is the stricter alternative. The paper does not say which.
DEFAULT_CONNECTIVITY = 26
#: FV smearing (eV): every free volume FV(t) is the mean of FV at t + each offset, as in the authors'
#: ``process_structure`` (``fvl_smearing=[-0.04, -0.02, 0.0, 0.02, 0.04]``); ``(0.0,)`` gives the unsmeared eq. 3
DEFAULT_FV_SMEARING_EV = (-0.04, -0.02, 0.0, 0.02, 0.04)


@dataclass
class SiteScan:
    """PES scan of one symmetry-distinct mobile ion on the unit-cell grid.

    ``energy_ev``: shape ``shape``, eV relative to this ion's minimum; ``+inf`` where excluded (R_min).
    ``evaluated``: True where the value came from the potential (directly or by stabiliser symmetry),
    False where it is estimated (estimate above ``E_min + refine_level_ev``, the last refinement band).
    ``mpe_exact``: this ion's MPE is proven by an evaluated path and cut (``mpe_method="cut"``) or its minimax path
    rests on evaluated points (``"path"``; module doc, item 3); ``mpe_lower_bound_ev``: the proven lower bound
    (= the MPE when exact, the other ion's MPE when the scan stopped there; NaN for exhaustive scans).
    ``calls_by_stage``: potential calls per stride level, then of the path refinement.
    """

    site_index: int
    multiplicity: int
    equivalent_indices: tuple[int, ...]
    shape: tuple[int, int, int]
    energy_ev: np.ndarray
    evaluated: np.ndarray
    n_potential_calls: int
    e_min_total_ev: float
    refine_level_ev: float
    seconds: float
    mpe_lower_bound_ev: float = float("nan")
    mpe_exact: bool = True
    n_path_iterations: int = 0
    calls_by_stage: tuple[int, ...] = ()

    @property
    def origin(self) -> tuple[int, int, int]:
        return lowest_point(self.energy_ev)


@dataclass
class PESResult:
    """All site scans of one structure plus the aggregated descriptors (flat dict in ``descriptors``)."""

    structure: Structure
    scans: list[SiteScan]
    descriptors: dict[str, float]
    level_maps: dict[int, np.ndarray] = field(default_factory=dict, repr=False)


def order_structure(structure: Structure, max_enumerations: int = 1) -> tuple[Structure, str]:
    """Return an ordered structure and the rule used.

    Rule: ordered inputs are returned unchanged. Disordered ones get oxidation states (sicnb.structure)
    and pymatgen's ``OrderDisorderedStructureTransformation`` (fast algorithm, lowest Ewald energy
    configuration in the given cell); if that fails, :class:`StructureError`.
    """
    if structure.is_ordered:
        return structure, "ordered"
    from pymatgen.transformations.standard_transformations import OrderDisorderedStructureTransformation

    from sicnb.structure import assign_oxidation_states

    try:
        decorated, _ = assign_oxidation_states(structure)
        out = OrderDisorderedStructureTransformation(algo=2).apply_transformation(decorated, return_ranked_list=False)
        out.remove_oxidation_states()
    except Exception as exc:  # noqa: BLE001
        raise StructureError(
            f"{structure.composition.reduced_formula}: could not order the partial occupancies for the potential "
            f"({type(exc).__name__}: {exc}); give an ordered structure (e.g. a Materials Project entry)"
        ) from exc
    return out, "ewald-lowest (pymatgen OrderDisorderedStructureTransformation, fast algorithm)"


def _cached_potential(potential, model: str | None):
    """A potential by name (loaded once per process) or a :class:`sicnb.potentials.Potential` passed through."""
    from sicnb.potentials import as_potential

    return as_potential(potential, model)


def _energies_at(potential, framework: Structure, ion: str, frac_points: np.ndarray, batch_size: int,
                 chunk: int = 128) -> np.ndarray:
    """Energies with the ion at each fractional point, ``chunk`` structures per potential call: CHGNet converts every
    structure it is given to a graph first, and an exhaustive 28-atom scan passed whole was killed at 10 GB."""
    species = [sp for sp in framework.species] + [ion]
    base = framework.frac_coords
    out = []
    for i in range(0, len(frac_points), chunk):
        structs = [
            Structure(framework.lattice, species, np.vstack([base, p[None, :]]), coords_are_cartesian=False)
            for p in frac_points[i : i + chunk]
        ]
        out.append(np.asarray(potential.energies(structs, batch_size=batch_size), dtype=float))
    return np.concatenate(out) if out else np.zeros(0)


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
    energy when the estimate exceeds it by at most ``margin_ev``; not guaranteed, see the module doc). The minimax value of ``G`` on the 2×2×2
    supercell is then a lower bound on the true MPE; once the minimax path found on ``G`` passes through
    evaluated points only, that path realises the bound with true energies, so it *is* the true MPE (no
    estimated point can lower it: it already counts at its lower bound). Each iteration evaluates the estimated
    points on the path plus, ``dilation`` times, their estimated 6-neighbours with ``G`` below the path level
    (the saddle region), so that a wrong guess is not followed one point at a time. ``known`` is updated in
    place by ``evaluate``. Stops early when the bound reaches ``stop_ev`` (another ion's exact MPE: this ion
    cannot lower the structure's minimum). With ``prior`` (the estimates before evaluation) the margin is raised to
    the largest ``prior - E`` over evaluated points below the current path level before each search (module doc,
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


def scan_site(
    structure: Structure,
    site_index: int,
    potential,
    *,
    mobile_ion: str = "Li",
    step: float = 0.25,
    r_min: float = 1.2,
    exhaustive: bool = False,
    use_symmetry: bool = True,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS_EV,
    strides: Sequence[int] = DEFAULT_STRIDES,
    margins_ev: Sequence[float] = DEFAULT_MARGINS_EV,
    mpe_cap_ev: float = DEFAULT_MPE_CAP_EV,
    mpe_margin_ev: float = DEFAULT_MPE_MARGIN_EV,
    path_margin_ev: float = DEFAULT_PATH_MARGIN_EV,
    path_dilation: int = DEFAULT_PATH_DILATION,
    path_margin_adaptive: bool = DEFAULT_PATH_MARGIN_ADAPTIVE,
    mpe_method: str = DEFAULT_MPE_METHOD,
    flood: bool = True,
    flood_margin_ev: float | None = DEFAULT_FLOOD_MARGIN_EV,
    max_path_iter: int = 200,
    mpe_stop_ev: float | None = None,
    clip_ev: float = DEFAULT_CLIP_EV,
    batch_size: int = DEFAULT_BATCH_SIZE,
    estimator: str = DEFAULT_ESTIMATOR,
    ops=None,
    shape: tuple[int, int, int] | None = None,
    multiplicity: int = 1,
    equivalent_indices: tuple[int, ...] = (),
    connectivity: int = 26,
) -> SiteScan:
    """Frozen-framework scan of the ion at ``site_index`` (Sec. II A); exhaustive or coarse-to-fine (module doc)."""
    t0 = time.perf_counter()
    if len(margins_ev) != len(strides) - 1 or strides[-1] != 1:
        raise ParameterError(f"strides must end with 1 and margins_ev have one value per refinement; got {strides}, {margins_ev}")
    ops = ops if ops is not None else (space_group_ops(structure) if use_symmetry else [(np.eye(3, dtype=int), np.zeros(3))])
    shape = shape or grid_shape(structure.lattice, step, ops if use_symmetry else None)
    framework = structure.copy()
    framework.remove_sites([site_index])
    excl = excluded_mask(framework, shape, r_min).ravel()
    if mpe_method not in ("cut", "path"):
        raise ParameterError(f"mpe_method must be 'cut' or 'path', got {mpe_method!r}")
    if estimator not in ("surface", "distance", "linear"):
        raise ParameterError(f"estimator must be 'surface', 'distance' or 'linear', got {estimator!r}")
    dmin = (nearest_distance(framework, shape, radii=estimator == "surface")
            if (estimator in ("surface", "distance") and not exhaustive) else None)
    if excl.all():
        raise StructureError(f"{structure.composition.reduced_formula}: every grid point is within R_min={r_min} Å of an atom")
    frac = frac_grid(shape)
    if use_symmetry and not exhaustive:
        gops = grid_symmetry_ops(stabiliser(ops, structure[site_index].frac_coords), shape)
        labels = orbit_labels(gops, shape)
    else:
        labels = np.arange(int(np.prod(shape)))
    known = np.full(labels.size, np.nan)  # total energies (eV) by point
    label_energy: dict[int, float] = {}
    n_calls = 0

    def evaluate(points: np.ndarray) -> None:
        nonlocal n_calls
        points = points[~excl[points]]
        pts_labels = labels[points]
        todo = np.unique(pts_labels)
        todo = np.array([lab for lab in todo if lab not in label_energy], dtype=int)
        if todo.size:
            # representative = the label's own index (min index in its orbit, a point of the orbit)
            e = _energies_at(potential, framework, mobile_ion, frac[todo], batch_size)
            n_calls += len(todo)
            label_energy.update(zip(todo.tolist(), e.tolist()))
        have = np.array([label_energy[lab] for lab in pts_labels])
        known[points] = have
        # every point of an evaluated orbit is known too
        mask = np.isin(labels, np.fromiter(label_energy.keys(), dtype=int)) & ~excl & np.isnan(known)
        if mask.any():
            known[mask] = np.array([label_energy[lab] for lab in labels[mask]])

    idx = np.indices(shape).reshape(3, -1)
    tmax = float(max(thresholds))
    level = tmax
    stage_calls: list[int] = []
    if exhaustive:
        evaluate(np.flatnonzero(~excl))
        stage_calls.append(n_calls)
        field = known.copy()
        refine_level = np.inf
        mpe_lb, mpe_exact, n_path_iter = np.nan, True, 0
    else:
        est = None
        field = None
        refine_level = 0.0
        for li, s in enumerate(strides):
            on = np.flatnonzero(np.all(idx % s == 0, axis=0) & ~excl)
            if li == 0:
                need = on
            else:
                emin = np.nanmin(known)
                band = tmax + margins_ev[li - 1]
                if mpe_cap_ev > 0:
                    band = max(band, min(level, mpe_cap_ev) + mpe_margin_ev)
                refine_level = band
                need = on[np.isnan(known[on]) & (est.ravel()[on] - emin < band)]
            if need.size:
                evaluate(need)
            if s == 1 and flood:
                # close every seeded component of {E < t_max}: evaluate the unevaluated neighbours of evaluated points
                # below t_max until there are none (FV eq. 3 then sees each such component whole)
                while True:
                    low = np.flatnonzero(~np.isnan(known) & (known - np.nanmin(known) < tmax))
                    nb = _grid_neighbours(low, shape, connectivity)
                    nb = nb[np.isnan(known[nb]) & ~excl[nb]]
                    if flood_margin_ev is not None and dmin is not None:
                        nb = nb[_neighbour_estimate(nb, known, excl, dmin, shape, clip_ev) - np.nanmin(known) < tmax + flood_margin_ev]
                    if not nb.size:
                        break
                    evaluate(nb)
            stage_calls.append(n_calls - sum(stage_calls))
            emin = np.nanmin(known)
            # field on this level's grid: evaluated where known, else the previous estimate; clipped for interpolation
            cur = known.copy()
            if est is not None:
                cur = np.where(np.isnan(cur), est.ravel(), cur)
            cur = np.where(excl, emin + clip_ev, np.minimum(cur, emin + clip_ev))
            if s > 1:
                if estimator in ("surface", "distance"):
                    est = emin + _distance_drift_estimate(cur - emin, known - emin, excl, dmin, s, shape, clip_ev)
                else:
                    est = _interpolate_periodic(cur.reshape(shape), s, shape)
                if mpe_cap_ev > 0:  # the optional MPE band needs the estimated MPE
                    full = np.where(np.isnan(known), est.ravel(), known)
                    full = np.where(excl, np.inf, full)
                    sc, _ = centred_supercell((full - emin).reshape(shape))
                    mpe_est = minimal_percolation_energy(level_map(sc, connectivity=connectivity))
                    level = min(max(tmax, mpe_est), mpe_cap_ev)
            else:
                field = np.where(np.isnan(known), est.ravel() if est is not None else np.nan, known)
        # MPE along the minimax path (eq. 2): lower-bound every estimated point by ``estimate - margin`` (the margin
        # self-calibrated from ``prior`` unless path_margin_adaptive=False),
        # find the minimax path on that field, evaluate its estimated points (and their estimated neighbours below
        # the path level), repeat until the path rests on evaluated points only.
        prior = field if est is None else est.ravel()  # the estimates before any finest-level evaluation
        field = np.where(np.isnan(known), field, known)
        if mpe_method == "cut":
            mpe_lb, mpe_exact, n_path_iter = _certify_mpe_by_cut(known, field, excl, shape, evaluate, max_path_iter, mpe_stop_ev,
                                                                 connectivity=connectivity)
        else:
            mpe_lb, mpe_exact, n_path_iter = _refine_percolation_path(
                known, field, excl, shape, evaluate, path_margin_ev, path_dilation, max_path_iter, mpe_stop_ev,
                prior=prior if path_margin_adaptive else None, connectivity=connectivity)
        stage_calls.append(n_calls - sum(stage_calls))
        field = np.where(np.isnan(known), field, known)
    emin = float(np.nanmin(known))
    energy = np.where(excl, np.inf, field - emin).reshape(shape)
    evaluated = (~np.isnan(known)).reshape(shape)
    return SiteScan(
        site_index=site_index,
        multiplicity=multiplicity,
        equivalent_indices=equivalent_indices or (site_index,),
        shape=shape,
        energy_ev=energy,
        evaluated=evaluated,
        n_potential_calls=n_calls,
        e_min_total_ev=emin,
        refine_level_ev=float(refine_level),
        seconds=time.perf_counter() - t0,
        mpe_lower_bound_ev=float(mpe_lb),
        mpe_exact=bool(mpe_exact),
        n_path_iterations=int(n_path_iter),
        calls_by_stage=tuple(stage_calls),
    )


def _torus(indicator_sc: np.ndarray, origin: tuple[int, int, int], shape: tuple[int, int, int]) -> np.ndarray:
    """Put a (2N+1)^3 centred-supercell indicator onto the 2N-periodic torus with a fixed origin."""
    n = np.asarray(shape)
    win = indicator_sc[: 2 * n[0], : 2 * n[1], : 2 * n[2]]
    out = np.zeros(tuple(2 * n), dtype=bool)
    pos = [(np.arange(2 * ni) + oi - ni) % (2 * ni) for ni, oi in zip(n, origin)]
    out[np.ix_(*pos)] = win
    return out


def _map_op_torus(arr: np.ndarray, op, period: tuple[int, int, int]) -> np.ndarray:
    img = apply_grid_op(op, period)
    out = np.zeros(arr.size, dtype=bool)
    out[img] = arr.ravel()
    return out.reshape(period)


def _op_between(ops, frac_i: np.ndarray, frac_j: np.ndarray, shape, tol: float = 1e-3):
    for r, t in ops:
        d = (r @ frac_i + t) - frac_j
        d -= np.round(d)
        if np.all(np.abs(d) < tol):
            g = grid_symmetry_ops([(r, t)], shape)
            if g:
                return g[0]
    return None


def _mpe_refined(mpes: list[float], scans: list[SiteScan]) -> bool:
    """True when the structure MPE (min over ions) is that of an ion whose minimax path rests on evaluated points, and
    every other ion's lower bound is not below it (proven with ``mpe_method="cut"``; under the path-margin premise of
    :func:`_refine_percolation_path` with ``"path"``)."""
    best = min(mpes)
    hit = any(s.mpe_exact and abs(m - best) <= 1e-9 for m, s in zip(mpes, scans))
    return bool(hit and all(s.mpe_exact or s.mpe_lower_bound_ev >= best - 1e-9 for s in scans))


def pes_scan(
    structure: Structure,
    potential=DEFAULT_POTENTIAL,
    *,
    model: str | None = None,
    mobile_ion: str = "Li",
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS_EV,
    keep_level_maps: bool = False,
    symmetrize: bool = True,
    symprec: float = 0.01,
    connectivity: int = DEFAULT_CONNECTIVITY,
    fv_smearing_ev: Sequence[float] = DEFAULT_FV_SMEARING_EV,
    **scan_kwargs,
) -> PESResult:
    """Scan every symmetry-distinct mobile ion and aggregate the descriptors (Sec. II A):
    MPE = min over ions; FV = volume fraction of the logical OR over all mobile ions; Ξ (eq. 4).

    Two conventions the paper leaves open follow the authors' code (SiLiKhon/pes_fingerprint) by default:
    ``connectivity=26`` (level-map paths may step to edge and corner neighbours, its "sqrt3" rule; 6 = face
    neighbours only) and ``fv_smearing_ev`` (each FV(t) is the mean of FV(t + δ) over δ in -0.04..+0.04 eV;
    ``(0.0,)`` = plain eq. 3)."""
    from sicnb.structure import mobile_sites

    t0 = time.perf_counter()
    ordered, rule = order_structure(structure)
    use_symmetry = scan_kwargs.get("use_symmetry", True)
    shift = 0.0
    if symmetrize and use_symmetry:
        ordered, shift = symmetrize_structure(ordered, symprec=symprec)
    pot = _cached_potential(potential, model)
    step = scan_kwargs.pop("step", 0.25)
    ops, symmetry_fallback = space_group_ops_checked(ordered, symprec=symprec) if use_symmetry else ([(np.eye(3, dtype=int), np.zeros(3))], "")
    if use_symmetry and not translations_fit_grid(ops):  # an arbitrary origin: move it to the space group's own
        ordered, _ = standard_origin(ordered, symprec=symprec)
        ops, symmetry_fallback = space_group_ops_checked(ordered, symprec=symprec)
    shape = grid_shape(ordered.lattice, step, ops if use_symmetry else None)
    sites = mobile_sites(ordered, mobile_ion) if use_symmetry else None
    if sites and not symmetry_fallback:
        symmetry_fallback = sites[0].symmetry_fallback
    if sites is None:
        groups = [(i, 1, (i,)) for i, s in enumerate(ordered) if s.specie.symbol == mobile_ion]
    else:
        groups = [(m.index, m.multiplicity, m.equivalent_indices) for m in sites]
    if not groups:
        raise StructureError(f"{ordered.composition.reduced_formula}: no {mobile_ion} to scan")
    scans, lms = [], {}
    n = np.asarray(shape)
    smear = tuple(float(d) for d in fv_smearing_ev) or (0.0,)
    levels = sorted({round(t + d, 9) for t in thresholds for d in smear})  # every threshold an FV average needs
    conn = {t: np.zeros(tuple(2 * n), dtype=bool) for t in levels}
    disc = {t: np.zeros(shape, dtype=bool) for t in levels}
    mpes = []
    n_unmapped = 0
    for idx, mult, eq in groups:
        exact = [m for m, s_ in zip(mpes, scans) if s_.mpe_exact]
        sc = scan_site(ordered, idx, pot, mobile_ion=mobile_ion, thresholds=levels, ops=ops, shape=shape,
                       step=step, multiplicity=mult, equivalent_indices=tuple(eq),
                       mpe_stop_ev=min(exact) if exact else None, connectivity=connectivity, **scan_kwargs)
        scans.append(sc)
        e_sc, origin = centred_supercell(sc.energy_ev)
        lm = level_map(e_sc, connectivity=connectivity)
        if keep_level_maps:
            lms[idx] = lm
        mpes.append(minimal_percolation_energy(lm))
        fi = ordered[idx].frac_coords
        for j in eq:
            op = None if j == idx else _op_between(ops, fi, ordered[j].frac_coords, shape)
            if j != idx and op is None:
                n_unmapped += 1
                continue
            for t in levels:
                c = _torus(lm < t, origin, shape)
                d = sc.energy_ev < t
                if op is not None:
                    c = _map_op_torus(c, op, tuple(2 * n))
                    d = _map_op_torus(d, op, shape)
                conn[t] |= c
                disc[t] |= d
    out: dict[str, float] = {
        "formula": ordered.composition.reduced_formula,
        "ordering": rule,
        "symmetrize_max_shift_A": shift,
        "n_mobile_sites_scanned": len(scans),
        "n_mobile_ions": int(sum(len(s.equivalent_indices) for s in scans)),
        "n_ions_unmapped": n_unmapped,
        "grid_shape": "x".join(map(str, shape)),
        "MPE": float(min(mpes)),
        "mpe_refined": _mpe_refined(mpes, scans),
        "connectivity": int(connectivity),
        "fv_smearing_ev": ",".join(f"{d:g}" for d in smear),
        "symmetry_fallback": symmetry_fallback,  # "" or why the scan ran without (part of) the symmetry reduction
    }
    for t in thresholds:  # eq. 3 on the OR-ed indicator, averaged over the smearing offsets
        out[f"FV_connected_{t:g}"] = float(np.mean([conn[round(t + d, 9)].mean() for d in smear]))
        out[f"FV_disconnected_{t:g}"] = float(np.mean([disc[round(t + d, 9)].mean() for d in smear]))
    fc, fd = out.get("FV_connected_0.5"), out.get("FV_disconnected_0.5")
    out["Xi"] = xi_descriptor(fc, fd) if fc is not None and fd is not None else float("nan")
    out["n_potential_calls"] = int(sum(s.n_potential_calls for s in scans))
    out["n_grid_points"] = int(np.prod(shape)) * len(scans)
    out["seconds"] = time.perf_counter() - t0
    out.update(getattr(pot, "provenance", {}))
    return PESResult(ordered, scans, out, lms)


def pes_descriptors(
    structure: Structure,
    potential: "str | Potential" = DEFAULT_POTENTIAL,
    model: str | None = None,
    mobile_ion: str = "Li",
    step: float = 0.25,
    r_min: float = 1.2,
    exhaustive: bool = False,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS_EV,
    strides: Sequence[int] = DEFAULT_STRIDES,
    margins_ev: Sequence[float] = DEFAULT_MARGINS_EV,
    mpe_cap_ev: float = DEFAULT_MPE_CAP_EV,
    batch_size: int = DEFAULT_BATCH_SIZE,
    symmetrize: bool = True,
    mpe_margin_ev: float = DEFAULT_MPE_MARGIN_EV,
    estimator: str = DEFAULT_ESTIMATOR,
    path_margin_ev: float = DEFAULT_PATH_MARGIN_EV,
    path_dilation: int = DEFAULT_PATH_DILATION,
    flood_margin_ev: float | None = DEFAULT_FLOOD_MARGIN_EV,
    path_margin_adaptive: bool = DEFAULT_PATH_MARGIN_ADAPTIVE,
    mpe_method: str = DEFAULT_MPE_METHOD,
    connectivity: int = DEFAULT_CONNECTIVITY,
    fv_smearing_ev: Sequence[float] = DEFAULT_FV_SMEARING_EV,
) -> dict:
    """Per-structure PES descriptors as a flat dict (for :func:`sicnb.parallel.pmap`): MPE (eV), FV_connected_t,
    FV_disconnected_t (fractions, t in eV), Xi, n_potential_calls, seconds, potential provenance.

    ``potential``: a name (default ``"m3gnet"``: M3GNet-MP-2021.2.8-PES, the paper's) or a loaded
    :class:`sicnb.potentials.Potential`. ``connectivity`` (26, the authors' "sqrt3" neighbour rule, or 6) and
    ``fv_smearing_ev`` (the authors' FV smearing over t + {-0.04, -0.02, 0, 0.02, 0.04} eV; ``(0.0,)`` for none)
    default to the authors' code (:func:`pes_scan`)."""
    res = pes_scan(
        structure, potential, model=model, mobile_ion=mobile_ion, thresholds=tuple(thresholds), step=step, r_min=r_min,
        exhaustive=exhaustive, strides=tuple(strides), margins_ev=tuple(margins_ev), mpe_cap_ev=mpe_cap_ev, batch_size=batch_size,
        symmetrize=symmetrize, mpe_margin_ev=mpe_margin_ev, estimator=estimator, path_margin_ev=path_margin_ev,
        path_dilation=path_dilation, flood_margin_ev=flood_margin_ev, path_margin_adaptive=path_margin_adaptive,
        mpe_method=mpe_method, connectivity=connectivity, fv_smearing_ev=tuple(fv_smearing_ev),
    )
    return res.descriptors


# 2: symmetrized input; 3: distance-drift estimator, margins; 4: minimax-path MPE refinement, flood-filled FV band
# (exhaustive results are unchanged from 3: same code path); 5: self-calibrated path margin by default; 6: MPE
# certified by an evaluated path and an evaluated minimum cut, estimates clipped at 10 eV, batches of 16
# 7: M3GNet-MP-2021.2.8 default (run with its training convention), the authors' conventions by default: 26-neighbour
# connectivity and FV smearing over t ± 0.02/0.04 eV; 8: inputs whose symmetry translations do not fit a grid
# (a shifted origin) are moved to spglib's standard origin first (7 of the first 300 ordered pool cells get a new grid)
pes_descriptors.cache_version = 8  # type: ignore[attr-defined]
