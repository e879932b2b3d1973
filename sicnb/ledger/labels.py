"""Which structures of a pool are *known* Li-ion conductors: the yardstick of the ledger's enrichment.

Three sources, in order of precedence, per structure:

1. ``record``: the record's own experimental label ``log10_sigma`` (e.g. an OBELiX record);
2. ``obelix-composition``: the median log10 σ of the OBELiX reports whose "True Composition" equals the
   structure's composition (element fractions within ``tol``) — used when OBELiX is available
   locally (``$SICNB_DATA_DIR``) or passed in. :func:`obelix_reference` reads the OBELiX *training*
   split by default, so the ledger never scores methods against the held-out test split;
3. ``known_conductors``: the literature table :func:`sicnb.data.known_conductors` (by composition).

A structure is a known conductor when log10 σ ≥ ``threshold_log10_S_cm`` (default −4, i.e. σ ≥ 1e-4
S/cm, the threshold of notebooks 01/04). Censored upper bounds (σ < x) count as non-conductors only
when x is below the threshold. Structures with no label are ``superionic = <NA>``; the enrichment
statistics treat them as not-known. ``label_split`` says which split each label came from
(``train``/``test``/``unknown`` for OBELiX, ``""`` for the literature table).
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from sicnb.data import Dataset, known_conductors
from sicnb.errors import DataUnavailableError, ParameterError

__all__ = ["known_conductor_labels", "obelix_reference", "LABEL_COLUMNS"]

LABEL_COLUMNS = ("formula", "log10_sigma", "superionic", "label_source", "label_name", "label_ref", "label_split")


def _frac(formula: str) -> dict[str, float] | None:
    try:
        c = Composition(formula)
    except Exception:  # noqa: BLE001 - unparsable composition text in a label table: no match
        return None
    if c.num_atoms <= 0:
        return None
    return {str(e): float(v) for e, v in c.fractional_composition.get_el_amt_dict().items()}


def _same(a: dict[str, float], b: dict[str, float], tol: float) -> bool:
    if set(a) != set(b):
        return False
    return all(abs(a[e] - b[e]) <= tol for e in a)


def obelix_reference(data_dir=None, mobile_ion: str = "Li", download: bool = False, split: str = "train") -> pd.DataFrame | None:
    """OBELiX reports as (composition, log10_sigma, sigma_censored, ref_id, split), or ``None`` when OBELiX is
    not available locally (``data_dir`` / ``$SICNB_DATA_DIR`` / the download cache) or the requested split
    cannot be formed (no test table: see :mod:`sicnb.data.obelix`); ``download=True`` allows fetching it.

    ``split``: ``"train"`` (default: the test split stays held out) or ``"all"``/``"test"`` when a study
    means to score against them — the ``split`` column carries the answer into the labels."""
    from sicnb.data import obelix
    from sicnb.data.paths import cache_dir
    from sicnb.data.paths import data_dir as local_data_dir

    base = local_data_dir(data_dir)
    local = (base is not None and (base / "obelix").exists()) or (cache_dir("obelix") / "all.csv").exists()
    if not (local or download):
        return None
    try:
        ds = obelix(split=split, data_dir=data_dir, mobile_ion=mobile_ion)
    except (DataUnavailableError, OSError):
        return None
    lab = ds.labels()
    if "composition" not in lab.columns:
        return None
    out = lab[["composition", "log10_sigma", "sigma_censored", "split"]].copy()
    out["ref_id"] = out.index
    return out.reset_index(drop=True)


def known_conductor_labels(dataset: Dataset, reference: pd.DataFrame | None = None, use_known_table: bool = True,
                           threshold_log10_S_cm: float = -4.0, tol: float = 0.02) -> pd.DataFrame:
    """Known-conductor labels for every record of ``dataset`` (indexed by id).

    ``reference``: a table with ``composition`` and ``log10_sigma`` (optionally ``sigma_censored``,
    ``ref_id``, ``split``), e.g. :func:`obelix_reference`; ``None`` skips source 2. Columns: ``formula``,
    ``log10_sigma`` (log10 S/cm), ``superionic`` (nullable boolean), ``label_source``, ``label_name``,
    ``label_ref`` (where the number comes from), ``label_split`` (which OBELiX split it came from).
    """
    if not math.isfinite(threshold_log10_S_cm):
        raise ParameterError(f"threshold_log10_S_cm={threshold_log10_S_cm!r} must be a finite log10(S/cm), e.g. -4")
    ref_by_elements: dict[frozenset, list[tuple[dict, float, str, str, str]]] = defaultdict(list)
    if reference is not None:
        need = {"composition", "log10_sigma"}
        if not need <= set(reference.columns):
            raise ParameterError(f"reference table lacks columns {sorted(need - set(reference.columns))}; "
                                 "pass obelix_reference() or a table with composition and log10_sigma")
        for _, row in reference.iterrows():
            fr = _frac(str(row["composition"]))
            val = row["log10_sigma"]
            if fr is None or val is None or not np.isfinite(val):
                continue
            ref_by_elements[frozenset(fr)].append((fr, float(val), (row["sigma_censored"] if isinstance(row.get("sigma_censored"), str) else ""),
                                                   str(row.get("ref_id", "")), str(row.get("split", "unknown") or "unknown")))
    table = known_conductors() if use_known_table else None
    known = [(_frac(f), r) for f, (_, r) in zip(table["formula"], table.iterrows())] if table is not None else []

    rows = []
    for rec in dataset:
        formula = rec.structure.composition.reduced_formula if rec.structure is not None else str(rec.labels.get("formula", ""))
        fr = _frac(rec.structure.composition.formula) if rec.structure is not None else _frac(formula)
        row = {"id": rec.id, "formula": formula, "log10_sigma": np.nan, "superionic": pd.NA, "label_source": "",
               "label_name": "", "label_ref": "", "label_split": ""}
        own = rec.labels.get("log10_sigma")
        if own is not None and np.isfinite(own):
            cens = str(rec.labels.get("sigma_censored", "") or "")
            row.update(log10_sigma=float(own), label_source="record", label_ref=rec.id, label_split=str(rec.labels.get("split", "") or ""),
                       superionic=_decide(float(own), cens, threshold_log10_S_cm))
        elif fr is not None and ref_by_elements.get(frozenset(fr)):
            hits = [h for h in ref_by_elements[frozenset(fr)] if _same(fr, h[0], tol)]
            if hits:
                vals = [h[1] for h in hits]
                med = float(np.median(vals))
                decided = [_decide(h[1], h[2], threshold_log10_S_cm) for h in hits]
                sup = pd.NA if all(d is pd.NA for d in decided) else _decide(med, "", threshold_log10_S_cm)
                row.update(log10_sigma=med, superionic=sup, label_source="obelix-composition",
                           label_ref=";".join(h[3] for h in hits), label_name=f"{len(hits)} report(s)",
                           label_split="+".join(sorted({h[4] for h in hits})))
        if row["label_source"] == "" and fr is not None:
            for kfr, krow in known:
                if kfr is not None and _same(fr, kfr, tol):
                    row.update(log10_sigma=float(krow["log10_sigma"]), superionic=bool(krow["superionic"]),
                               label_source="known_conductors", label_name=str(krow["name"]), label_ref=str(krow["doi"]))
                    break
        rows.append(row)
    out = pd.DataFrame(rows, columns=["id", *LABEL_COLUMNS]).set_index("id")
    out["superionic"] = out["superionic"].astype("boolean")
    return out


def _decide(log10_sigma: float, censored: str, threshold: float):
    """True/False/NA for one value: an upper bound at or above the threshold says nothing."""
    if censored == "upper":
        return False if log10_sigma < threshold else pd.NA
    if censored == "lower":
        return True if log10_sigma >= threshold else pd.NA
    return bool(log10_sigma >= threshold)
