"""Figures of notebook 05 (Du & Wang): funnel (Fig. 1), hull (Fig. 2), E_hull/E_gap histograms (Fig. 3a),
decomposition-energy diagram (Fig. 4a), oxidation-limit histogram (Fig. 4b). Tables in, plotly figures out."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["funnel_figure", "property_histograms_figure", "hull_figure", "decomposition_energy_figure", "oxidation_histogram_figure"]


def _go():
    from sicnb.errors import require

    return require("plotly.graph_objects", extra="viz", pip_name="plotly")


def funnel_figure(funnel: pd.DataFrame, title: str = "HTVS funnel (cf. Du & Wang Fig. 1)"):
    """Counts per stage from :func:`sicnb.htvs.funnel_table` (``stage``, ``unit``, ``count``)."""
    go = _go()
    labels = [f"{s} [{u}]" for s, u in zip(funnel["stage"], funnel["unit"])]
    fig = go.Figure(go.Funnel(y=labels, x=funnel["count"], textinfo="value"))
    fig.update_layout(title=title, height=80 + 38 * len(funnel), margin=dict(l=10, r=10, t=50, b=10))
    return fig


def property_histograms_figure(compositions: pd.DataFrame, e_hull_max_ev_per_atom: float = 0.2, band_gap_min_ev: float = 0.5):
    """Predicted E_hull (eV/atom) and E_gap (eV) histograms with the thresholds dashed (cf. Fig. 3a)."""
    go = _go()
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("predicted E_hull (eV/atom)", "predicted E_gap (eV)"))
    eh = pd.to_numeric(compositions.get("e_hull_ev_per_atom"), errors="coerce").dropna()
    gap = pd.to_numeric(compositions.get("band_gap_ev"), errors="coerce").dropna()
    fig.add_trace(go.Histogram(x=eh, nbinsx=40, name="E_hull", marker_color="#4c72b0"), row=1, col=1)
    fig.add_trace(go.Histogram(x=gap, nbinsx=40, name="E_gap", marker_color="#55a868"), row=1, col=2)
    fig.add_vline(x=e_hull_max_ev_per_atom, line_dash="dash", row=1, col=1)
    fig.add_vline(x=band_gap_min_ev, line_dash="dash", row=1, col=2)
    fig.update_layout(showlegend=False, height=350, bargap=0.05, title=f"{len(eh)} formulas with E_hull, {len(gap)} with E_gap")
    return fig


def hull_figure(points: pd.DataFrame, title: str | None = None):
    """Ternary phase diagram from :func:`sicnb.htvs.stability.hull_points` (cf. Fig. 2): stable phases green,
    the rest coloured by E_hull; candidates as diamonds."""
    go = _go()
    els = points.attrs.get("elements") or [c for c in points.columns if c not in ("formula", "kind", "formation_energy_ev_per_atom", "e_hull_ev_per_atom", "stable")]
    if len(els) != 3:
        raise ValueError(f"hull_figure draws ternary systems; got elements {els}")
    a, b, c = els
    fig = go.Figure()
    for kind, symbol in (("reference", "circle"), ("candidate", "diamond")):
        sub = points[points["kind"] == kind]
        if sub.empty:
            continue
        st = sub[sub["stable"]]
        un = sub[~sub["stable"]]
        if len(un):
            fig.add_trace(go.Scatterternary(a=un[a], b=un[b], c=un[c], mode="markers", name=f"{kind}, E_hull > 0", text=un["formula"],
                                            marker=dict(symbol=symbol, size=9, color=un["e_hull_ev_per_atom"], colorscale="Reds", cmin=0, showscale=kind == "reference", colorbar=dict(title="E_hull"))))
        if len(st):
            fig.add_trace(go.Scatterternary(a=st[a], b=st[b], c=st[c], mode="markers+text", name=f"{kind}, on hull", text=st["formula"], textposition="top center",
                                            marker=dict(symbol=symbol, size=11, color="green")))
    fig.update_layout(title=title or f"{'-'.join(els)} hull ({points.attrs.get('hull', '')[:80]})", ternary=dict(aaxis_title=a, baxis_title=b, caxis_title=c), height=520)
    return fig


def decomposition_energy_figure(profile: pd.DataFrame, reduction_limit_v: float | None = None, oxidation_limit_v: float | None = None):
    """Decomposition energy vs potential (cf. Fig. 4a), stability window shaded."""
    go = _go()
    fig = go.Figure(go.Scatter(x=profile["potential_v"], y=profile["decomposition_energy_ev_per_atom"], mode="lines+markers", text=profile.get("products"), name="ΔE_D"))
    if reduction_limit_v is not None and oxidation_limit_v is not None and np.isfinite(reduction_limit_v) and np.isfinite(oxidation_limit_v):
        fig.add_vrect(x0=reduction_limit_v, x1=oxidation_limit_v, fillcolor="green", opacity=0.15, line_width=0,
                      annotation_text=f"{reduction_limit_v:.2f}–{oxidation_limit_v:.2f} V")
    fig.update_layout(title=f"{profile.attrs.get('formula', '')}: decomposition energy vs potential", xaxis_title="φ (V vs Li/Li⁺)",
                      yaxis_title="decomposition energy (eV/atom, non-Li)", height=380)
    return fig


def oxidation_histogram_figure(compositions: pd.DataFrame, oxidation_limit_min_v: float = 4.0):
    """Histogram of oxidation limits (V) with the screen threshold (cf. Fig. 4b)."""
    go = _go()
    ox = pd.to_numeric(compositions.get("oxidation_limit_v"), errors="coerce").replace([np.inf, -np.inf], np.nan).dropna()
    fig = go.Figure(go.Histogram(x=ox, nbinsx=30, marker_color="#8172b2"))
    fig.add_vline(x=oxidation_limit_min_v, line_dash="dash", annotation_text=f"{oxidation_limit_min_v} V")
    fig.update_layout(title=f"oxidation limits of {len(ox)} formulas ({int((ox >= oxidation_limit_min_v).sum())} ≥ {oxidation_limit_min_v} V)",
                      xaxis_title="oxidation limit (V vs Li/Li⁺)", yaxis_title="formulas", height=350)
    return fig

