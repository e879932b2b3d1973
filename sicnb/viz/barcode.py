"""Barcode viewer and MTL screening figures (plotly), built from sicnb.topology results.

``barcode_figure`` draws a barcode (H0, H1) next to the Rips complex at filtration value d (atoms as
points, edges ≤ d, 3D) with β0, β1 at d and r_connected marked; ``barcode_widget`` wraps it with a
structure/site picker, a Li-only/Li-free toggle and a d slider. Histograms with rug plots
(Fig. 2e/2f), the funnel (Fig. 2d) and cluster sizes (Fig. 2g) take tables. Nothing here computes
physics: barcodes and clouds come from :mod:`sicnb.topology`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["barcode_figure", "barcode_widget", "histogram_rug_figure", "funnel_figure", "cluster_sizes_figure"]


def _go():
    from sicnb.errors import require

    return require("plotly.graph_objects", extra="viz", pip_name="plotly")


def barcode_figure(points: np.ndarray, intervals: Sequence[np.ndarray], d: float, r_connected: float | None = None,
                   title: str = "", max_edges: int = 4000):
    """Barcode (H0, H1 bars; Å) and the Rips complex at filtration value ``d`` (Å) of one point cloud.

    ``intervals[k]`` is the (n, 2) array of dimension-k bars (e.g. ``Barcode.intervals``). β_k(d) counts
    bars with birth ≤ d < death. Infinite bars are drawn to the right edge of the plot.
    """
    go = _go()
    from plotly.subplots import make_subplots
    from scipy.spatial.distance import pdist, squareform

    from sicnb.topology.barcodes import betti_at

    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    fin = [iv[np.isfinite(iv)] for iv in intervals if len(iv)]
    right = max([float(np.max(f)) for f in fin if len(f)] + [d, r_connected or 0.0, 1.0]) * 1.05
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], specs=[[{"type": "xy"}, {"type": "scene"}]],
                        subplot_titles=("barcode", "Rips complex at d"))
    colors = ["#1f77b4", "#d62728", "#2ca02c"]
    y = 0
    betti = []
    for k, iv in enumerate(intervals):
        iv = np.asarray(iv, dtype=float).reshape(-1, 2)
        betti.append(betti_at(iv, d))
        order = np.lexsort((iv[:, 1], iv[:, 0])) if len(iv) else []
        xs, ys = [], []
        for b, e in iv[order]:
            xs += [b, min(e, right), None]
            ys += [y, y, None]
            y += 1
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=colors[k % 3], width=2), name=f"H{k} ({len(iv)} bars)"), 1, 1)
        y += 2
    fig.add_vline(x=d, line=dict(color="black", dash="dot"), row=1, col=1)
    if r_connected is not None and np.isfinite(r_connected):
        fig.add_vline(x=r_connected, line=dict(color="orange", dash="dash"), annotation_text="r_connected", row=1, col=1)
    fig.update_xaxes(title_text="filtration value d (Å)", range=[0, right], row=1, col=1)
    fig.update_yaxes(showticklabels=False, row=1, col=1)
    # complex at d: points + edges ≤ d (the 1-skeleton of the Rips complex)
    if len(pts) > 1:
        dm = squareform(pdist(pts))
        i, j = np.where(np.triu(dm <= d, k=1))
        if len(i) > max_edges:
            keep = np.argsort(dm[i, j])[:max_edges]
            i, j = i[keep], j[keep]
        ex = np.column_stack([pts[i, 0], pts[j, 0], np.full(len(i), np.nan)]).ravel()
        ey = np.column_stack([pts[i, 1], pts[j, 1], np.full(len(i), np.nan)]).ravel()
        ez = np.column_stack([pts[i, 2], pts[j, 2], np.full(len(i), np.nan)]).ravel()
        fig.add_trace(go.Scatter3d(x=ex, y=ey, z=ez, mode="lines", line=dict(color="gray", width=2), name=f"edges ≤ {d:.2f} Å"), 1, 2)
    fig.add_trace(go.Scatter3d(x=pts[:, 0], y=pts[:, 1], z=pts[:, 2], mode="markers", marker=dict(size=3, color="#444"), name="atoms"), 1, 2)
    b = ", ".join(f"β{k} = {v}" for k, v in enumerate(betti))
    fig.update_layout(title=f"{title}  d = {d:.2f} Å: {b}".strip(), height=480, legend=dict(orientation="h", y=-0.1))
    return fig


def barcode_widget(structures: dict, radius_angstrom: float = 10.0, mobile_ion: str = "Li", compute=None):
    """ipywidgets viewer: structure and site pickers, Li-only / Li-free toggle, filtration slider (Å).

    ``compute(structure, site_index, radius_angstrom, mobile_ion, cloud) -> (points, intervals, r_connected)``
    supplies the physics (default :func:`sicnb.topology.barcodes.site_barcode`); the widget only draws."""
    import ipywidgets as w

    from sicnb.structure import mobile_sites
    from sicnb.topology.barcodes import site_barcode

    compute = compute or site_barcode

    ids = list(structures)
    pick = w.Dropdown(options=ids, description="structure")
    site = w.Dropdown(description="site")
    part = w.ToggleButtons(options=["Li-only", "Li-free"], description="cloud")
    dval = w.FloatSlider(value=3.0, min=0.0, max=radius_angstrom, step=0.05, description="d (Å)", continuous_update=False)
    out = w.Output()
    cache: dict = {}

    def sites_of(sid):
        return [(f"{s.index} ({s.wyckoff}, ×{s.multiplicity})", s.index) for s in mobile_sites(structures[sid], mobile_ion)]

    def data(sid, idx, which):
        key = (sid, idx, which)
        if key not in cache:
            cache[key] = compute(structures[sid], idx, radius_angstrom, mobile_ion, which)
        return cache[key]

    def redraw(*_):
        if site.value is None:
            return
        pts, iv, r = data(pick.value, site.value, part.value)
        fig = barcode_figure(pts, iv, dval.value, r, title=f"{pick.value} site {site.value} {part.value}")
        out.clear_output(wait=True)
        with out:
            from IPython.display import display

            display(fig)  # live only; the static copy for saved notebooks comes from sicnb.viz.show_widget

    def on_pick(*_):
        site.options = sites_of(pick.value)
        site.value = site.options[0][1] if site.options else None

    pick.observe(on_pick, "value")
    for c in (site, part, dval):
        c.observe(redraw, "value")
    on_pick()
    redraw()
    return w.VBox([w.HBox([pick, site]), w.HBox([part, dval]), out])


def histogram_rug_figure(values: pd.Series, known: pd.Series, threshold: float | None = None, xlabel: str = "", nbins: int = 40):
    """Histogram of ``values`` with a rug of all (grey) and known conductors (red) and the threshold (Fig. 2e/2f)."""
    go = _go()
    from plotly.subplots import make_subplots

    v = pd.to_numeric(values, errors="coerce").dropna()
    k = v[known.reindex(v.index).fillna(False).astype(bool)]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.85, 0.15], vertical_spacing=0.02)
    fig.add_trace(go.Histogram(x=v, nbinsx=nbins, marker_color="#9ecae1", name=f"all ({len(v)})"), 1, 1)
    fig.add_trace(go.Scatter(x=v, y=np.zeros(len(v)), mode="markers", marker=dict(symbol="line-ns-open", size=14, color="#636363"), name="all", showlegend=False), 2, 1)
    fig.add_trace(go.Scatter(x=k, y=np.ones(len(k)), mode="markers", marker=dict(symbol="line-ns-open", size=14, color="#d62728"), name=f"known conductors ({len(k)})", text=list(k.index)), 2, 1)
    if threshold is not None:
        fig.add_vline(x=threshold, line=dict(color="black", dash="dash"))
    fig.update_yaxes(title_text="count", row=1, col=1)
    fig.update_yaxes(visible=False, range=[-1, 2], row=2, col=1)
    fig.update_xaxes(title_text=xlabel, row=2, col=1)
    fig.update_layout(height=420, bargap=0.05)
    return fig


def funnel_figure(funnel_table: pd.DataFrame):
    """Counts per screening stage (Fig. 2d) from :func:`sicnb.topology.funnel`."""
    go = _go()
    fig = go.Figure(go.Funnel(y=funnel_table["stage"], x=funnel_table["n"], textinfo="value+percent initial"))
    fig.update_layout(height=380, title="screening funnel")
    return fig


def cluster_sizes_figure(enrichment: pd.DataFrame):
    """Cluster sizes with the number of known conductors per cluster (Fig. 2g) from ``cluster_enrichment``."""
    go = _go()
    x = [str(c) for c in enrichment["cluster"]]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=enrichment["size"], name="structures", marker_color="#fcbba1"))
    fig.add_trace(go.Bar(x=x, y=enrichment["n_known"], name="known conductors", marker_color="#a50f15"))
    fig.update_layout(barmode="overlay", xaxis_title="cluster (by size)", yaxis_title="count", height=380)
    return fig
