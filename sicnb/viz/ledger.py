"""Figures for the candidate ledger (notebook 06): agreement heatmap, top-k overlap, enrichment with
intervals, consensus-vs-method differences, and the per-structure report card (HTML-exportable).

Every function takes the numbers computed by :mod:`sicnb.ledger` and returns a plotly figure (or
an HTML string); nothing here ranks, correlates or bootstraps.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "agreement_heatmap", "topk_overlap_figure", "enrichment_figure", "consensus_difference_figure",
    "method_coverage_figure", "evidence_figure", "enrichment_curve_figure", "weights_figure", "report_card_figures", "report_card_html", "save_report_card",
]


def _go():
    from sicnb.errors import require

    return require("plotly.graph_objects", extra="viz", pip_name="plotly")


def _square(long: pd.DataFrame, value: str, diagonal: float) -> pd.DataFrame:
    names = list(dict.fromkeys(list(long["method_a"]) + list(long["method_b"])))
    mat = pd.DataFrame(np.nan, index=names, columns=names)
    for _, r in long.iterrows():
        mat.loc[r["method_a"], r["method_b"]] = mat.loc[r["method_b"], r["method_a"]] = r[value]
    for n in names:
        mat.loc[n, n] = diagonal
    return mat


def agreement_heatmap(correlations: pd.DataFrame, value: str = "spearman_rho", title: str | None = None):
    """Heatmap of pairwise rank correlations (:func:`sicnb.ledger.rank_correlations`), −1…1; hover shows n and p."""
    go = _go()
    mat = _square(correlations, value, 1.0)
    pcol = value.replace("_rho", "_p").replace("_tau", "_p")
    nmat = _square(correlations, "n", np.nan)
    pmat = _square(correlations, pcol, 0.0) if pcol in correlations else nmat * np.nan
    text = [[("" if np.isnan(v) else f"{v:+.2f}") for v in row] for row in mat.to_numpy()]
    hover = [[f"{a} vs {b}<br>{value} = {mat.loc[a, b]:.3f}<br>p = {pmat.loc[a, b]:.2g}<br>n = {nmat.loc[a, b]:.0f}"
              for b in mat.columns] for a in mat.index]
    fig = go.Figure(go.Heatmap(z=mat.to_numpy(), x=list(mat.columns), y=list(mat.index), zmin=-1, zmax=1,
                               colorscale="RdBu", reversescale=True, text=text, texttemplate="%{text}",
                               hovertext=hover, hoverinfo="text", colorbar={"title": value}))
    fig.update_layout(title=title or f"Rank agreement between methods ({value.replace('_', ' ')}, oriented: higher = more promising)",
                      yaxis={"autorange": "reversed"}, height=460)
    return fig


def topk_overlap_figure(overlap: pd.DataFrame, title: str | None = None):
    """One Jaccard heatmap per k (:func:`sicnb.ledger.topk_overlap`), side by side."""
    go = _go()
    from plotly.subplots import make_subplots

    ks = sorted(overlap["k"].unique())
    fig = make_subplots(rows=1, cols=len(ks), subplot_titles=[f"top-{k}" for k in ks], horizontal_spacing=0.08)
    for j, k in enumerate(ks, start=1):
        sub = overlap[overlap["k"] == k]
        mat = _square(sub, "jaccard", 1.0)
        inter = _square(sub, "intersection", np.nan)
        fig.add_trace(go.Heatmap(z=mat.to_numpy(), x=list(mat.columns), y=list(mat.index), zmin=0, zmax=1, colorscale="Viridis",
                                 text=[[("" if np.isnan(v) else f"{v:.2f}") for v in row] for row in mat.to_numpy()],
                                 texttemplate="%{text}", showscale=(j == len(ks)), colorbar={"title": "Jaccard"},
                                 hovertext=[[f"{a} ∩ {b}: {inter.loc[a, b]:.0f} structures" for b in mat.columns] for a in mat.index],
                                 hoverinfo="text"), row=1, col=j)
        fig.update_yaxes(autorange="reversed", showticklabels=(j == 1), row=1, col=j)
    fig.update_layout(title=title or "Overlap of the methods' top-k candidate lists (Jaccard index)", height=430)
    return fig


def enrichment_figure(enrichment: pd.DataFrame, title: str | None = None):
    """EF@k with bootstrap intervals per method (:func:`sicnb.ledger.enrichment`); EF = 1 is random selection."""
    go = _go()
    fig = go.Figure()
    methods = list(dict.fromkeys(enrichment["method"]))
    for m in methods:
        sub = enrichment[enrichment["method"] == m].sort_values("k")
        fig.add_trace(go.Scatter(
            x=[f"k={k}" for k in sub["k"]], y=sub["ef"], mode="markers", name=m,
            marker={"size": 11, "symbol": "diamond" if m == "consensus" else "circle", "line": {"width": 1}},
            error_y={"type": "data", "symmetric": False, "array": (sub["ef_hi"] - sub["ef"]).clip(lower=0),
                     "arrayminus": (sub["ef"] - sub["ef_lo"]).clip(lower=0)},
            customdata=np.stack([sub["hits"], sub["n_pos"], sub["ef_lo"], sub["ef_hi"]], axis=1),
            hovertemplate=f"{m}<br>EF %{{y:.2f}} [%{{customdata[2]:.2f}}, %{{customdata[3]:.2f}}]<br>"
                          "hits %{customdata[0]:.1f} of %{customdata[1]:.0f} known<extra></extra>"))
    fig.add_hline(y=1.0, line_dash="dot", annotation_text="random (EF = 1)")
    n_pos = int(enrichment["n_pos"].iloc[0]) if len(enrichment) else 0
    n = int(enrichment["n"].iloc[0]) if len(enrichment) else 0
    fig.update_layout(scattermode="group", title=title or f"Enrichment of known conductors in each top-k list ({n_pos} known in {n}; 95 % bootstrap intervals)",
                      yaxis_title="enrichment factor EF@k", height=460)
    return fig


def consensus_difference_figure(paired: pd.DataFrame, title: str | None = None):
    """EF(consensus) − EF(method) with paired-bootstrap intervals (:func:`sicnb.ledger.paired_enrichment`); > 0 favours the consensus."""
    go = _go()
    fig = go.Figure()
    for k, sub in paired.groupby("k", sort=True):
        fig.add_trace(go.Scatter(
            x=sub["diff"], y=sub["method"], mode="markers", name=f"k={k}", marker={"size": 10},
            error_x={"type": "data", "symmetric": False, "array": (sub["diff_hi"] - sub["diff"]).clip(lower=0),
                     "arrayminus": (sub["diff"] - sub["diff_lo"]).clip(lower=0)},
            hovertemplate="%{y}: Δ EF %{x:+.2f}<extra>k=" + str(k) + "</extra>"))
    fig.add_vline(x=0.0, line_dash="dot")
    fig.update_layout(scattermode="group", title=title or "Consensus minus single method: EF@k difference (paired bootstrap, 95 %)",
                      xaxis_title="EF(consensus) − EF(method)", height=120 + 60 * max(1, paired["method"].nunique()))
    return fig


def method_coverage_figure(methods: pd.DataFrame, n_pool: int, title: str | None = None):
    """Bar chart of how many structures each method scored, with absent/failed methods marked and their reason on hover."""
    go = _go()
    colors = {"present": "#2ca02c", "absent": "#7f7f7f", "failed": "#d62728"}
    cov = methods["coverage"] if "coverage" in methods else pd.Series("whole pool", index=methods.index)
    cols = [("#ff7f0e" if (s == "present" and c != "whole pool") else colors.get(s, "#1f77b4")) for s, c in zip(methods["status"], cov)]
    fig = go.Figure(go.Bar(x=[f"{n}<br>({c})" if c != "whole pool" else n for n, c in zip(methods["name"], cov)], y=methods["n_scored"],
                           marker_color=cols,
                           text=[f"{s}" if s != "present" else f"{n}/{n_pool}" for s, n in zip(methods["status"], methods["n_scored"])],
                           textposition="outside", hovertext=[(r or "scored") for r in methods["reason"]], hoverinfo="text+x"))
    fig.update_layout(title=title or f"Structures scored by each method (pool of {n_pool})", yaxis_title="structures scored",
                      yaxis_range=[0, n_pool * 1.15], height=380)
    return fig


def evidence_figure(evidence: pd.DataFrame, title: str | None = None):
    """Repeated-LOCO pooled out-of-fold AUC-PR per method/consensus with 95 % intervals
    (:func:`sicnb.ledger.consensus.method_evidence`); the dotted line is the prevalence (chance)."""
    go = _go()
    ev = evidence.sort_values("auc_pr")
    colors = ["#d62728" if bool(c) else "#1f77b4" for c in ev["no_better_than_chance"]]
    fig = go.Figure(go.Scatter(x=ev["auc_pr"], y=list(ev.index), mode="markers", marker={"size": 11, "color": colors},
                               error_x={"type": "data", "symmetric": False, "array": ev["auc_pr_hi"] - ev["auc_pr"],
                                        "arrayminus": ev["auc_pr"] - ev["auc_pr_lo"]},
                               hovertemplate="%{y}: AUC-PR %{x:.3f}<extra></extra>"))
    fig.add_vline(x=float(ev["prevalence"].iloc[0]), line_dash="dot", annotation_text="prevalence (chance)")
    fig.update_layout(title=title or "LOCO evidence on OBELiX train (pooled out-of-fold AUC-PR, 95 % CI; red: no better than chance)",
                      xaxis_title="AUC-PR", height=140 + 40 * len(ev))
    return fig


def enrichment_curve_figure(curves: pd.DataFrame, title: str | None = None):
    """Recall of known conductors vs fraction of the ranked list screened (:func:`sicnb.ledger.consensus.enrichment_curves`)."""
    go = _go()
    fig = go.Figure()
    for m, g in curves.groupby("model", sort=False):
        fig.add_trace(go.Scatter(x=g["fraction_screened"], y=g["recall"], mode="lines", name=m,
                                 line={"width": 3 if "consensus" in m else 1.5}))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random", line={"dash": "dot", "color": "grey"}))
    fig.update_layout(title=title or "Enrichment curves on OBELiX train (out-of-fold scores, mean over LOCO seeds)",
                      xaxis_title="fraction of the list screened", yaxis_title="fraction of known conductors found", height=460)
    return fig


def weights_figure(weights: pd.DataFrame, title: str | None = None):
    """Learned-consensus weights per method (:meth:`sicnb.ledger.consensus.LearnedConsensus.weights`), log-odds per unit."""
    go = _go()
    value = [c for c in weights.columns if c.endswith("_weight") and c != "missing_weight"][0]
    fig = go.Figure([go.Bar(x=weights["method"], y=weights[value], name=value.replace("_", " ")),
                     go.Bar(x=weights["method"], y=weights["missing_weight"], name="missing-score weight")])
    fig.update_layout(barmode="group", title=title or "Learned consensus: logistic weights (the equal-weight consensus gives every percentile the same weight)",
                      yaxis_title="log-odds per unit", height=380)
    return fig


# --- report card ------------------------------------------------------------------------------------

def _percentile_figure(card):
    go = _go()
    m = card.methods
    y = [f"{t}" for t in m["title"]]
    x = m["percentile"].astype(float).fillna(0.0)
    status = [("no score: " + str(e)[:90]) if pd.isna(p) else f"score {s:.4g}" + (f" ± {u:.2g}" if pd.notna(u) else "")
              for p, s, u, e in zip(m["percentile"], m["score"], m["uncertainty"], m["error"])]
    fig = go.Figure(go.Bar(x=x, y=y, orientation="h", text=status, textposition="auto",
                           marker_color=["#1f77b4" if pd.notna(p) else "#cccccc" for p in m["percentile"]]))
    fig.add_vline(x=0.5, line_dash="dot")
    fig.update_layout(title=f"{card.id} {card.formula}: percentile rank per method (1 = most promising)",
                      xaxis_range=[0, 1.05], xaxis_title="percentile in pool", height=140 + 45 * len(m), yaxis={"autorange": "reversed"})
    return fig


def _window_figure(card):
    """The electrochemical stability window (V vs Li/Li⁺) as a bar, with Du & Wang's 4 V oxidation screen."""
    go = _go()
    red = card.headline.get("stability window: reduction limit (V vs Li/Li⁺)")
    ox = card.headline.get("stability window: oxidation limit (V vs Li/Li⁺)")
    if red is None or ox is None:
        return None
    hi = ox if np.isfinite(ox) else 8.0
    fig = go.Figure(go.Bar(x=[hi - red], base=[red], y=["window"], orientation="h", marker_color="#2ca02c",
                           text=[f"{red:.2f} – {'∞' if not np.isfinite(ox) else f'{ox:.2f}'} V"], textposition="inside",
                           hoverinfo="text"))
    fig.add_vline(x=4.0, line_dash="dot", annotation_text="4 V (oxidation screen)")
    fig.update_layout(title=f"{card.id} {card.formula}: electrochemical stability window (grand-potential phase diagrams, ML energies)",
                      xaxis_title="potential (V vs Li/Li⁺)", xaxis_range=[0, max(6.0, hi + 0.5)], height=200,
                      margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return fig


def _levelmap_figure(card):
    """The level-map isosurface (LM = threshold) from the card's precomputed arrays."""
    from sicnb.viz.levelmap import levelmap_figure

    lm = card.level_map
    return levelmap_figure(lm["structure"], lm["field"], threshold_ev=lm["threshold_ev"], kind="LM", origin_index=lm["origin_index"],
                           title=(f"{card.id} {card.formula}: level map LM = {lm['threshold_ev']:g} eV around Li site {lm['site_index']} "
                                  f"(site MPE {lm['site_MPE']:.2f} eV, Ξ {lm['Xi']:.2f})"))


def report_card_figures(card) -> list:
    """The card's figures: method percentiles, the structure (plotly 3D), the Li-only barcode (if computed),
    the stability window (if the HTVS method scored it) and the level-map isosurface (if its arrays are on the card)."""
    figs = [_percentile_figure(card)]
    if card.structure is not None:
        from sicnb.viz.structure import structure_figure

        figs.append(structure_figure(card.structure, title=f"{card.id} {card.formula}", height=460))
    if card.barcode is not None:
        from sicnb.viz.barcode import barcode_figure

        r = card.headline.get("r_connected (Å)")
        d = float(r) if r is not None and np.isfinite(r) else 3.0
        figs.append(barcode_figure(card.barcode["points"], card.barcode["intervals"], d, r_connected=r,
                                   title=f"{card.barcode['cloud']} barcode of mobile site {card.barcode['site_index']} (R = {card.barcode['radius_angstrom']:g} Å)"))
    w = _window_figure(card)
    if w is not None:
        figs.append(w)
    if getattr(card, "level_map", None) is not None:
        figs.append(_levelmap_figure(card))
    return figs


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "—" if not np.isfinite(v) else f"{v:.4g}"
    if v is None or v is pd.NA:
        return "—"
    return html.escape(str(v))


def report_card_html(card, include_plotlyjs: str | bool = "cdn", figures: bool = True) -> str:
    """A self-contained HTML page for one candidate: headline numbers, label, per-method table, figures.

    ``include_plotlyjs``: ``"cdn"`` (small file, needs internet to view), ``True`` (inline, works offline).
    """
    lab = card.label
    label_text = ("no experimental label" if not lab.get("label_source") else
                  f"log10 σ = {_fmt(lab.get('log10_sigma'))} (S/cm), known conductor: {_fmt(lab.get('superionic'))} "
                  f"— {_fmt(lab.get('label_source'))} {_fmt(lab.get('label_name'))} {_fmt(lab.get('label_ref'))}")
    head = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in card.headline.items())
    cols = [c for c in ["title", "status", "coverage", "score_column", "score", "uncertainty", "percentile", "pass_flags", "error"]
            if c in card.methods]
    mt = "".join("<tr>" + "".join(f"<td>{_fmt(r[c])}</td>" for c in cols) + "</tr>" for _, r in card.methods.iterrows())
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>sicnb report card: {html.escape(card.id)} {html.escape(card.formula)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}</style></head><body>",
        f"<h1>{html.escape(card.id)} — {html.escape(card.formula)}</h1>",
        f"<p>Consensus score {_fmt(card.consensus)} (rank {_fmt(card.consensus_rank)} of {card.n_pool}). Label: {label_text}.</p>",
        "<p>Percentiles are among the structures each method scored: for a cascade method (PES) that is its shortlist, "
        "not the whole pool.</p>",
        f"<h2>Headline numbers</h2><table>{head or '<tr><td>none of the headline methods scored this structure</td></tr>'}</table>",
        "<h2>Every method</h2><table><tr>" + "".join(f"<th>{c}</th>" for c in cols) + f"</tr>{mt}</table>",
    ]
    if card.notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in card.notes) + "</ul>")
    if figures:
        for i, fig in enumerate(report_card_figures(card)):
            parts.append(fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs if i == 0 else False))
    parts.append("</body></html>")
    return "\n".join(parts)


def save_report_card(card, path: str | Path, include_plotlyjs: str | bool = True) -> Path:
    """Write :func:`report_card_html` to ``path`` (plotly.js inline by default, so the file works offline)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_card_html(card, include_plotlyjs=include_plotlyjs), encoding="utf-8")
    return path
