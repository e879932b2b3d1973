"""The ``full`` classifier: every open Li-conductivity label, deduplicated by reduced composition (issue 17).

Sources (room-temperature σ, S/cm): the OBELiX training split (Therrien et al., arXiv:2502.14234; every entry, with
or without a CIF), LASKOWSKI2023 (Laskowski, McHaffie & See, Energy Environ. Sci. 16, 1264 (2023)) and the Liverpool
Ionics Dataset (Hargreaves et al., 2023; rows measured at ``ROOM_TEMPERATURE_C``). Most labels exist only as
compositions, so ``full`` is a composition model (feature blocks of
:data:`~sicnb.classify.tabular.COMPOSITION_BLOCKS`), chosen by repeated leave-one-cluster-out CV
(``python bench/bench_classify.py full``).

**Never use it for benchmark claims**: OBELiX was assembled from LASKOWSKI2023 and the Liverpool set, so their
compositions cover most of OBELiX, its official test split included (:data:`FULL_MODEL_WARNING`). The
benchmark-clean model is ``default`` (OBELiX train only).

Deduplication rule (:func:`deduplicate_labels`), per reduced composition:

1. *Same measurement reported twice*: a value within ``SAME_MEASUREMENT_LOG10`` (0.01 log10 units) of a value
   already kept from a source of higher or equal priority (``SOURCE_PRIORITY``: OBELiX > LASKOWSKI2023 > Liverpool)
   is dropped — OBELiX copied many values from the other two, and LASKOWSKI2023 repeats entries per ICSD structure.
2. The label is the **median** of the remaining log10 σ (the mean of the middle two for an even count).
3. *Tie*: when exactly half of the measurements are superionic (log10 σ ≥ −4), the median would fall between
   conflicting labels; the label is then the median of the highest-priority source's measurements.
4. ``y`` = label ≥ −4. Upper-censored values ("<1e-10") count at their bound when the bound is below −4 (certainly
   not superionic), lower-censored ones when the bound is ≥ −4; other censored values are dropped.

Every label keeps its ``sources``, ``primary_source`` (highest priority present), the measurement ids and a
``conflict`` flag (measurements on both sides of the threshold).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from sicnb.classify.tabular import COMPOSITION_BLOCKS, TabularModel, composition_block_features, labels_sha256, reduced_formula
from sicnb.errors import InputError, ParameterError

__all__ = ["TrainingOverlapWarning", "DEDUP_RULE", "SOURCE_PRIORITY", "ROOM_TEMPERATURE_C", "SAME_MEASUREMENT_LOG10", "FULL_MODEL_WARNING", "FULL_MODEL_DIR",
           "parse_reported_composition", "label_measurements", "deduplicate_labels", "full_training_table", "train_full", "predict_compositions", "card_markdown"]

SOURCE_PRIORITY = ("obelix:train", "laskowski2023", "liverpool_ionics")
#: Liverpool Ionics rows measured in this range (°C) count as room temperature
ROOM_TEMPERATURE_C = (15.0, 35.0)
SAME_MEASUREMENT_LOG10 = 0.01
SUPERIONIC_LOG10 = -4.0
FULL_MODEL_DIR = Path(__file__).with_name("full_model")  # = sicnb.classify.ensemble.MODEL_DIRS["full"]
FULL_MODEL_WARNING = ("sicnb: warning: the 'full' model was trained on OBELiX-train + LASKOWSKI2023 + Liverpool Ionics labels, "
                      "which cover most of OBELiX (its test split included) - never use it for benchmark claims; use 'default'.")
DEDUP_RULE = ("per reduced composition: (1) a value within 0.01 log10 units of one already kept from a source of higher or "
              "equal priority (obelix:train > laskowski2023 > liverpool_ionics) is the same measurement reported twice and is "
              "dropped; (2) label = median of the remaining log10 sigma; (3) when exactly half of them are >= -4 (a tie), "
              "label = median of the highest-priority source's values; (4) y = label >= -4. Censored values count at their "
              "bound only when the bound fixes the label.")


class TrainingOverlapWarning(UserWarning):
    """The model was trained on labels that overlap the common benchmarks (OBELiX test and the sets built from them)."""


_COLUMNS = ["id", "source", "formula", "reduced_composition", "log10_sigma", "censored", "temperature_C"]


def parse_reported_composition(text: str) -> str:
    """Reduced formula of a reported composition, including pseudo-binary glass notation (``0.75Li2S-0.25P2S5``,
    ``(Li2S)0.75 (P2S5)0.25``, ``0.95(0.6Li2S-0.4SiS2)-0.05Li3PO4``, dopant suffixes ``Li7La3Zr2O12-0.4Ga``) summed
    with the molar coefficients; '' for composites given in wt%/vol% or anything unparsable."""
    import re

    from pymatgen.core import Composition

    t = str(text).strip().strip('"').replace(" ", "").replace("\u2013", "-").replace("\u2212", "-").replace("*", "-")
    if not t or "%" in t:
        return ""

    def parse(u: str) -> Composition:
        try:
            return Composition(u)
        except Exception:  # noqa: BLE001 - try the mixture notation below
            pass
        parts, depth, cur = [], 0, ""
        for ch in u:  # split on '-' outside parentheses
            depth += (ch == "(") - (ch == ")")
            if ch == "-" and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        parts.append(cur)
        if len(parts) < 2:
            raise ValueError(u)
        total = Composition()
        for part in parts:
            m = re.match(r"^(\d*\.?\d+)(.+)$", part)
            coef, rest = (float(m[1]), m[2]) if m else (1.0, part)
            if rest.startswith("(") and rest.endswith(")") and rest.count("(") == 1:
                rest = rest[1:-1]
            total += parse(rest) * coef
        return total

    try:
        c = parse(t)
        return c.reduced_formula if c.num_atoms > 0 else ""
    except Exception:  # noqa: BLE001 - unparsable: no label
        return ""


def _censored_value(log10_bound: float, censor: str, threshold: float) -> float:
    """The bound of a censored value when it fixes the label (upper ≤ threshold, lower ≥ threshold), else NaN."""
    if censor == "upper" and log10_bound < threshold:
        return log10_bound
    if censor == "lower" and log10_bound >= threshold:
        return log10_bound
    return float("nan")


def label_measurements(data_dir: str | Path | None = None, room_temperature_C: tuple[float, float] = ROOM_TEMPERATURE_C,
                       mobile_ion: str = "Li", threshold_log10_s_cm: float = SUPERIONIC_LOG10) -> tuple[pd.DataFrame, dict]:
    """Every usable room-temperature measurement of the three sources, one row each (columns id, source, formula,
    reduced_composition, log10_sigma, censored, temperature_C), and per-source counts of rows read / kept / dropped
    with the reason."""
    from sicnb.data import laskowski2023, liverpool_ionics, load

    rows, counts = [], {}

    def add(source, rid, formula, log10_sigma, censored, temp):
        rows.append({"id": rid, "source": source, "formula": formula, "reduced_composition": parse_reported_composition(formula),
                     "log10_sigma": log10_sigma, "censored": censored, "temperature_C": temp})

    ob = load("obelix:train", data_dir=data_dir)
    for r in ob:
        lab = r.labels
        comp = str(lab.get("composition") or lab.get("reduced_composition") or r.formula or "")
        add("obelix:train", r.id, comp, float(lab.get("log10_sigma", np.nan)), str(lab.get("sigma_censored") or ""), np.nan)
    counts["obelix:train"] = {"read": len(ob)}
    las = laskowski2023(data_dir=data_dir)
    for rid, r in las.iterrows():
        s, cen = r["log10_sigma"], str(r.get("sigma_censored", "") or "")
        if not np.isfinite(s) and cen:
            s = _censored_value(float(r["log10_sigma_bound"]), cen, threshold_log10_s_cm)
        add("laskowski2023", rid, r["formula"], float(s), cen, np.nan)
    counts["laskowski2023"] = {"read": len(las)}
    liv = liverpool_ionics(data_dir=data_dir)
    rt = liv["temperature_C"].between(*room_temperature_C)
    for rid, r in liv[rt].iterrows():
        add("liverpool_ionics", rid, r["formula"], float(r["log10_sigma"]), "", float(r["temperature_C"]))
    counts["liverpool_ionics"] = {"read": len(liv), "dropped_not_room_temperature": int((~rt).sum())}
    m = pd.DataFrame(rows, columns=_COLUMNS)
    # censored OBELiX values carry their bound in log10_sigma: keep them only where the bound fixes the label
    cen = m["censored"].isin(["upper", "lower"]) & (m["source"] == "obelix:train")
    m.loc[cen, "log10_sigma"] = [_censored_value(v, c, threshold_log10_s_cm) for v, c in zip(m.loc[cen, "log10_sigma"], m.loc[cen, "censored"])]
    reasons = {"dropped_no_sigma": ~np.isfinite(m["log10_sigma"].astype(float)),
               "dropped_unparsable_composition": m["reduced_composition"] == "",
               "dropped_no_mobile_ion": ~m["reduced_composition"].map(lambda f: _has_element(f, mobile_ion))}
    drop = pd.Series(False, index=m.index)
    for reason, mask in reasons.items():
        new = mask & ~drop
        for src in SOURCE_PRIORITY:
            counts[src][reason] = int((new & (m["source"] == src)).sum())
        drop |= mask
    m = m[~drop].reset_index(drop=True)
    for src in SOURCE_PRIORITY:
        counts[src]["kept"] = int((m["source"] == src).sum())
    return m, counts


def _has_element(formula: str, element: str) -> bool:
    from pymatgen.core import Composition

    try:
        return element in {e.symbol for e in Composition(formula).elements}
    except Exception:  # noqa: BLE001 - unparsable: no
        return False


def deduplicate_labels(measurements: pd.DataFrame, threshold_log10_s_cm: float = SUPERIONIC_LOG10,
                       priority: Sequence[str] = SOURCE_PRIORITY, same_measurement_log10: float = SAME_MEASUREMENT_LOG10) -> pd.DataFrame:
    """One label per reduced composition by the module's rule (repeated values dropped, median, tie → priority
    source). Columns: reduced_composition (index), log10_sigma, y, n_measurements, n_repeats_dropped, sources,
    primary_source, conflict, rule, ids."""
    need = {"id", "source", "reduced_composition", "log10_sigma"}
    if not need <= set(measurements.columns):
        raise InputError(f"measurements need columns {sorted(need)}, got {sorted(measurements.columns)}")
    rank = {s: i for i, s in enumerate(priority)}
    unknown = set(measurements["source"]) - set(rank)
    if unknown:
        raise ParameterError(f"sources {sorted(unknown)} are not in the priority list {list(priority)}")
    m = measurements.assign(priority_rank=measurements["source"].map(rank)).sort_values(["priority_rank", "id"], kind="stable")
    out = []
    for comp, g in m.groupby("reduced_composition", sort=True):
        kept_vals, kept = [], []
        for r in g.itertuples():
            v = float(r.log10_sigma)
            if any(abs(v - k) <= same_measurement_log10 for k in kept_vals):
                continue
            kept_vals.append(v)
            kept.append(r)
        vals = np.array(kept_vals)
        si = vals >= threshold_log10_s_cm
        rule = "median"
        label = float(np.median(vals))
        if len(vals) % 2 == 0 and 2 * si.sum() == len(vals):
            top = min(r.priority_rank for r in kept)
            label = float(np.median([r.log10_sigma for r in kept if r.priority_rank == top]))
            rule = f"tie -> {priority[top]}"
        srcs = [s for s in priority if s in {r.source for r in kept}]
        out.append({"reduced_composition": comp, "log10_sigma": label, "y": int(label >= threshold_log10_s_cm),
                    "n_measurements": len(kept), "n_repeats_dropped": len(g) - len(kept), "sources": ";".join(srcs),
                    "primary_source": srcs[0], "conflict": bool(si.any() and not si.all()), "rule": rule,
                    "ids": ";".join(str(r.id) for r in kept)})
    return pd.DataFrame(out).set_index("reduced_composition") if out else pd.DataFrame(
        columns=["log10_sigma", "y", "n_measurements", "n_repeats_dropped", "sources", "primary_source", "conflict", "rule", "ids"])


def full_training_table(data_dir: str | Path | None = None) -> tuple[pd.DataFrame, dict]:
    """(deduplicated labels of every open source, summary counts incl. per-source counts and the rule's outcomes)."""
    meas, counts = label_measurements(data_dir)
    table = deduplicate_labels(meas)
    summary = {"sources": counts, "n_measurements": int(len(meas)), "n_compositions": int(len(table)),
               "n_compositions_with_several_measurements": int((table["n_measurements"] > 1).sum()),
               "n_repeated_values_dropped": int(table["n_repeats_dropped"].sum()),
               "n_conflicting": int(table["conflict"].sum()), "n_ties_resolved_by_priority": int((table["rule"] != "median").sum()),
               "n_by_primary_source": {k: int(v) for k, v in table["primary_source"].value_counts().items()},
               "positive_fraction": float(table["y"].mean()),
               "measurements_sha256": {s: hashlib.sha256("\n".join(
                   f"{r.id}\t{r.reduced_composition}\t{r.log10_sigma:.6f}" for r in meas[meas["source"] == s].itertuples()).encode()).hexdigest()
                   for s in SOURCE_PRIORITY}}
    return table, summary


def train_full(data_dir: str | Path | None = None, blocks: Sequence[str] = ("magpie",), classifier: str = "rf",
               regressor: str = "rf", n_estimators: int = 100, min_samples_leaf: int = 3, C: float = 1.0,
               random_state: int = 0) -> tuple[TabularModel, dict]:
    """Fit the ``full`` composition model on :func:`full_training_table` and return it with its card (every training
    composition with its label, sources and measurement ids; dedup counts; hashes). Callers add the command and
    the validation metrics."""
    bad = [b for b in blocks if b not in COMPOSITION_BLOCKS]
    if bad:
        raise ParameterError(f"the full model is a composition model; blocks {bad} need structures (use {COMPOSITION_BLOCKS})")
    table, summary = full_training_table(data_dir)
    X = composition_block_features(table.index.tolist(), blocks)
    model = TabularModel(blocks, n_estimators=n_estimators, min_samples_leaf=min_samples_leaf, random_state=random_state,
                         classifier=classifier, regressor=regressor, C=C)
    model.fit(X, table["y"].to_numpy(), table["log10_sigma"].to_numpy(float))
    entries = [{"id": f"full:{comp}", "source": r.primary_source, "sources": r.sources, "reduced_composition": comp,
                "log10_sigma": round(float(r.log10_sigma), 6), "y": int(r.y), "n_measurements": int(r.n_measurements),
                "conflict": bool(r.conflict), "rule": r.rule, "measurement_ids": r.ids} for comp, r in table.iterrows()]
    card = {"format": "sicnb-tabular/1", "model": "full", "warning": FULL_MODEL_WARNING, "data": list(SOURCE_PRIORITY),
            "n_train": len(entries), "positive_fraction": summary["positive_fraction"],
            "label": "superionic = sigma_RT >= 1e-4 S/cm (log10_sigma >= -4); regression target log10(sigma_RT / S cm-1)",
            "dedup_rule": DEDUP_RULE,
            "room_temperature_C": list(ROOM_TEMPERATURE_C), "dedup": summary, "features": list(blocks),
            "params": {**model.get_params(), "blocks": list(blocks), "quantiles": list(model.quantiles)},
            "labels_sha256": labels_sha256(entries), "training_entries": entries}
    model.card_ = card
    return model, card


def predict_compositions(compositions: Sequence[str], model: TabularModel | str | None = "full") -> pd.DataFrame:
    """p_si, p_si_std, d_training, superionic, log10_sigma_pred/lo/hi and in_training for compositions (no structure)
    with a composition model (``"full"`` or a folder/model whose blocks are all composition blocks)."""
    from sicnb.classify.ensemble import load_model

    mdl = model if isinstance(model, TabularModel) else load_model(model)
    if not isinstance(mdl, TabularModel) or any(b not in COMPOSITION_BLOCKS for b in mdl.blocks):
        raise ParameterError(f"predict_compositions needs a composition model (blocks in {COMPOSITION_BLOCKS}); "
                             f"{model!r} needs structures: use sicnb.classify.predict")
    from pymatgen.core import Composition

    formulas = [reduced_formula(c) for c in compositions]
    formulas = [f if f and Composition(f).valid else "" for f in formulas]  # no dummy species ("Zz")
    ok = [i for i, f in enumerate(formulas) if f]
    X = composition_block_features([formulas[i] for i in ok], mdl.blocks)
    pred = mdl.predict_frame(X, ids=[str(compositions[i]) for i in ok], formulas=[formulas[i] for i in ok])
    out = pd.DataFrame({"formula": formulas}, index=pd.Index([str(c) for c in compositions], name="id"))
    out["error"] = ["" if f else "unparsable composition" for f in formulas]
    return out.join(pred[~pred.index.duplicated()], how="left")


def card_markdown(card: dict) -> str:
    """README (model card) of a ``full`` model folder, written from its card: data and dedup counts, the rule, the
    LOCO metrics with controls (when ``card['validation']`` holds a ``bench_classify.py full`` JSON) and the command."""
    d = card["dedup"]
    src = d["sources"]
    lines = ["# The `full` classifier (sicnb.classify.full, issue 17)", "",
             f"> **{card['warning'].removeprefix('sicnb: warning: ')}**", "",
             f"* **What**: {card['params']['classifier']} classifier (P_SI = P(sigma_RT >= 1e-4 S/cm)) + "
             f"{card['params']['regressor']} log10 sigma regressor, {card['params']['n_estimators']} trees, min "
             f"{card['params']['min_samples_leaf']} samples per leaf, on composition features {card['features']} "
             "(matminer Magpie ElementProperty, Ward et al. 2016). A composition model: most labels have no open structure. "
             "`p_si_std` = std over tree groups; log10 sigma interval = prediction + 10th/90th percentile of the out-of-bag "
             "residuals; `in_training` = the reduced formula is a training composition; `d_training` in PCA-whitened feature space.",
             f"* **Data** ({d['n_measurements']} room-temperature measurements -> {d['n_compositions']} reduced compositions, "
             f"{100 * d['positive_fraction']:.1f} % superionic): " + "; ".join(
                 f"{k}: {v['read']} rows read, {v['kept']} kept" + "".join(f", {v[r]} {r.removeprefix('dropped_').replace('_', ' ')}"
                                                                          for r in v if r.startswith("dropped_") and v[r])
                 for k, v in src.items()) + f". Room temperature = {card['room_temperature_C'][0]:g}-{card['room_temperature_C'][1]:g} °C "
             "(Liverpool rows; OBELiX and LASKOWSKI2023 report sigma_RT).",
             f"* **Deduplication** ({d['n_compositions_with_several_measurements']} compositions with several measurements, "
             f"{d['n_repeated_values_dropped']} repeated values dropped, {d['n_conflicting']} with measurements on both sides of "
             f"1e-4 S/cm, {d['n_ties_resolved_by_priority']} ties resolved by source priority; labels by primary source "
             f"{d['n_by_primary_source']}): {card['dedup_rule']}",
             "* **Training entries**: every composition with its label, sources, primary source, measurement ids, conflict flag "
             f"and rule in `model.json` -> `card.training_entries`; labels SHA-256 `{card['labels_sha256'][:16]}...`; per-source "
             "measurement hashes in `card.dedup.measurements_sha256`. Exclude these compositions (`in_training`) before "
             "evaluating on any external set."]
    v = card.get("validation") or {}
    if v.get("classification"):
        rows = {(r["scheme"], r["model"]): r for r in v["classification"]}
        fmt = lambda r, m: f"{r[f'pooled_{m}']:.2f} [{r[f'pooled_{m}_lo']:.2f}, {r[f'pooled_{m}_hi']:.2f}]"  # noqa: E731
        table = ["", "| model (repeated LOCO, seeds " + ", ".join(map(str, v["seeds"])) + ") | pooled AUC-PR [95 % CI] | pooled MCC "
                 "[95 % CI] | per-cluster AUC-PR | 5-fold AUC-PR / MCC |", "| --- | --- | --- | --- | --- |"]
        for (scheme, m), r in sorted(rows.items(), key=lambda kv: -kv[1]["pooled_auc_pr"]):
            if scheme != "loco":
                continue
            k = rows.get(("kfold", m))
            table.append(f"| {m}{' (shipped)' if m == v.get('winner') else ''} | {fmt(r, 'auc_pr')} | {fmt(r, 'mcc')} | "
                         f"{r['fold_auc_pr_mean']:.2f} ± {r['fold_auc_pr_std']:.2f} | "
                         + (f"{k['pooled_auc_pr']:.2f} / {k['pooled_mcc']:.2f} |" if k else "– |"))
        reg, cal = v.get("regression", {}), v.get("calibration", {})
        lines += [f"* **Validation** (`{v['command']}`; LOCO clusters from the compositions, ElMD -> UMAP -> DBSCAN; "
                  "pooled = all held-out clusters concatenated, mean over seeds; bootstrap interval over compositions). The "
                  "winner on LOCO pooled AUC-PR ships:"] + table + [""]
        if cal:
            lines.append(f"* **Calibration** (LOCO out-of-fold): Brier {cal['raw']['brier']:.3f}, ECE {cal['raw']['ece']:.3f}; "
                         f"cross-fitted isotonic {cal['isotonic_cross_fitted']['brier']:.3f} / {cal['isotonic_cross_fitted']['ece']:.3f}"
                         + (" (not applied: no better)." if cal['isotonic_cross_fitted']['brier'] >= cal['raw']['brier'] else "."))
        if reg:
            lo, kf = reg["loco"], reg["kfold"]
            lines.append(f"* **log10 sigma**: LOCO MAE {lo['mae']:.2f} (training-mean predictor {lo['mae_mean']:.2f}), Spearman "
                         f"{lo['spearman']:.2f}, 10-90 % interval coverage {lo['coverage']:.2f}; 5-fold MAE {kf['mae']:.2f} "
                         f"(mean predictor {kf['mae_mean']:.2f}), coverage {kf['coverage']:.2f}.")
    lines += [f"* **Command**: `{card.get('command', '')}` (sicnb {card.get('sicnb_version', '?')}).",
              "* **Use**: `sicnb classify predict --model full --input ...` (structures; their composition is used) or "
              "`sicnb.classify.predict_compositions([...], model=\"full\")`. Labels are composition-level: polymorphs "
              "(e.g. cubic vs tetragonal Li7La3Zr2O12) share one label, glasses are given by their molar composition.", ""]
    return "\n".join(lines)
