"""Built-in ledger adapters: thin wrappers over each method's public functions.

Topology and BVSE are declared once as :class:`sicnb.methods.Method`, the Ward clustering and the classifier as
:class:`sicnb.methods.TableMethod` (``sicnb/<pkg>/method.py``); their adapters are generated from the declaration. Each remaining ``_compute_*`` (table-level methods: a cascade,
a clustering, a trained ensemble, a pool hull) runs the method's per-structure function through :func:`sicnb.parallel.pmap`
with the same parameters as the method's own notebook/CLI default (so a warm cache is reused), then
its table-level step. Scores, in the method's units, and which way is better:

============  ======================  =====  ==========================================================
method        score                   dir.   meaning
============  ======================  =====  ==========================================================
topology      r_connected_angstrom     −1    Li-only connection radius, eq. 1 of the MTL paper
cluster       loo_cluster_log10_sigma  +1    mean log10 σ (S/cm) of the *other* labelled members of the
                                             structure's Ward cluster at the candidate depth
pes           Xi                       +1    Ξ of the PES paper (eq. 4) — cascade: top-N shortlist only
classify      p_si                     +1    P_SI of the shipped classifier ensemble (± std)
bvse          activation_energy_eV     −1    BVSE 1D percolation barrier (bvlain)
htvs          e_hull_ev_per_atom       −1    predicted E_hull (Du & Wang) + band-gap / window flags
============  ======================  =====  ==========================================================

The cluster score is leave-one-out on purpose: the method is semi-supervised (clusters are ranked
by the experimental labels they contain), so a structure's own label must not vote for it when
the ledger then checks how well the method finds the labelled conductors.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from sicnb.cluster.labels import leave_one_out_cluster_scores  # noqa: F401  (re-exported: the ledger's users found it here)
from sicnb.data import Dataset
from sicnb.ledger.core import MethodAdapter, adapter_from_method, register_method

__all__ = ["TOPOLOGY", "CLUSTER", "PES", "CLASSIFY", "BVSE", "HTVS", "leave_one_out_cluster_scores", "pes_shortlist", "cached_rows",
           "PES_NOTEBOOK_PARAMS"]


def _pmap_kw(run: Mapping[str, Any], desc: str) -> dict[str, Any]:
    return {"cache_dir": run.get("cache_dir"), "n_workers": run.get("n_workers", 1), "scheduler": run.get("scheduler"),
            "timeout": run.get("timeout"), "progress": run.get("progress", True), "desc": desc}


def cached_rows(func, dataset: Dataset, params: Mapping[str, Any], cache_dir: Any = None) -> pd.DataFrame:
    """Read ``func``'s results for ``dataset`` from the pmap cache without computing anything
    (:func:`sicnb.parallel.pmap` with ``cache_only=True``): items not in the cache get the error ``"NotCached: ..."``.
    For methods too expensive to run inside the ledger (a PES scan per structure)."""
    from sicnb.parallel import pmap

    df = pmap(func, dataset, dict(params), cache_dir=cache_dir, cache_only=True, progress=False)
    df.attrs["n_cached"] = int((~df["error"].str.startswith("NotCached")).sum())
    return df


# --- topology (notebook 01): declared in sicnb/topology/method.py ---------------------------------------

def _from_method(name: str) -> MethodAdapter:
    """The ledger adapter generated from the declaration of ``name`` (:class:`sicnb.methods.Method`), registered
    at this position of the built-in order."""
    from sicnb.errors import ParameterError
    from sicnb.methods import get

    try:
        method = get(name)
    except ParameterError as exc:  # its module did not import (an optional library is missing): listed as absent
        return register_method(MethodAdapter(name=name, title=name, score="score", direction=+1, compute=_not_loaded,
                                             unavailable=f"sicnb method {name!r} is not registered ({exc})"), replace=True)
    return register_method(adapter_from_method(method), replace=True)


def _not_loaded(dataset: Dataset, params: Mapping[str, Any], run: Mapping[str, Any]) -> pd.DataFrame:
    raise RuntimeError("unreachable: an unavailable adapter is never computed")


TOPOLOGY = _from_method("topology")


# --- semi-supervised Ward clustering (notebook 02): declared in sicnb/cluster/method.py (a TableMethod) --

CLUSTER = _from_method("cluster")


# --- PES descriptors (notebook 03): a cascade on a shortlist ----------------------------------------

#: parameters of :func:`sicnb.pes.pes_descriptors` exactly as notebook 03 passes them (its cache is reused)
PES_NOTEBOOK_PARAMS = {"potential": "m3gnet", "step": 0.25}
#: cascade settings (not parameters of pes_descriptors): shortlist size, cell-size cap, per-structure time limit,
#: and whether to compute at all (``cache_only``)
PES_CASCADE_KEYS = ("top", "max_atoms", "timeout_s", "cache_only")


def pes_shortlist(consensus: pd.Series, dataset: Dataset, top: int, max_atoms: int | None = None) -> pd.DataFrame:
    """Which structures the PES cascade scans: the ``top`` best by ``consensus`` (higher = better) among
    ordered-or-orderable structures with at most ``max_atoms`` sites.

    Returns one row per id: ``cascade_rank`` (rank in the consensus, 1 = best), ``n_sites`` and
    ``selection`` — ``"shortlist"``, ``"too large"`` (ranked inside the shortlist's reach but over
    ``max_atoms``: the next eligible structure takes its place), ``"outside shortlist"`` or ``"no consensus"``.
    Ties in the consensus are broken by id so the shortlist is reproducible.
    """
    if int(top) != top or top < 0:
        from sicnb.errors import ParameterError

        raise ParameterError(f"pes top={top!r}: the shortlist size must be a non-negative integer")
    structs = dataset.structures()
    cons = pd.to_numeric(consensus.reindex(list(structs)), errors="coerce")
    n_sites = pd.Series({i: len(s) for i, s in structs.items()}, dtype=float)
    rank = cons.rank(method="min", ascending=False)
    order = sorted(cons.dropna().index, key=lambda i: (-cons[i], i))
    sel = pd.Series("outside shortlist", index=cons.index, dtype=object)
    sel[cons.isna()] = "no consensus"
    taken = 0
    for i in order:
        if taken >= top:
            break
        if max_atoms is not None and n_sites[i] > max_atoms:
            sel[i] = "too large"
            continue
        sel[i] = "shortlist"
        taken += 1
    return pd.DataFrame({"cascade_rank": rank, "n_sites": n_sites.reindex(cons.index), "selection": sel})


def _compute_pes(dataset: Dataset, params: Mapping[str, Any], run: Mapping[str, Any]) -> pd.DataFrame:
    from sicnb import __version__
    from sicnb.parallel import _canonical, function_id, pmap
    from sicnb.pes import pes_descriptors

    p = {k: v for k, v in params.items() if k not in PES_CASCADE_KEYS}
    top, max_atoms = int(params.get("top", 10)), params.get("max_atoms")
    cache_only = bool(params.get("cache_only", False))
    ds = dataset.with_structures()
    # results already in the cache (notebook 03, sicnb pes, an earlier ledger): the cache key binds the parameters
    # to pes_descriptors' signature, so every spelling of the same parameters finds the same entries
    cached = cached_rows(pes_descriptors, ds, p, run.get("cache_dir"))
    cached = cached[~cached["error"].str.startswith("NotCached")]
    consensus = run.get("consensus")
    if consensus is None:
        consensus = pd.Series(np.nan, index=ds.ids)
    short = pes_shortlist(consensus, ds, top, max_atoms)
    todo = [i for i in short.index[short["selection"].eq("shortlist")] if i not in cached.index]
    parts = [cached]
    if todo and not cache_only:
        kw = _pmap_kw(run, "pes (cascade shortlist)")
        if params.get("timeout_s"):
            kw["timeout"] = float(params["timeout_s"])
        recs = [r for r in ds.records if r.id in set(todo)]
        parts.append(pmap(pes_descriptors, recs, p, **kw))
    tab = pd.concat([x for x in parts if len(x)]) if any(len(x) for x in parts) else pd.DataFrame(columns=["error"])
    tab = tab[~tab.index.duplicated()].reindex(short.index)
    tab["pes_selection"] = short["selection"]
    tab["cascade_rank"] = short["cascade_rank"]
    in_cache = tab.index.isin(cached.index)
    tab.loc[in_cache & tab["pes_selection"].ne("shortlist"), "pes_selection"] = "cache"
    err = tab["error"] if "error" in tab else pd.Series(np.nan, index=tab.index)
    missing = err.isna()
    why = {
        "outside shortlist": lambda r: (f"NotScored: outside the PES cascade shortlist (cheap-consensus rank {r.cascade_rank:.0f}; "
                                        f"the ledger scans the top {top}{'' if max_atoms is None else f' with ≤ {max_atoms} sites'}; "
                                        "raise pes top or run notebook 03 / sicnb pes to score it)"),
        "too large": lambda r: (f"NotScored: cheap-consensus rank {r.cascade_rank:.0f} is within the shortlist's reach but the cell has "
                                f"{r.n_sites:.0f} sites > max_atoms={max_atoms} (a scan grows with cell volume × atoms)"),
        "no consensus": lambda r: "NotScored: no consensus score from the whole-pool methods, so not ranked for the PES cascade",
        "shortlist": lambda r: ("NotScored: on the shortlist but cache_only=True" if cache_only else "not computed"),
    }
    info = short.join(tab[["pes_selection"]], rsuffix="_")
    for i in tab.index[missing]:
        tab.loc[i, "error"] = why.get(short.loc[i, "selection"], lambda r: "not computed")(info.loc[i])
    tab["error"] = tab["error"].fillna("").astype(str)
    tab["method"] = function_id(pes_descriptors) + " (cascade)"
    tab["params"] = _canonical({**p, "cascade": {"top": top, "max_atoms": max_atoms}})
    tab["sicnb_version"] = __version__
    tab.attrs.update({"method": function_id(pes_descriptors), "n_shortlist": int(short["selection"].eq("shortlist").sum()),
                      "n_cached": int(in_cache.sum()), "n_computed": len(todo) if not cache_only else 0})
    return tab


def _pes_model(params: Mapping[str, Any]) -> str:
    from sicnb.pes import DEFAULT_POTENTIAL

    return f"{params.get('potential') or DEFAULT_POTENTIAL}" + (f" ({params['model']})" if params.get("model") else "")


PES = register_method(MethodAdapter(
    name="pes", title="PES Ξ (cascade)", score="Xi", direction=+1, compute=_compute_pes,
    requires=("sicnb.pes:pes_descriptors",), extra=("MPE", "FV_connected_0.5", "pes_selection", "cascade_rank", "seconds"),
    defaults={**PES_NOTEBOOK_PARAMS, "top": 10, "max_atoms": 24, "timeout_s": 600.0, "cache_only": False}, model=_pes_model,
    stage=1, in_consensus=False, coverage="cascade shortlist",
    description="Ξ (eq. 4 of the PES paper) from frozen-framework ML-potential scans; MPE in eV. A cascade: scanned for the "
                "top `top` structures of the consensus of the whole-pool methods (≤ max_atoms sites) plus any cached result, "
                "so it is kept out of the consensus and its enrichment is computed only within its scored subset",
))


# --- classifier P_SI (notebook 04): declared in sicnb/classify/method.py (a TableMethod) ------------------

CLASSIFY = _from_method("classify")


# --- BVSE (notebook 02, App. A.2): declared in sicnb/bvse/method.py ----------------------------------

BVSE = _from_method("bvse")


# --- HTVS stability screens (notebook 05, Du & Wang) ----------------------------------------------

def _compute_htvs(dataset: Dataset, params: Mapping[str, Any], run: Mapping[str, Any]) -> pd.DataFrame:
    from sicnb.htvs.pool import screen_pool
    from sicnb.htvs.screen import Thresholds

    p = dict(params)
    th = Thresholds(**dict(p.pop("thresholds", None) or {}))
    tab = screen_pool(dataset.with_structures(), thresholds=th, cache_dir=run.get("cache_dir"), n_workers=run.get("n_workers", 1),
                      progress=run.get("progress", True), **p)
    tab["hull_source"] = tab.attrs.get("hull", "")
    return tab


HTVS = register_method(MethodAdapter(
    name="htvs", title="HTVS stability (E_hull)", score="e_hull_ev_per_atom", direction=-1, compute=_compute_htvs,
    requires=("sicnb.htvs.pool:screen_pool",),
    pass_flags=("pass_stability", "pass_band_gap", "pass_oxidation", "pass_htvs"),
    extra=("energy_ev_per_atom", "formation_energy_ev_per_atom", "band_gap_ev", "reduction_limit_v", "oxidation_limit_v",
           "window_v", "reduction_products", "oxidation_products", "n_reference_entries", "hull_source"),
    defaults={"potential_name": "chgnet", "band_gap_fidelity": "GLLB-SC", "mobile_ion": "Li", "max_sites": 60},
    model=lambda p: (f"{p.get('potential_name', 'chgnet')} single points + reference hull (MP entries with MP_API_KEY, else embedded-pool "
                     f"MP structures with the same potential); MEGNet-MP-2019.4.1-BandGap-mfi ({p.get('band_gap_fidelity', 'GLLB-SC')})"),
    description="predicted E_hull (eV/atom; lower = more stable, a stability screen, not a conductivity score) with Du & Wang's "
                "pass flags: E_hull ≤ 0.2 and E_f ≤ 0.1 eV/atom, band gap > 0.5 eV, oxidation limit ≥ 4 V vs Li/Li⁺",
))

