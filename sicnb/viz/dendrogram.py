"""Figures for notebook 02: the Ward dendrogram with label strips (thesis Fig. 2.3), the descriptor
ranking (Fig. 2.2) and W_σ-vs-depth curves (Fig. A.1), plus an interactive dendrogram widget.

Inputs are tables computed by :mod:`sicnb.cluster` (linkage, per-depth assignments, W curves);
nothing here computes descriptors or physics.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

__all__ = ["dendrogram_figure", "dendrogram_widget", "screening_figure", "wsigma_curves_figure"]


def dendrogram_figure(Z: np.ndarray, assignments: pd.DataFrame, labels: pd.Series, depth: int = 30,
                      high_log10_sigma: float = -5.0, low_ea: pd.Series | None = None, title: str | None = None):
    """Top of the Ward hierarchy cut at ``depth`` clusters; leaves coloured by mean log10 σ of their labels,
    sized by label count; strips below: number of high-σ labels (σ > 1e-5 S/cm) and, if given, of
    structures with BVSE E_a < 0.6 eV (``low_ea``: boolean Series by id)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    from scipy.cluster.hierarchy import dendrogram

    d = int(min(depth, assignments.columns.max()))
    R = dendrogram(Z, truncate_mode="lastp", p=d, no_plot=True)
    xs, ys = [], []
    for ic, dc in zip(R["icoord"], R["dcoord"]):
        xs += list(ic) + [None]
        ys += list(dc) + [None]
    a = assignments[d]
    lab = labels.dropna()
    lab = lab[lab.index.isin(a.index)]
    leaves = [int(c) for c in R["leaves"]]
    size = a.value_counts()
    by = lab.groupby(a.loc[lab.index])
    mean = by.mean()
    count = by.size()
    high = (lab > high_log10_sigma).groupby(a.loc[lab.index]).sum()
    lx = 5.0 + 10.0 * np.arange(len(leaves))
    fig = make_subplots(rows=3 if low_ea is not None else 2, cols=1, shared_xaxes=True,
                        row_heights=[0.7, 0.15, 0.15] if low_ea is not None else [0.8, 0.2], vertical_spacing=0.02)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#555", width=1), hoverinfo="skip", showlegend=False), 1, 1)
    cmean = [float(mean.get(c, np.nan)) for c in leaves]
    fig.add_trace(go.Scatter(
        x=lx, y=np.zeros(len(leaves)), mode="markers",
        marker=dict(size=[6 + 2 * np.sqrt(count.get(c, 0)) for c in leaves], color=cmean, colorscale="Viridis",
                    colorbar=dict(title="mean log10 σ", len=0.6, y=0.65), showscale=True, line=dict(width=0.5, color="#222")),
        customdata=np.array([[c, int(size.get(c, 0)), int(count.get(c, 0)), int(high.get(c, 0))] for c in leaves]),
        hovertemplate="cluster %{customdata[0]}<br>%{customdata[1]} structures<br>%{customdata[2]} labels"
                      "<br>%{customdata[3]} high-σ labels<br>mean log10 σ %{marker.color:.2f}<extra></extra>",
        showlegend=False), 1, 1)
    fig.add_trace(go.Bar(x=lx, y=[int(high.get(c, 0)) for c in leaves], width=8, marker_color="crimson",
                         name="σ > 1e-5 S/cm labels"), 2, 1)
    if low_ea is not None:
        le = low_ea.reindex(a.index).fillna(False).astype(bool)
        cnt = le.groupby(a).sum()
        fig.add_trace(go.Bar(x=lx, y=[int(cnt.get(c, 0)) for c in leaves], width=8, marker_color="teal",
                             name="BVSE E_a < 0.6 eV"), 3, 1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(title_text="Ward distance", row=1, col=1)
    fig.update_yaxes(title_text="high σ", row=2, col=1)
    fig.update_layout(title=title or f"Ward dendrogram cut at {d} clusters", height=560, bargap=0.1,
                      legend=dict(orientation="h", y=-0.05))
    return fig


def screening_figure(ranking_curves: pd.DataFrame, order: list[str] | None = None, depth_range: tuple[int, int] = (2, 50),
                     value: str = "W_sigma", control_label: str = "control (random assignment)"):
    """Fig. 2.2: W per depth for each combination (violin + points), sorted by mean, with the control."""
    import plotly.graph_objects as go

    lo, hi = depth_range
    sel = ranking_curves[(ranking_curves["depth"] >= lo) & (ranking_curves["depth"] <= hi)]
    order = order or list(sel.groupby("combination")[value].mean().sort_values().index)
    fig = go.Figure()
    for combo in order:
        v = sel.loc[sel["combination"] == combo, value]
        fig.add_trace(go.Violin(y=[combo] * len(v), x=v, orientation="h", side="positive", points="all", pointpos=-0.4,
                                jitter=0.3, marker_size=3, name=combo, showlegend=False, line_width=1))
    ctrl = f"{value}_control_mean"
    if ctrl in sel:
        c = sel.groupby("depth")[ctrl].mean()
        fig.add_trace(go.Violin(y=[control_label] * len(c), x=c, orientation="h", side="positive", points="all",
                                pointpos=-0.4, jitter=0.3, marker_size=3, name=control_label, showlegend=False,
                                line_color="grey"))
    fig.update_layout(title=f"{value} for clustering depths {lo}–{hi} (lower is better)", xaxis_title=value,
                      height=max(300, 40 * (len(order) + 1)), yaxis=dict(autorange="reversed"))
    return fig


def wsigma_curves_figure(curves: pd.DataFrame, combinations: list[str] | None = None, value: str = "W_sigma",
                         show_control: bool = True):
    """Fig. A.1: W vs clustering depth for chosen combinations, with the control mean ± std band."""
    import plotly.graph_objects as go

    combos = combinations or list(curves["combination"].unique())
    fig = go.Figure()
    for combo in combos:
        c = curves[curves["combination"] == combo]
        fig.add_trace(go.Scatter(x=c["depth"], y=c[value], mode="lines", name=combo))
    ctrl = f"{value}_control_mean"
    if show_control and ctrl in curves:
        c = curves[curves["combination"] == combos[0]]
        sd = c.get(f"{value}_control_std", 0 * c[ctrl])
        fig.add_trace(go.Scatter(x=np.r_[c["depth"], c["depth"][::-1]], y=np.r_[c[ctrl] + sd, (c[ctrl] - sd)[::-1]],
                                 fill="toself", line=dict(width=0), fillcolor="rgba(128,128,128,0.25)", name="control ± std",
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=c["depth"], y=c[ctrl], mode="lines", line=dict(color="grey", dash="dash"), name="control mean"))
    fig.update_layout(title=f"{value} vs number of clusters", xaxis_title="clustering depth (number of clusters)",
                      yaxis_title=value, height=420)
    return fig


def dendrogram_widget(Z: np.ndarray, assignments: pd.DataFrame, labels: pd.Series, members: pd.DataFrame,
                      structures: Mapping | None = None, depth: int = 30, low_ea: pd.Series | None = None):
    """Dendrogram with a depth slider; choosing a cluster lists its members (``members``: id-indexed table,
    e.g. formula, log10_sigma, BVSE E_a) and shows the first member's structure (nglview, else a text summary)."""
    import ipywidgets as w
    from IPython.display import display

    from sicnb.viz import show

    depths = list(assignments.columns)
    slider = w.IntSlider(value=min(depth, max(depths)), min=min(depths), max=max(depths), description="depth",
                         continuous_update=False)
    pick = w.Dropdown(description="cluster")
    fig_out, table_out, view_out = w.Output(), w.Output(), w.Output()

    def _redraw(*_):
        a = assignments[slider.value]
        counts = a.value_counts()
        lab = labels.dropna()
        nlab = a.loc[lab.index.intersection(a.index)].value_counts()
        pick.options = [(f"{c}: {counts[c]} structures, {int(nlab.get(c, 0))} labels", int(c))
                        for c in counts.sort_values(ascending=False).index]
        with fig_out:
            fig_out.clear_output(wait=True)
            # plotly's own view only: a kaleido PNG rendered inside an ipywidgets Output capture never lets
            # papermill/nbclient see the cell finish (the kernel goes idle, the client waits forever)
            show(dendrogram_figure(Z, assignments, labels, slider.value, low_ea=low_ea), static=False)

    def _members(*_):
        if pick.value is None:
            return
        ids = assignments.index[assignments[slider.value] == pick.value]
        with table_out:
            table_out.clear_output(wait=True)
            display(members.reindex(ids).head(200))

    def _view(_button):
        ids = assignments.index[assignments[slider.value] == pick.value]
        with view_out:
            view_out.clear_output(wait=True)
            if structures is not None and len(ids):
                s = structures.get(ids[0])
                try:
                    import nglview

                    display(nglview.show_pymatgen(s))
                except Exception:  # noqa: BLE001 - static fallback where nglview cannot render
                    print(s)

    button = w.Button(description="show first member")
    button.on_click(_view)
    slider.observe(_redraw, names="value")
    pick.observe(_members, names="value")
    _redraw()
    return w.VBox([slider, fig_out, w.HBox([pick, button]), w.HBox([table_out, view_out])])
