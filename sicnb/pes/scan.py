"""Frozen-framework PES scans and the PES descriptors of Maevskiy et al. (Sec. II A–B).

For each symmetry-distinct mobile ion: remove it, place it at the points of the 0.25 Å grid that are
≥ R_min = 1.2 Å from every other atom, and evaluate the potential energy (energy-only, batched).
Descriptors: MPE (eq. 2, min over ions), FV_connected / FV_disconnected (eq. 3, logical OR over all
mobile ions, symmetry-equivalent ions by mapping the scanned grid with the space-group operation),
Ξ (eq. 4).

The scan is cheaper than the paper's exhaustive grid and checked against it by the same code
(``exhaustive=True``): symmetry-distinct ions only, one point per stabiliser orbit on an exactly symmetrized
input; coarse-to-fine free volumes with a flood fill of ``{E < t_max}``; the MPE proven by an evaluated
minimax path plus an evaluated minimum cut (``mpe_method="cut"``); batched energy-only calls. Why each
choice and what it was measured against (the design notes, items 0-4) are in bench/RESULTS.md,
"PES scan: design notes". The estimators and the MPE refinement live in :mod:`sicnb.pes.refine`.

Why this module is still ~550 lines: :func:`scan_site` is one algorithm (coarse-to-fine FV band, flood fill,
MPE certificate) whose stages share the grid state; split further it would pass that state between modules.

Disordered inputs are ordered first (:func:`order_structure`).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np
from pymatgen.core import Structure

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
    xi_descriptor,
)

from sicnb.structure.approximant import order_structure  # noqa: E402  (re-exported: its home is sicnb.structure)
from sicnb.pes.refine import (  # noqa: E402  (re-exported for tests and the bench replay)
    _certify_mpe_by_cut,
    _distance_drift_estimate,
    _grid_neighbours,
    _interpolate_periodic,
    _neighbour_estimate,
    _refine_percolation_path,
)

__all__ = ["ScanSettings", "SiteScan", "PESResult", "scan_site", "pes_scan", "pes_descriptors", "order_structure", "DEFAULT_POTENTIAL"]

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
#: (design note 3, bench/RESULTS.md); False gives the fixed 0.5 eV margin (fewer calls, failed two of thirteen cells)
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


@dataclass(frozen=True)
class ScanSettings:
    """Tuning of the coarse-to-fine scan of one ion (:func:`scan_site`); the defaults are the bench-chosen ones
    (design notes 2-3 in bench/RESULTS.md): strides in grid steps, margins/caps/clip in eV, path dilation in rings
    of neighbours, ``mpe_method`` "cut" (a proof) or "path", ``estimator`` "distance", "surface" or "linear"."""

    strides: Sequence[int] = DEFAULT_STRIDES
    margins_ev: Sequence[float] = DEFAULT_MARGINS_EV
    mpe_cap_ev: float = DEFAULT_MPE_CAP_EV
    mpe_margin_ev: float = DEFAULT_MPE_MARGIN_EV
    path_margin_ev: float = DEFAULT_PATH_MARGIN_EV
    path_dilation: int = DEFAULT_PATH_DILATION
    path_margin_adaptive: bool = DEFAULT_PATH_MARGIN_ADAPTIVE
    mpe_method: str = DEFAULT_MPE_METHOD
    flood: bool = True
    flood_margin_ev: float | None = DEFAULT_FLOOD_MARGIN_EV
    max_path_iter: int = 200
    clip_ev: float = DEFAULT_CLIP_EV
    batch_size: int = DEFAULT_BATCH_SIZE
    estimator: str = DEFAULT_ESTIMATOR

    @classmethod
    def resolve(cls, settings: "ScanSettings | None" = None, **overrides) -> "ScanSettings":
        """``settings`` (default: the defaults) with ``overrides`` applied; unknown names refused."""
        try:
            return dataclasses.replace(settings or cls(), **overrides)
        except TypeError as exc:
            names = [f.name for f in dataclasses.fields(cls)]
            raise ParameterError(f"scan setting: {exc}; the settings are {names}") from None


@dataclass
class SiteScan:
    """PES scan of one symmetry-distinct mobile ion on the unit-cell grid.

    ``energy_ev``: shape ``shape``, eV relative to this ion's minimum; ``+inf`` where excluded (R_min).
    ``evaluated``: True where the value came from the potential (directly or by stabiliser symmetry),
    False where it is estimated (estimate above ``E_min + refine_level_ev``, the last refinement band).
    ``mpe_exact``: this ion's MPE is proven by an evaluated path and cut (``mpe_method="cut"``) or its minimax path
    rests on evaluated points (``"path"``; design note 3, bench/RESULTS.md); ``mpe_lower_bound_ev``: the proven lower bound
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
    settings: "ScanSettings | None" = None,
    mpe_stop_ev: float | None = None,
    ops=None,
    shape: tuple[int, int, int] | None = None,
    multiplicity: int = 1,
    equivalent_indices: tuple[int, ...] = (),
    connectivity: int = 26,
    **overrides,
) -> SiteScan:
    """Frozen-framework scan of the ion at ``site_index`` (Sec. II A); exhaustive or coarse-to-fine (design notes in
    bench/RESULTS.md). The coarse-to-fine tuning is ``settings`` (:class:`ScanSettings`), any of whose fields may also
    be given as a keyword (``strides=(4, 2, 1)``)."""
    t0 = time.perf_counter()
    st = ScanSettings.resolve(settings, **overrides)
    strides, margins_ev, mpe_cap_ev, mpe_margin_ev = st.strides, st.margins_ev, st.mpe_cap_ev, st.mpe_margin_ev
    path_margin_ev, path_dilation, path_margin_adaptive, mpe_method = st.path_margin_ev, st.path_dilation, st.path_margin_adaptive, st.mpe_method
    flood, flood_margin_ev, max_path_iter, clip_ev = st.flood, st.flood_margin_ev, st.max_path_iter, st.clip_ev
    batch_size, estimator = st.batch_size, st.estimator
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
    from sicnb.potentials import as_potential

    pot = as_potential(potential, model)
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
    settings = ScanSettings(strides=tuple(strides), margins_ev=tuple(margins_ev), mpe_cap_ev=mpe_cap_ev, mpe_margin_ev=mpe_margin_ev,
                            path_margin_ev=path_margin_ev, path_dilation=path_dilation, path_margin_adaptive=path_margin_adaptive,
                            mpe_method=mpe_method, flood_margin_ev=flood_margin_ev, batch_size=batch_size, estimator=estimator)
    res = pes_scan(structure, potential, model=model, mobile_ion=mobile_ion, thresholds=tuple(thresholds), step=step, r_min=r_min,
                   exhaustive=exhaustive, symmetrize=symmetrize, connectivity=connectivity, fv_smearing_ev=tuple(fv_smearing_ev),
                   settings=settings)
    return res.descriptors


# 2: symmetrized input; 3: distance-drift estimator, margins; 4: minimax-path MPE refinement, flood-filled FV band
# (exhaustive results are unchanged from 3: same code path); 5: self-calibrated path margin by default; 6: MPE
# certified by an evaluated path and an evaluated minimum cut, estimates clipped at 10 eV, batches of 16
# 7: M3GNet-MP-2021.2.8 default (run with its training convention), the authors' conventions by default: 26-neighbour
# connectivity and FV smearing over t ± 0.02/0.04 eV; 8: inputs whose symmetry translations do not fit a grid
# (a shifted origin) are moved to spglib's standard origin first (7 of the first 300 ordered pool cells get a new grid)
pes_descriptors.cache_version = 8  # type: ignore[attr-defined]
