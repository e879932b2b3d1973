"""HTVS stability screens for an *existing* pool of structures (the ledger's ``htvs`` method).

Du & Wang (substitution HTVS of Li superionic conductors; notebook 05) screen candidates with
predicted thermodynamic and electrochemical stability before any conductivity model:

* thermodynamic stability: predicted E_hull ≤ 0.2 eV/atom (and E_f ≤ 0.1 eV/atom) — generous because
  predicted energies carry errors (validation then asks E_hull ≤ 0.1, E_f < 0);
* electronic insulation: predicted band gap E_gap > 0.5 eV (validation: > 1 eV);
* oxidative stability: the oxidation limit of the electrochemical window, from grand-potential phase
  diagrams open to Li, ≥ 4 V vs Li/Li⁺.

:func:`sicnb.htvs.screen_compositions` applies these to generated substitution candidates; this module
applies the same numbers to every structure of a given pool, as they are:

1. :func:`pool_reference_hull` — one reference hull for the whole pool. With ``MP_API_KEY``: Materials
   Project entries per chemical system (:meth:`ReferenceHull.materials_project`). Offline: the real
   Materials Project structures of the embedded ``matbench_dielectric`` pool that lie inside the chemical
   system (elements ∪ Li) of at least one pool structure, plus elemental references — through
   :meth:`ReferenceHull.offline` (the one offline-hull implementation, also behind :meth:`ReferenceHull.embedded`), so their
   ``pmap`` cache entries are shared with notebook 05. Pruning to the pool's chemical systems changes no
   number: a phase diagram only uses entries inside its own system.
2. :func:`pool_stability` — per structure (pmap-able): CHGNet single point on the structure as given
   (:func:`sicnb.htvs.energy.single_point`, no rescaling: pool structures are DFT-relaxed), E_f and E_hull
   against the entries of its chemical system, the MEGNet band gap, and the stability window.
   The reference entries are a parameter, so a cache entry is valid exactly for the hull it used.
3. :func:`screen_pool` — groups the pool by chemical system, runs (2) through :func:`sicnb.parallel.pmap`
   (cached, resumable; failures become rows with the reason) and adds the paper's pass flags.

E_hull here is "energy above the hull of the known phases", the hull including the structure's own
entry when it is one of the reference phases (Materials Project convention), so E_hull ≥ 0 for
pool structures that are reference phases themselves. E_hull is rounded to 0.1 meV/atom so that phases on
the hull tie at 0 instead of being ordered by floating-point noise.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element, Structure

from sicnb.errors import DataUnavailableError, ModelUnavailableError, ParameterError, StructureError

__all__ = ["pool_reference_hull", "pool_stability", "screen_pool", "chemical_system", "POOL_COLUMNS"]

#: result columns of :func:`screen_pool` (besides ``error`` and the pmap provenance)
POOL_COLUMNS = (
    "formula", "chemical_system", "energy_ev_per_atom", "formation_energy_ev_per_atom", "e_hull_ev_per_atom", "band_gap_ev",
    "band_gap_model", "reduction_limit_v", "oxidation_limit_v", "window_v", "reduction_products", "oxidation_products",
    "n_reference_entries", "pass_stability", "pass_band_gap", "pass_oxidation", "pass_htvs",
)


def chemical_system(structure: Structure, mobile_ion: str = "Li") -> tuple[str, ...]:
    """Sorted element symbols of ``structure`` plus ``mobile_ion`` (the system its windows need)."""
    return tuple(sorted({el.symbol for el in structure.composition.element_composition.elements} | {mobile_ion}))


def pool_reference_hull(
    systems: Iterable[Iterable[str]],
    potential_name: str = "chgnet",
    max_sites: int = 60,
    use_mp: bool | None = None,
    cache_dir: Any = None,
    n_workers: int = 1,
    progress: bool = False,
):
    """One :class:`~sicnb.htvs.stability.ReferenceHull` covering every chemical system in ``systems``.

    ``use_mp``: Materials Project entries per system (default: when ``MP_API_KEY`` is set; falls back to
    the offline hull if a query fails). Offline (module docstring): embedded-pool Materials Project
    structures (≤ ``max_sites`` sites) inside at least one system, single points with ``potential_name``,
    plus elemental references relaxed with it. An element whose reference cannot be computed is left out
    (and named in ``source``); structures of its systems then fail with a reason.
    """
    from sicnb.htvs.stability import ReferenceHull, chemical_systems

    syss, _ = chemical_systems(systems)
    if use_mp is None:
        use_mp = bool(os.environ.get("MP_API_KEY"))
    if use_mp:
        try:
            entries: dict[str, Any] = {}
            for s in syss:
                for e in ReferenceHull.materials_project(sorted(s)).entries:
                    entries.setdefault(e.name, e)
            ents = list(entries.values())
            df = pd.DataFrame([{"id": e.name, "formula": e.composition.reduced_formula, "composition": e.composition.formula,
                                "energy_ev_per_atom": e.energy_per_atom, "origin": "Materials Project entry (MP2020)"} for e in ents])
            return ReferenceHull(ents, f"Materials Project entries (MP2020 corrections) for {len(syss)} chemical systems", df)
        except DataUnavailableError as exc:
            print(f"sicnb htvs: Materials Project hull unavailable ({exc}); using the offline hull", file=sys.stderr)
    return ReferenceHull.offline(syss, potential_name=potential_name, max_sites=max_sites, cache_dir=cache_dir,
                                 n_workers=n_workers, progress=progress)


def _system_reference(hull, system: Sequence[str]) -> list[list]:
    key = set(system)
    out = []
    for e in hull.entries:
        if {el.symbol for el in e.composition.elements} <= key:
            out.append([str(e.name), e.composition.formula, round(float(e.energy_per_atom), 8)])
    return sorted(out)


def pool_stability(
    structure: Structure,
    reference: Sequence[Sequence[Any]] = (),
    potential_name: str = "chgnet",
    band_gap_fidelity: str = "GLLB-SC",
    mobile_ion: str = "Li",
) -> dict[str, Any]:
    """Per structure: ML energy, E_f, E_hull, MEGNet band gap and stability window (for :func:`sicnb.parallel.pmap`).

    ``reference``: the competing phases of the structure's chemical system as ``[name, composition,
    energy_ev_per_atom]`` (from :func:`pool_reference_hull`; part of the cache key). The energy is a
    single point on the structure as given (``single_point(rescale=False)``). A missing band-gap model
    gives ``band_gap_ev`` NaN with the reason in ``band_gap_model``; the window is NaN when the phase is
    stable nowhere (see :func:`sicnb.htvs.stability_window`).
    """
    from pymatgen.analysis.phase_diagram import PDEntry

    from sicnb.htvs.energy import single_point
    from sicnb.htvs.properties import band_gap_megnet
    from sicnb.htvs.stability import ReferenceHull, formation_and_hull, stability_window

    if not structure.is_ordered:
        raise StructureError(f"{structure.composition.reduced_formula}: partial occupancies; the ML single point needs an ordered structure")
    structure = structure.copy()
    structure.remove_oxidation_states()
    comp = structure.composition
    if Element(mobile_ion) not in comp.elements:
        raise StructureError(f"{comp.reduced_formula} contains no {mobile_ion}; its window open to {mobile_ion} is undefined")
    if not reference:
        raise ParameterError("pool_stability needs the reference phases of the structure's chemical system (see screen_pool)")
    entries = [PDEntry(Composition(c), float(e) * Composition(c).num_atoms, name=str(n)) for n, c, e in reference]
    hull = ReferenceHull(entries, "given reference entries")
    t0 = time.perf_counter()
    sp = single_point(structure, potential_name=potential_name, rescale=False)
    e = float(sp["energy_ev_per_atom"])
    fh = formation_and_hull(comp, e, hull)
    try:
        bg = band_gap_megnet(structure, fidelity=band_gap_fidelity)
    except ModelUnavailableError as exc:
        bg = {"band_gap_ev": float("nan"), "band_gap_model": f"not available: {exc}"[:200]}
    w = stability_window(comp, hull, energy_ev_per_atom=e, mobile_ion=mobile_ion)
    return {
        "formula": comp.reduced_formula,
        "energy_ev_per_atom": e,
        **fh,
        "band_gap_ev": float(bg["band_gap_ev"]),
        "band_gap_model": bg["band_gap_model"],
        **{k: w[k] for k in ("reduction_limit_v", "oxidation_limit_v", "window_v", "reduction_products", "oxidation_products")},
        "n_reference_entries": len(entries),
        "potential": sp.get("potential", potential_name),
        "potential_model": sp.get("potential_model", ""),
        "seconds": time.perf_counter() - t0,
    }


pool_stability.cache_version = 1  # type: ignore[attr-defined]
pool_stability.allow_nan = True  # type: ignore[attr-defined]  # NaN band gap / window carry their reason in other columns


def screen_pool(
    structures: Any,
    potential_name: str = "chgnet",
    band_gap_fidelity: str = "GLLB-SC",
    mobile_ion: str = "Li",
    thresholds: Any = None,
    hull: Any = None,
    max_sites: int = 60,
    cache_dir: Any = None,
    n_workers: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Du & Wang's stability screens on every structure of a pool, one row per structure (indexed by id).

    ``structures``: a :class:`~sicnb.data.Dataset`, records or ``{id: Structure}``. ``thresholds``: a
    :class:`sicnb.htvs.Thresholds` (paper values by default: E_hull ≤ 0.2 and E_f ≤ 0.1 eV/atom, E_gap > 0.5 eV,
    φ_ox ≥ 4 V). ``hull``: a ready :class:`~sicnb.htvs.ReferenceHull` covering the pool's systems (default:
    :func:`pool_reference_hull`, whose reference energies go through ``pmap`` with ``n_workers``).
    The per-structure step runs in-process, one ``pmap`` call per chemical system (its cache key holds
    that system's reference entries).

    Columns: :data:`POOL_COLUMNS`, ``error`` ("" or the reason), ``method``/``params``/``sicnb_version``.
    Pass flags are NA where the number is missing (an error row has all flags NA and ``pass_htvs`` False).
    ``attrs``: ``hull`` (source text), ``thresholds``, ``seconds_hull``, ``seconds_screen``, ``n_cached``.
    """
    from sicnb.htvs.screen import Thresholds
    from sicnb.parallel import as_records, function_id, pmap

    th = thresholds or Thresholds()
    records = as_records(structures)
    if not records:
        raise ParameterError("screen_pool needs at least one structure")
    groups: dict[tuple[str, ...], list] = {}
    bad: dict[str, str] = {}
    for rec in records:
        if rec.structure is None:
            bad[rec.id] = f"InputError: record {rec.id} has no structure"
            continue
        groups.setdefault(chemical_system(rec.structure, mobile_ion), []).append(rec)
    t0 = time.perf_counter()
    if hull is None and groups:
        hull = pool_reference_hull(groups, potential_name=potential_name, max_sites=max_sites, cache_dir=cache_dir,
                                   n_workers=n_workers, progress=progress)
    t_hull = time.perf_counter() - t0
    parts, n_cached = [], 0
    for i, (system, recs) in enumerate(sorted(groups.items())):
        ref = _system_reference(hull, system)
        params = {"reference": ref, "potential_name": potential_name, "band_gap_fidelity": band_gap_fidelity, "mobile_ion": mobile_ion}
        tab = pmap(pool_stability, recs, params, cache_dir=cache_dir, n_workers=1, progress=False, nan_policy="allow")
        tab["chemical_system"] = "-".join(system)
        tab["params"] = f"reference: {len(ref)} entries of {'-'.join(system)}; potential_name={potential_name}; band_gap_fidelity={band_gap_fidelity}"
        n_cached += int(tab.attrs.get("n_cached", 0))
        parts.append(tab)
        if progress and (i + 1) % 50 == 0:
            print(f"sicnb htvs: {i + 1}/{len(groups)} chemical systems screened", file=sys.stderr)
    if bad:
        parts.append(pd.DataFrame({"error": pd.Series(bad)}).rename_axis("id"))
    table = pd.concat(parts) if parts else pd.DataFrame(columns=["error"])
    table = table.reindex([r.id for r in records])
    table["error"] = table["error"].fillna("").astype(str)
    ok = table["error"].eq("")

    def flag(cond: pd.Series, value: pd.Series) -> pd.Series:
        out = pd.Series(pd.array([pd.NA] * len(table), dtype="boolean"), index=table.index)
        have = ok & value.notna()
        out[have] = cond[have]
        return out

    for c in ("energy_ev_per_atom", "formation_energy_ev_per_atom", "e_hull_ev_per_atom", "band_gap_ev", "oxidation_limit_v",
              "reduction_limit_v", "window_v"):
        table[c] = (pd.to_numeric(table[c], errors="coerce") + 0.0) if c in table else np.nan  # + 0.0: no "-0.0 V"
    # phase-diagram arithmetic leaves ±1e-9 eV/atom noise on phases that are on the hull: round to 0.1 meV/atom so
    # they tie (a ranking by E_hull must not be decided by floating-point noise)
    table["e_hull_ev_per_atom"] = table["e_hull_ev_per_atom"].round(4) + 0.0
    eh, ef = table["e_hull_ev_per_atom"], table["formation_energy_ev_per_atom"]
    table["pass_stability"] = flag((eh <= th.e_hull_max_ev_per_atom) & (ef <= th.formation_energy_max_ev_per_atom), eh)
    table["pass_band_gap"] = flag(table["band_gap_ev"] > th.band_gap_min_ev, table["band_gap_ev"])
    # a phase stable at every potential has oxidation limit +inf: it passes; NaN (stable nowhere) fails
    ox = table["oxidation_limit_v"]
    table["pass_oxidation"] = flag(ox.fillna(-np.inf) >= th.oxidation_limit_min_v, eh)
    table["pass_htvs"] = (table["pass_stability"].fillna(False) & table["pass_band_gap"].fillna(False)
                          & table["pass_oxidation"].fillna(False)).astype(bool)
    table["method"] = function_id(pool_stability)
    front = [c for c in POOL_COLUMNS if c in table.columns]
    table = table[front + [c for c in table.columns if c not in front]]
    table.attrs.update({"hull": getattr(hull, "source", ""), "thresholds": asdict(th), "seconds_hull": t_hull,
                        "seconds_screen": time.perf_counter() - t0 - t_hull, "n_cached": n_cached,
                        "method": function_id(pool_stability), "n_systems": len(groups)})
    return table
