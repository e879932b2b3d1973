"""Ordered vs linear-combination representation of disorder (McHaffie et al. 2025, §2.2, Fig. 2).

The paper's comparison set: the Li ions are removed, the remaining (non-Li) disorder is ordered with
pymatgen's ``OrderDisorderedStructureTransformation`` and the configuration of lowest Ewald energy is
kept; AtomSets models trained on these ordered frameworks are compared under k-fold CV with models
trained on the same frameworks represented by occupancy-weighted embeddings (the CAN representation).

Ordering needs a cell in which every disordered orbit holds an integer number of each species.
:func:`order_framework` looks for the smallest supercell (multiplier ``m`` along the shortest lattice
vector, ``m ≤ max_multiplier``, at most ``max_sites`` sites) where the occupancies round to integers
within ``occ_tol`` per orbit, and refuses structures whose number of configurations exceeds
``max_configurations`` — this is the "where affordable" limit; refused structures are reported, not
silently dropped.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from sicnb.errors import StructureError

__all__ = ["ordering_plan", "order_framework", "ordered_vs_disordered"]


def _orbits(structure: Structure) -> list[list[int]]:
    """Disordered sites grouped by identical species/occupancy (as the pymatgen transformation does
    with ``symmetrized_structures=False``)."""
    groups: list[list[int]] = []
    for i, site in enumerate(structure):
        if site.is_ordered:
            continue
        for g in groups:
            if structure[g[0]].species.almost_equals(site.species):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def _n_configurations(structure: Structure, groups: list[list[int]], m: int) -> float:
    """Multinomial count of decorations of every orbit (vacancies included) in an ``m``-fold supercell."""
    total = 1.0
    for g in groups:
        n = len(g) * m
        counts = [round(x * n) for x in structure[g[0]].species.values()]
        counts.append(max(0, n - sum(counts)))
        c = math.factorial(n)
        for k in counts:
            c //= math.factorial(k)
        total *= c
    return float(total)


def _framework(structure: Structure, mobile_ion: str) -> Structure:
    keep = [i for i, site in enumerate(structure)
            if any(getattr(sp, "symbol", str(sp)) != mobile_ion for sp in site.species)]
    species = [{sp: x for sp, x in structure[i].species.items() if getattr(sp, "symbol", str(sp)) != mobile_ion}
               for i in keep]
    if not keep:
        raise StructureError(f"{structure.composition.reduced_formula}: removing {mobile_ion} leaves no atoms; "
                             "there is no framework to order")
    return Structure(structure.lattice, species, structure.frac_coords[keep])


def ordering_plan(structure: Structure, mobile_ion: str = "Li", max_multiplier: int = 4, max_sites: int = 96,
                  occ_tol: float = 0.1) -> dict:
    """What ordering the Li-free framework would take, without ordering it (cheap): ``was_disordered``,
    the smallest supercell ``multiplier`` (NaN when none up to the limits works), ``n_sites`` of that cell and
    ``n_configurations`` (multinomial count of orbit decorations, vacancies included)."""
    fw = _framework(structure, mobile_ion)
    if fw.is_ordered:
        return {"was_disordered": False, "multiplier": 1, "n_sites": len(fw), "n_configurations": 1.0}
    groups = _orbits(fw)
    for m in range(1, int(max_multiplier) + 1):
        if len(fw) * m > max_sites:
            break
        amounts = [x * len(g) * m for g in groups for x in fw[g[0]].species.values()]
        amounts += [(1 - fw[g[0]].species.num_atoms) * len(g) * m for g in groups]
        if max(abs(a - round(a)) for a in amounts) <= occ_tol:
            return {"was_disordered": True, "multiplier": m, "n_sites": len(fw) * m,
                    "n_configurations": _n_configurations(fw, groups, m)}
    return {"was_disordered": True, "multiplier": float("nan"), "n_sites": len(fw), "n_configurations": float("nan")}


ordering_plan.cache_version = 1  # type: ignore[attr-defined]


def order_framework(structure: Structure, mobile_ion: str = "Li", max_multiplier: int = 4, max_sites: int = 96,
                    occ_tol: float = 0.1, max_configurations: float = 2e5) -> dict:
    """Lowest-Ewald ordering of the non-``mobile_ion`` disorder of ``structure`` with the mobile ion removed
    (§2.2, Fig. 2a "ordered"; pymatgen ``OrderDisorderedStructureTransformation``, oxidation states from
    :func:`sicnb.structure.assign_oxidation_states` of the full structure).

    Returns ``{"ordered": Structure.as_dict() of the ordered framework (no oxidation states),
    "multiplier", "n_sites", "n_configurations", "ewald_ev", "was_disordered", "max_occupancy_change",
    "oxidation_method"}`` (``ewald_ev`` of the ordered, oxidation-decorated framework with a neutralising background).
    An already ordered framework is returned as is (``multiplier`` 1, ``n_configurations`` 1).
    Raises :class:`StructureError` when no supercell up to ``max_multiplier``/``max_sites`` makes the
    occupancies integer within ``occ_tol``, or the orbit decorations exceed ``max_configurations``.
    """
    import warnings

    from pymatgen.transformations.standard_transformations import OrderDisorderedStructureTransformation

    from sicnb.structure import assign_oxidation_states

    formula = structure.composition.reduced_formula
    plan = ordering_plan(structure, mobile_ion, max_multiplier, max_sites, occ_tol)
    if not plan["was_disordered"]:
        plain = _framework(structure, mobile_ion)
        plain.remove_oxidation_states()
        return {"ordered": plain.as_dict(), "multiplier": 1, "n_sites": len(plain), "n_configurations": 1.0,
                "ewald_ev": float("nan"), "was_disordered": False, "max_occupancy_change": 0.0,
                "oxidation_method": ""}
    if not np.isfinite(plan["multiplier"]):
        raise StructureError(
            f"{formula}: the non-{mobile_ion} occupancies are not integer (within {occ_tol}) in any supercell up to "
            f"{max_multiplier}x / {max_sites} sites; raise max_multiplier/max_sites (cost grows combinatorially) "
            "or keep the linear-combination representation for this structure."
        )
    chosen, n_conf = int(plan["multiplier"]), plan["n_configurations"]
    if n_conf > max_configurations:
        raise StructureError(
            f"{formula}: {n_conf:.3g} decorations of the disordered orbits in the {chosen}x cell exceed "
            f"max_configurations={max_configurations:.3g}; raise it to order this structure (slow) or skip it."
        )
    decorated, oxi_method = assign_oxidation_states(structure)
    fw = _framework(decorated, mobile_ion)
    sup = fw.copy()
    if chosen > 1:
        scale = [1, 1, 1]
        scale[int(np.argmin(fw.lattice.abc))] = chosen
        sup.make_supercell(scale)
    trans = OrderDisorderedStructureTransformation(algo=OrderDisorderedStructureTransformation.ALGO_FAST, occ_tol=occ_tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ranked = trans.apply_transformation(sup, return_ranked_list=1)
        except Exception as exc:  # noqa: BLE001 - pymatgen raises plain ValueErrors here
            raise StructureError(f"{formula}: pymatgen could not order the framework ({exc})") from exc
    best = ranked[0]
    from pymatgen.analysis.ewald import EwaldSummation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Li-free framework is charged; pymatgen adds a neutralising background
        ewald = EwaldSummation(best["structure"]).total_energy
    ordered = best["structure"].copy()
    ordered.remove_oxidation_states()
    target = {el.symbol: x for el, x in sup.composition.element_composition.items()}
    got = {el.symbol: x for el, x in ordered.composition.element_composition.items()}
    change = max(abs(target.get(k, 0) - got.get(k, 0)) / max(target.get(k, 0), 1e-12) for k in set(target) | set(got))
    return {"ordered": ordered.as_dict(), "multiplier": int(chosen), "n_sites": len(ordered),
            "n_configurations": float(n_conf), "ewald_ev": float(ewald), "was_disordered": True,
            "max_occupancy_change": float(change), "oxidation_method": oxi_method}


order_framework.cache_version = 2  # type: ignore[attr-defined]


def ordered_vs_disordered(records, y: pd.Series, splits_fn=None, level: int = 0, model_params: dict | None = None,
                          order_params: dict | None = None, n_splits: int = 5, n_workers: int = 1,
                          cache_dir: Any = None, progress: bool = False, random_state: int = 0,
                          ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Fig. 2 on open data: k-fold CV of AtomSets on the Li-free frameworks represented (a) by
    occupancy-weighted embeddings ("linear combination", CAN-V``level``) and (b) by their lowest-Ewald
    ordering, on the structures where the ordering was affordable, with identical splits and models.

    ``y`` is indexed by record id. Returns the per-split CV table (``features`` = ``"linear combination"`` /
    ``"ordered (lowest Ewald)"``, plus shuffled/mean controls); ``attrs`` holds the ordering table
    (``ordering``: id, was_disordered, multiplier, n_configurations, error) and the counts used.
    """
    from sicnb.classify.atomsets import AtomSetsClassifier
    from sicnb.classify.ensemble import featurize
    from sicnb.classify.features import atom_features
    from sicnb.classify.validation import cross_validate, kfold_splits
    from sicnb.parallel import as_records, pmap

    recs = as_records(records)
    if ids is not None:
        wanted = set(ids)
        recs = [r for r in recs if r.id in wanted]
    orders = pmap(order_framework, recs, dict(order_params or {}), cache_dir=cache_dir, n_workers=n_workers,
                  progress=progress, desc="ordering")
    ok = [rid for rid in orders.index if not orders.loc[rid, "error"] and rid in y.index]
    ordered = {rid: Structure.from_dict(orders.loc[rid, "ordered"]) for rid in ok}
    fs_ord = pmap(atom_features, ordered, {"level": int(level), "representation": "CAMN"}, cache_dir=cache_dir,
                  n_workers=n_workers, progress=progress, desc=f"V{level} ordered")
    fs_dis = featurize([r for r in recs if r.id in set(ok)], level=level, representation="CAN",
                       n_workers=n_workers, cache_dir=cache_dir, progress=progress)
    both = [rid for rid in ok if rid in fs_dis.matrices and not fs_ord.loc[rid, "error"]]
    X_dis = fs_dis.X(both)
    X_ord = [np.asarray(fs_ord.loc[rid, "features"], dtype=np.float32) for rid in both]
    yy = y.loc[both].to_numpy().astype(int)
    splits = splits_fn(len(both)) if splits_fn is not None else kfold_splits(len(both), n_splits, random_state=random_state)
    params = {**(model_params or {}), "random_state": random_state}
    tabs = []
    for name, X, ctrl in (("linear combination", X_dis, True), ("ordered (lowest Ewald)", X_ord, False)):
        cv = cross_validate(X, yy, lambda: AtomSetsClassifier(**params), splits, random_state=random_state,
                            controls=ctrl, label="AtomSets")
        cv.insert(0, "features", [name if m == "AtomSets" else "controls" for m in cv["model"]])
        tabs.append(cv)
    out = pd.concat(tabs, ignore_index=True)
    table = orders.drop(columns=[c for c in ("ordered", "params", "method", "sicnb_version") if c in orders])
    out.attrs.update({
        "ordering": table, "n_used": len(both), "n_ordered_by_transformation": int(table.loc[both, "was_disordered"].sum()),
        "n_refused": int((orders["error"] != "").sum()), "n_total": len(recs), "level": int(level),
        "positive_fraction": float(yy.mean()) if len(yy) else float("nan"),
    })
    return out
