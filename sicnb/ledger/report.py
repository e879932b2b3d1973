"""Per-structure report cards: everything the ledger knows about one candidate, as numbers.

:func:`report_card` gathers a structure's row of the ledger (every method's score, percentile,
pass flags, uncertainty and error), its label, its consensus rank and — computed on demand for
this one structure — the Li-only persistence barcode of its first symmetry-distinct mobile site, and
the arrays of its PES level map (:mod:`sicnb.ledger.levelgrid`) when a scan with its energy grid is in
the cache (``level_map="cached"``, default) or is requested (``level_map="compute"``, one PES scan).
Figures and the HTML export are in :mod:`sicnb.viz.ledger` (:func:`sicnb.viz.ledger.report_card_html`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from sicnb.data import Dataset
from sicnb.errors import ParameterError
from sicnb.ledger.core import Ledger

__all__ = ["ReportCard", "report_card", "HEADLINE_COLUMNS"]

#: ledger columns shown as headline numbers when present: (column, label with units)
HEADLINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("classify.score", "P_SI"),
    ("classify.p_si_std", "P_SI std"),
    ("classify.d_training", "d_training"),
    ("bvse.score", "BVSE E_a (eV)"),
    ("bvse.activation_energy_3D_eV", "BVSE E_a 3D (eV)"),
    ("topology.score", "r_connected (Å)"),
    ("topology.rho_cycles", "rho_cycles"),
    ("pes.score", "Ξ (PES cascade)"),
    ("pes.MPE", "PES MPE (eV)"),
    ("htvs.score", "E_hull (eV/atom)"),
    ("htvs.formation_energy_ev_per_atom", "E_f (eV/atom)"),
    ("htvs.band_gap_ev", "band gap (eV)"),
    ("htvs.reduction_limit_v", "stability window: reduction limit (V vs Li/Li⁺)"),
    ("htvs.oxidation_limit_v", "stability window: oxidation limit (V vs Li/Li⁺)"),
    ("htvs.window_v", "stability window width (V)"),
)


@dataclass
class ReportCard:
    """One candidate: identity, label, consensus, per-method rows, headline numbers, barcode (optional)."""

    id: str
    formula: str
    structure: Structure | None
    label: dict[str, Any]
    consensus: float
    consensus_rank: float
    n_pool: int
    methods: pd.DataFrame
    headline: dict[str, float]
    barcode: dict[str, Any] | None = None
    #: ``structure`` (the scanned cell), ``field`` (level map on the 2×2×2 supercell, eV), ``origin_index``,
    #: ``threshold_ev``, ``site_index``, ``site_MPE``, ``Xi``, ``source`` ("cache"/"computed"); None when absent
    level_map: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    #: what the consensus rank rests on: per method scored or not (and why), its contribution to the learned
    #: log-odds, its repeated-LOCO AUC-PR/ROC-AUC on OBELiX train and whether that is no better than chance
    #: (:func:`sicnb.ledger.consensus.rank_evidence`)
    evidence: pd.DataFrame | None = None


def _barcode(structure: Structure, radius_angstrom: float, mobile_ion: str) -> dict[str, Any]:
    from sicnb.structure import mobile_sites
    from sicnb.topology.barcodes import rips_barcode, site_clouds

    site = mobile_sites(structure, mobile_ion=mobile_ion)[0]
    clouds = site_clouds(structure, site.index, radius_angstrom, mobile_ion)
    bc = rips_barcode(clouds.mobile_points, radius_angstrom, max_dimension=1)
    return {"site_index": int(site.index), "points": clouds.mobile_points, "intervals": [bc.dim(0), bc.dim(1)],
            "radius_angstrom": float(radius_angstrom), "cloud": f"{mobile_ion}-only"}


def _level_map(structure: Structure, sid: str, how: str, pes_params: Mapping[str, Any], cache_dir: Any,
               threshold_ev: float) -> tuple[dict[str, Any] | None, str]:
    from sicnb.data import Record
    from sicnb.ledger.levelgrid import decode_level_grid, level_map_arrays, pes_level_grid
    from sicnb.ledger.methods import cached_rows
    from sicnb.parallel import pmap

    rec = [Record(sid, structure)]
    if how == "compute":
        row = pmap(pes_level_grid, rec, dict(pes_params), cache_dir=cache_dir, progress=False, nan_policy="allow").iloc[0]
        source = "computed (or read from the cache)"
    else:
        row = cached_rows(pes_level_grid, rec, dict(pes_params), cache_dir).iloc[0]
        source = "cache"
    if row["error"]:
        if str(row["error"]).startswith("NotCached"):
            return None, ("level-map isosurface: no PES energy grid in the cache for this structure; "
                          "report_card(..., level_map='compute') runs one PES scan for it")
        return None, f"level-map isosurface: the PES scan failed: {str(row['error'])[:200]}"
    scanned, energy = decode_level_grid(row)
    lm, origin = level_map_arrays(energy)
    return {"structure": scanned, "field": lm, "origin_index": origin, "threshold_ev": float(threshold_ev),
            "site_index": int(row["site_index"]), "site_MPE": float(row["site_MPE"]), "Xi": float(row["Xi"]),
            "grid_shape": str(row["grid_shape"]), "source": source, "params": dict(pes_params)}, ""


def report_card(ledger: Ledger, dataset: Dataset | None, structure_id: str, barcode: bool = True,
                radius_angstrom: float = 10.0, mobile_ion: str = "Li", level_map: str | bool = "cached",
                pes_params: Mapping[str, Any] | None = None, cache_dir: Any = None, level_threshold_ev: float = 0.5) -> ReportCard:
    """The report card of ``structure_id`` (raises :class:`ParameterError` if it is not in the ledger).

    ``dataset`` supplies the structure (for the viewer, the barcode and the level map); ``None`` gives a
    card without them. ``barcode=False`` skips the one persistent-homology computation.
    ``level_map``: ``"cached"`` (default) adds the level-map arrays when a :func:`sicnb.ledger.levelgrid.pes_level_grid`
    result for ``pes_params`` (default: the ledger's PES potential and grid step) is in the pmap cache ``cache_dir``;
    ``"compute"`` runs that scan if needed (5–100 s for a small cell); ``False`` skips it. The isosurface is drawn at
    LM = ``level_threshold_ev`` by :func:`sicnb.viz.ledger.report_card_figures`.
    """
    if level_map not in ("cached", "compute", False, None):
        raise ParameterError(f"level_map={level_map!r}: use 'cached', 'compute' or False")
    t = ledger.table
    if structure_id not in t.index:
        raise ParameterError(f"{structure_id!r} is not in the ledger ({len(t)} structures); pick an id from ledger.table.index")
    row = t.loc[structure_id]
    structure = dataset[structure_id].structure if dataset is not None and structure_id in dataset else None
    rows = []
    for _, m in ledger.methods.iterrows():
        name = m["name"]
        flags = [f for f in str(m["pass_flags"]).split(",") if f and f"{name}.{f}" in t]
        flag_text = ", ".join(f"{f}={'yes' if bool(row[f'{name}.{f}']) else 'no'}" for f in flags if pd.notna(row[f"{name}.{f}"]))
        unc_col = f"{name}.{m['uncertainty']}" if m["uncertainty"] else None
        rows.append({"method": name, "title": m["title"], "status": m["status"], "coverage": m.get("coverage", "whole pool"),
                     "score_column": m["score"],
                     "score": row.get(f"{name}.score", np.nan), "percentile": row.get(f"{name}.percentile", np.nan),
                     "uncertainty": row.get(unc_col, np.nan) if unc_col else np.nan, "pass_flags": flag_text,
                     "error": row.get(f"{name}.error", ""), "description": m["description"]})
    methods = pd.DataFrame(rows)
    headline = {label: float(row[col]) for col, label in HEADLINE_COLUMNS if col in t and pd.notna(row[col])}
    notes: list[str] = []
    bc = None
    if barcode and structure is not None:
        try:
            bc = _barcode(structure, radius_angstrom, mobile_ion)
        except Exception as exc:  # noqa: BLE001 - a card without a barcode is still a card
            notes.append(f"barcode not computed: {type(exc).__name__}: {exc}")
    lm = None
    if level_map and structure is not None:
        if pes_params is None:
            from sicnb.ledger.methods import PES_NOTEBOOK_PARAMS

            pes_params = dict(PES_NOTEBOOK_PARAMS)
            mrow = ledger.methods.set_index("name")
            if "pes" in mrow.index:
                try:
                    import json

                    given = json.loads(mrow.loc["pes", "params"])
                    pes_params.update({k: given[k] for k in ("potential", "step") if k in given})
                except (ValueError, TypeError):
                    pass
        pes_params = {"mobile_ion": mobile_ion, **dict(pes_params)}
        try:
            lm, note = _level_map(structure, structure_id, str(level_map), pes_params, cache_dir, level_threshold_ev)
        except Exception as exc:  # noqa: BLE001 - a card without a level map is still a card
            lm, note = None, f"level-map isosurface not computed: {type(exc).__name__}: {exc}"
        if note:
            notes.append(note)
    elif level_map and structure is None:
        notes.append("level-map isosurface: no structure (dataset not given)")
    from sicnb.ledger.consensus import rank_evidence

    evidence = rank_evidence(ledger, structure_id)
    rests = evidence[evidence["scored"] & evidence["no_better_than_chance"].eq(False)]["method"].tolist()
    chance = evidence[evidence["scored"] & evidence["no_better_than_chance"].eq(True)]["method"].tolist()
    notes.append(f"rank rests on {len(rests)} method(s) with LOCO evidence above chance ({', '.join(rests) or 'none'})"
                 + (f"; scored also by method(s) no better than chance on OBELiX train: {', '.join(chance)}" if chance else ""))
    label = {k: row.get(k) for k in ("log10_sigma", "superionic", "label_source", "label_name", "label_ref", "label_split")}
    return ReportCard(id=structure_id, formula=str(row.get("formula", "")), structure=structure, label=label,
                      consensus=float(row.get("consensus", np.nan)), consensus_rank=float(row.get("consensus_rank", np.nan)),
                      n_pool=len(t), methods=methods, headline=headline, barcode=bc, level_map=lm, notes=notes,
                      evidence=evidence)
