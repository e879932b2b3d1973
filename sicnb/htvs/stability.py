"""Thermodynamic and electrochemical stability from phase diagrams (pymatgen).

* :class:`ReferenceHull` — the competing phases. With ``MP_API_KEY``: Materials Project entries
  (MP2020-corrected). Without: real Materials Project structures from the embedded pool (4,764 relaxed
  structures of ``matbench_dielectric``) with energies from the ML potential, plus elemental references
  relaxed with the same potential (:func:`sicnb.htvs.energy.element_structure`). ``source`` says which.
* E_f and E_hull (paper Fig. 2; E_f = E − Σ x_i μ_i, E_hull = vertical distance to the convex hull).
* :func:`stability_window` — reductive/oxidative limits from grand-potential phase diagrams open to Li
  (paper Fig. 4, after Ong et al. 2008 / Zhu, He & Mo 2015): the phase is stable for μ_Li in
  [μ_low, μ_high]; φ = −(μ_Li − μ_Li⁰)/e, so φ_red = −(μ_high − μ⁰), φ_ox = −(μ_low − μ⁰) (V vs Li/Li⁺).
  A candidate predicted above the hull is first lowered onto it (the paper's assumption that a predicted
  formula is the ground state); its E_hull is reported separately.
"""
from __future__ import annotations

import gzip
import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from pymatgen.analysis.phase_diagram import GrandPotentialPhaseDiagram, PDEntry, PhaseDiagram
from pymatgen.core import Composition, Element, Structure

from sicnb.errors import DataUnavailableError, ParameterError

__all__ = ["ReferenceHull", "stability_window", "decomposition_energy_profile", "formation_and_hull", "hull_points", "DFT_WINDOWS_ZHU2015"]

#: DFT (Materials Project) stability windows, V vs Li/Li⁺: Zhu, He & Mo, ACS Appl. Mater. Interfaces 7, 23685 (2015), Table 1
DFT_WINDOWS_ZHU2015 = {"Li2O": (0.00, 2.91), "Li3PO4": (0.69, 4.21), "Li2S": (0.00, 2.01), "LiF": (0.00, 6.37)}


@dataclass
class ReferenceHull:
    """Competing phases as pymatgen ``PDEntry`` s (energies in eV per formula as written), with provenance."""

    entries: list[PDEntry]
    source: str  #: human-readable statement of where the entries and energies come from
    table: pd.DataFrame = field(default_factory=pd.DataFrame)  #: one row per entry: id, formula, energy, origin
    _pds: dict = field(default_factory=dict, repr=False)

    @property
    def elements(self) -> set[str]:
        return {el.symbol for e in self.entries for el in e.composition.elements}

    def phase_diagram(self, elements: Iterable[str]) -> PhaseDiagram:
        """Phase diagram of the sub-system spanned by ``elements`` (cached)."""
        key = frozenset(elements)
        if key not in self._pds:
            sub = [e for e in self.entries if {el.symbol for el in e.composition.elements} <= key]
            missing = key - {e.composition.elements[0].symbol for e in sub if len(e.composition.elements) == 1}
            if missing:
                raise DataUnavailableError(
                    f"no elemental reference for {sorted(missing)} in the reference hull ({self.source}); "
                    "build the hull with these elements (ReferenceHull.embedded(elements=...)) or set MP_API_KEY"
                )
            self._pds[key] = PhaseDiagram(sub)
        return self._pds[key]

    @classmethod
    def embedded(cls, elements: Sequence[str], potential_name: str = "chgnet", **kwargs: Any) -> "ReferenceHull":
        """Offline hull of one chemical system: :meth:`offline` with ``systems=[elements]`` (same keywords:
        ``max_sites``, ``cache_dir``, ``n_workers``, ``progress``)."""
        return cls.offline([elements], potential_name=potential_name, **kwargs)

    @classmethod
    def offline(
        cls,
        systems: Iterable[Iterable[str]],
        potential_name: str = "chgnet",
        max_sites: int = 60,
        cache_dir: Any = None,
        n_workers: int = 1,
        progress: bool = False,
    ) -> "ReferenceHull":
        """Offline hull covering every chemical system in ``systems`` (no Materials Project API).

        Every embedded-pool Materials Project structure (≤ ``max_sites`` sites) inside at least one system,
        with a single point of ``potential_name`` on its DFT-relaxed structure, plus an elemental reference
        per element (sorted), relaxed with the same potential; all through :func:`sicnb.parallel.pmap`
        (cached). A compound whose single point fails is left out; an element whose reference cannot be
        computed is left out and named in ``source`` (phase diagrams that need it then raise
        :class:`~sicnb.errors.DataUnavailableError` saying so). Pruning to the systems changes no number:
        a phase diagram only uses entries inside its own system.
        """
        from sicnb.htvs.energy import element_structure, potential, relax_structure, single_point
        from sicnb.parallel import pmap

        syss, els = chemical_systems(systems)
        compounds = _embedded_compounds(syss, max_sites)
        rows = []
        if compounds:
            res = pmap(single_point, compounds, {"potential_name": potential_name, "rescale": False}, cache_dir=cache_dir,
                       n_workers=n_workers, progress=progress, desc="reference phases")
            for rid, r in res.iterrows():
                if r["error"]:
                    continue
                s = compounds[rid]
                rows.append({"id": rid, "formula": s.composition.reduced_formula, "composition": s.composition.formula,
                             "energy_ev_per_atom": float(r["energy_ev_per_atom"]),
                             "origin": "Materials Project structure (embedded pool), ML single point"})
        starts, origin = {}, {}
        for el in els:
            s, how = element_structure(el)
            starts[f"element:{el}"] = s
            origin[f"element:{el}"] = how
        molecules = {k for k, v in origin.items() if "molecule" in v}
        failed = []
        for relax_cell, ids in ((True, [k for k in starts if k not in molecules]), (False, sorted(molecules))):
            if not ids:
                continue
            res = pmap(relax_structure, {k: starts[k] for k in ids}, {"potential_name": potential_name, "relax_cell": relax_cell, "max_steps": 200},
                       cache_dir=cache_dir, n_workers=n_workers, progress=progress, desc="elemental references")
            for rid, r in res.iterrows():
                if r["error"]:
                    failed.append(f"{rid.split(':')[1]} ({r['error'][:80]})")
                    continue
                rows.append({"id": rid, "formula": rid.split(":")[1], "composition": starts[rid].composition.formula,
                             "energy_ev_per_atom": float(r["energy_ev_per_atom"]), "origin": origin[rid] + ", ML relaxation"})
        df = pd.DataFrame(rows)
        ents = [PDEntry(Composition(r.composition), r.energy_ev_per_atom * Composition(r.composition).num_atoms, name=r.id)
                for r in df.itertuples()]
        prov = potential(potential_name).provenance
        n_el = int(df["id"].str.startswith("element:").sum()) if len(df) else 0
        src = (f"offline hull: {len(df) - n_el} real Materials Project structures from the embedded pool (≤ {max_sites} sites, inside the "
               f"{len(syss)} chemical systems of the pool) and {n_el} elemental references, all energies from {prov['potential']} "
               f"{prov['potential_model']} (no MP_API_KEY)" + (f"; no elemental reference for {', '.join(failed)}" if failed else ""))
        return cls(ents, src, df)

    @classmethod
    def materials_project(cls, elements: Sequence[str], api_key: str | None = None) -> "ReferenceHull":
        """Materials Project entries of the chemical system (MP2020-corrected energies; needs ``MP_API_KEY``)."""
        from sicnb.data import mp_entries

        entries = mp_entries("-".join(sorted(set(elements))), api_key=api_key)
        pd_entries = [PDEntry(e.composition, e.energy, name=str(getattr(e, "entry_id", e.composition.reduced_formula))) for e in entries]
        df = pd.DataFrame([{"id": e.name, "formula": e.composition.reduced_formula, "composition": e.composition.formula, "energy_ev_per_atom": e.energy_per_atom, "origin": "Materials Project entry (MP2020)"} for e in pd_entries])
        return cls(pd_entries, f"Materials Project entries for {'-'.join(sorted(set(elements)))} (MP2020 corrections)", df)

    @classmethod
    def auto(cls, elements: Sequence[str], potential_name: str = "chgnet", **kwargs) -> "ReferenceHull":
        """Materials Project when ``MP_API_KEY`` is set, otherwise :meth:`embedded`.

        When the Materials Project query fails, the fallback hull says so: its ``source`` (and a warning)
        carries the error, so a table built on it never passes for MP2020 energies."""
        if os.environ.get("MP_API_KEY"):
            try:
                return cls.materials_project(elements)
            except DataUnavailableError as exc:
                reason = f"Materials Project hull unavailable ({type(exc).__name__}: {exc})"
                warnings.warn(f"{reason}; using the offline embedded hull instead", stacklevel=2)
                hull = cls.embedded(elements, potential_name=potential_name, **kwargs)
                hull.source = f"{hull.source} [fallback: {reason}]"
                return hull
        return cls.embedded(elements, potential_name=potential_name, **kwargs)



def chemical_systems(systems: Iterable[Iterable[str]]) -> tuple[list[frozenset[str]], list[str]]:
    """Distinct chemical systems (smallest first, then alphabetical) and their sorted elements; unknown symbols refused."""
    syss = sorted({frozenset(s) for s in systems}, key=lambda s: (len(s), sorted(s)))
    if not syss:
        raise ParameterError("a reference hull needs at least one chemical system")
    els = sorted(set().union(*syss))
    bad = [e for e in els if not Element.is_valid_symbol(e)]
    if bad:
        raise ParameterError(f"unknown element symbols {bad} in the chemical systems of the reference hull")
    return syss, els


def _embedded_compounds(systems: Iterable[frozenset[str]], max_sites: int) -> dict[str, Structure]:
    """Embedded-pool (matbench_dielectric) Materials Project structures with ≤ ``max_sites`` sites inside one of ``systems``."""
    from sicnb.data.embedded import matbench_dielectric_path

    systems = list(systems)
    with gzip.open(matbench_dielectric_path(), "rt") as fh:
        table = json.load(fh)
    out: dict[str, Structure] = {}
    for key, d in table["structure"].items():
        if len(d["sites"]) > max_sites:
            continue
        sp = frozenset(s["element"] for site in d["sites"] for s in site["species"])
        if len(sp) > 1 and any(sp <= s for s in systems):
            out[f"mbdiel-{int(key):04d}"] = Structure.from_dict(d)
    return out


def formation_and_hull(composition: Composition | str, energy_ev_per_atom: float, hull: ReferenceHull) -> dict[str, float]:
    """E_f (eV/atom, vs the hull's elemental references) and E_hull (eV/atom; negative = below the hull)."""
    comp = Composition(composition).element_composition  # oxidation-state-decorated inputs (Li+, O2-) count as elements
    pdg = hull.phase_diagram(el.symbol for el in comp.elements)
    entry = PDEntry(comp, energy_ev_per_atom * comp.num_atoms, name="candidate")
    ef = float(pdg.get_form_energy_per_atom(entry))
    _, eh = pdg.get_decomp_and_e_above_hull(entry, allow_negative=True, check_stable=False)
    return {"formation_energy_ev_per_atom": ef, "e_hull_ev_per_atom": float(eh)}


def _on_hull_entries(comp: Composition, energy_ev_per_atom: float | None, hull: ReferenceHull, mobile_ion: str):
    els = {el.symbol for el in comp.elements} | {mobile_ion}
    pdg = hull.phase_diagram(els)
    base = [e for e in pdg.all_entries if e.composition.reduced_composition != comp.reduced_composition]
    if energy_ev_per_atom is None:  # a phase already in the hull: take its lowest-energy polymorph
        same = [e for e in pdg.all_entries if e.composition.reduced_composition == comp.reduced_composition]
        if not same:
            raise ParameterError(f"{comp.reduced_formula} is not among the hull entries; pass its energy_ev_per_atom")
        energy_ev_per_atom = min(e.energy_per_atom for e in same)
    pd0 = PhaseDiagram(base)
    cand = PDEntry(comp, energy_ev_per_atom * comp.num_atoms, name="candidate")
    _, eh = pd0.get_decomp_and_e_above_hull(cand, allow_negative=True, check_stable=False)
    shift = max(float(eh), 0.0) + 1e-4  # put it (just) on the hull
    cand = PDEntry(comp, (energy_ev_per_atom - shift) * comp.num_atoms, name="candidate")
    return base, cand, float(eh)


def _stable_at(base, cand, mobile_ion: str, mu: float) -> tuple[bool, list[str]]:
    gpd = GrandPotentialPhaseDiagram([*base, cand], {Element(mobile_ion): mu})
    comp = Composition({el: amt for el, amt in cand.composition.items() if el.symbol != mobile_ion})
    if comp.num_atoms == 0:
        return False, []
    decomp = gpd.get_decomposition(comp)
    names = sorted({e.original_entry.composition.reduced_formula for e in decomp})
    stable = any(e.original_entry.name == "candidate" and amt > 1 - 1e-6 for e, amt in decomp.items())
    return stable, names


def stability_window(
    composition: Composition | str,
    hull: ReferenceHull,
    energy_ev_per_atom: float | None = None,
    mobile_ion: str = "Li",
) -> dict[str, Any]:
    """Electrochemical stability window (V vs Li/Li⁺) from grand-potential phase diagrams open to ``mobile_ion``.

    Returns ``reduction_limit_v``, ``oxidation_limit_v`` (NaN when never stable), ``window_v``, the
    ``reduction_products``/``oxidation_products`` just outside the window and ``e_hull_before_shift_ev_per_atom``.
    Paper screen: oxidation limit ≥ 4 V (Fig. 4b); window ranked at the end (Fig. 5).
    """
    comp = Composition(composition).element_composition  # oxidation-state-decorated inputs (Li+, O2-) count as elements
    if Element(mobile_ion) not in comp.elements:
        raise ParameterError(f"{comp.reduced_formula} contains no {mobile_ion}; a window open to {mobile_ion} needs it")
    base, cand, eh = _on_hull_entries(comp, energy_ev_per_atom, hull, mobile_ion)
    pdg = PhaseDiagram([*base, cand])
    mu0 = pdg.el_refs[Element(mobile_ion)].energy_per_atom
    crit = sorted({float(c) for c in pdg.get_transition_chempots(Element(mobile_ion))} | {mu0})
    lo_all = crit[0] - 10.0
    edges = [lo_all, *crit]
    stable_intervals = []
    for a, b in zip(edges[:-1], edges[1:]):
        if b - a < 1e-6:
            continue
        ok, _ = _stable_at(base, cand, mobile_ion, 0.5 * (a + b))
        if ok:
            stable_intervals.append((a, b))
    out: dict[str, Any] = {"e_hull_before_shift_ev_per_atom": eh, "mu_li_ref_ev": mu0}
    if not stable_intervals:
        out.update(reduction_limit_v=np.nan, oxidation_limit_v=np.nan, window_v=0.0, reduction_products="", oxidation_products="")
        return out
    mu_low, mu_high = stable_intervals[0][0], stable_intervals[-1][1]
    phi_red = max(-(mu_high - mu0), 0.0)
    phi_ox = -(mu_low - mu0)
    red_prod = _stable_at(base, cand, mobile_ion, mu_high + 1e-3)[1] if mu_high < mu0 - 1e-6 else [mobile_ion]
    ox_prod = _stable_at(base, cand, mobile_ion, mu_low - 1e-3)[1] if mu_low > lo_all + 1e-6 else []
    out.update(
        reduction_limit_v=phi_red,
        oxidation_limit_v=phi_ox if mu_low > lo_all + 1e-6 else np.inf,
        window_v=(phi_ox - phi_red) if mu_low > lo_all + 1e-6 else np.inf,
        reduction_products=", ".join(p for p in red_prod if p != comp.reduced_formula),
        oxidation_products=", ".join(p for p in ox_prod if p != comp.reduced_formula),
    )
    return out


def decomposition_energy_profile(
    composition: Composition | str,
    hull: ReferenceHull,
    energy_ev_per_atom: float | None = None,
    mobile_ion: str = "Li",
    potentials_v: Sequence[float] = tuple(np.linspace(0.0, 6.0, 61)),
) -> pd.DataFrame:
    """Decomposition energy (eV per non-Li atom) vs potential φ (V vs Li/Li⁺), paper Fig. 4a.

    ΔE_D(φ) = min(0, Φ_hull-without-candidate − Φ_candidate) in the grand potential open to Li at
    μ_Li = μ⁰ − eφ: 0 inside the stability window, negative where the phase decomposes.
    """
    comp = Composition(composition).element_composition  # oxidation-state-decorated inputs (Li+, O2-) count as elements
    base, cand, _ = _on_hull_entries(comp, energy_ev_per_atom, hull, mobile_ion)
    mu0 = PhaseDiagram(base).el_refs[Element(mobile_ion)].energy_per_atom
    rows = []
    from pymatgen.analysis.phase_diagram import GrandPotPDEntry

    for phi in potentials_v:
        mu = mu0 - float(phi)
        gpd = GrandPotentialPhaseDiagram(base, {Element(mobile_ion): mu})
        g_cand = GrandPotPDEntry(cand, {Element(mobile_ion): mu})
        decomp, e_above = gpd.get_decomp_and_e_above_hull(g_cand, allow_negative=True, check_stable=False)
        de = min(0.0, -float(e_above))
        products = ", ".join(sorted({e.original_entry.composition.reduced_formula for e in decomp})) if de < 0 else "(stable)"
        rows.append({"potential_v": float(phi), "decomposition_energy_ev_per_atom": de, "products": products})
    df = pd.DataFrame(rows)
    df.attrs.update({"formula": comp.reduced_formula, "mobile_ion": mobile_ion})
    return df


def hull_points(hull: ReferenceHull, elements: Sequence[str], candidates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Points of the ``elements`` phase diagram (paper Fig. 2): reference phases and predicted candidates.

    ``candidates``: rows with ``formula`` and ``energy_ev_per_atom`` (e.g. the composition table) inside the
    system. Returns ``formula``, ``kind`` (reference/candidate), one fraction column per element,
    ``formation_energy_ev_per_atom``, ``e_hull_ev_per_atom`` (against the reference hull) and ``stable``.
    """
    els = list(elements)
    pdg = hull.phase_diagram(els)
    rows = []
    for e in pdg.all_entries:
        c = e.composition.fractional_composition
        rows.append({"formula": e.composition.reduced_formula, "kind": "reference", **{el: float(c[el]) for el in els},
                     "formation_energy_ev_per_atom": float(pdg.get_form_energy_per_atom(e)), "e_hull_ev_per_atom": float(pdg.get_e_above_hull(e))})
    if candidates is not None and len(candidates):
        for r in candidates.itertuples():
            comp = Composition(r.formula)
            if not {el.symbol for el in comp.elements} <= set(els) or not np.isfinite(getattr(r, "energy_ev_per_atom", np.nan)):
                continue
            fh = formation_and_hull(comp, float(r.energy_ev_per_atom), hull)
            c = comp.fractional_composition
            rows.append({"formula": comp.reduced_formula, "kind": "candidate", **{el: float(c[el]) for el in els}, **fh})
    df = pd.DataFrame(rows)
    df["stable"] = df["e_hull_ev_per_atom"] <= 1e-8
    df.attrs.update({"elements": els, "hull": hull.source})
    return df
