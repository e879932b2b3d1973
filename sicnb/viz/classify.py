"""Figures of notebook 04 (McHaffie et al. 2025, Figs. 2–7) from result tables; nothing is computed here."""
from __future__ import annotations

import pandas as pd

__all__ = ["cv_metrics_figure", "loco_clusters_figure", "psi_vs_sigma_figure", "psi_histogram_figure",
           "psi_vs_dtraining_figure"]

_CONTROL_STYLE = {"shuffled": ("x", "grey"), "mean": ("line-ew", "black")}


def cv_metrics_figure(cv: pd.DataFrame, group: str = "features", title: str = ""):
    """AUC-PR and MCC (mean ± std over splits) per ``group`` value, model vs shuffled/mean controls
    (Figs. 2–5). ``cv`` rows: ``group``, ``model`` (model name or 'shuffled'/'mean'), ``auc_pr``, ``mcc``."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("AUC-PR", "MCC"))
    g = cv.groupby([group, "model"])[["auc_pr", "mcc"]].agg(["mean", "std"]).reset_index()
    order = list(dict.fromkeys(cv[group]))
    for model in dict.fromkeys(cv["model"]):
        sub = g[g["model"] == model].set_index(group).reindex(order).dropna(how="all")
        sym, color = _CONTROL_STYLE.get(model, ("circle", None))
        for col, metric in ((1, "auc_pr"), (2, "mcc")):
            fig.add_trace(go.Scatter(
                x=list(sub.index), y=sub[(metric, "mean")], error_y={"array": sub[(metric, "std")].fillna(0)},
                mode="markers", marker={"symbol": sym, "size": 10, **({"color": color} if color else {})},
                name=f"{model}", legendgroup=model, showlegend=col == 1), row=1, col=col)
    fig.update_layout(title=title or f"Cross-validation by {group}", height=420, template="plotly_white")
    fig.update_yaxes(range=[-0.3, 1.0], row=1, col=2)
    fig.update_yaxes(range=[0, 1.0], row=1, col=1)
    return fig


def loco_clusters_figure(clusters: pd.DataFrame, labels: pd.Series | None = None):
    """UMAP plane of the ElMD embedding coloured by LOCO cluster (Methods 4.2); hover = composition."""
    import plotly.express as px

    df = clusters.copy()
    df["cluster"] = df["cluster"].astype(str)
    if labels is not None:
        df["superionic"] = labels.to_numpy()
    fig = px.scatter(df, x="umap_x", y="umap_y", color="cluster", hover_name="composition",
                     symbol="superionic" if labels is not None else None, template="plotly_white",
                     title="LOCO clusters: ElMD → UMAP (spread 5) → DBSCAN (eps 4)")
    return fig


def psi_vs_sigma_figure(df: pd.DataFrame, threshold_log10: float = -4.0, title: str = ""):
    """P_SI (± ensemble std) vs log10 σ_exp with the class boundaries dashed (Fig. 6)."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=df["log10_sigma"], y=df["p_si"], error_y={"array": df.get("p_si_std")},
                               mode="markers", text=df.get("formula", df.index), hovertemplate="%{text}<br>log σ=%{x:.2f}<br>P_SI=%{y:.2f}"))
    fig.add_hline(y=0.5, line_dash="dash")
    fig.add_vline(x=threshold_log10, line_dash="dash")
    fig.update_layout(xaxis_title="log10 σ_exp (S/cm)", yaxis_title="P_SI", yaxis_range=[0, 1], template="plotly_white",
                      title=title or "Ensemble P_SI vs measured conductivity (held-out)")
    return fig


def psi_histogram_figure(screened: pd.DataFrame, nbins: int = 20):
    """Histogram of P_SI split by ordered/disordered (Fig. 7a)."""
    import plotly.express as px

    df = screened.dropna(subset=["p_si"]).copy()
    df["structure"] = df["is_disordered"].map({True: "disordered", False: "ordered"})
    fig = px.histogram(df, x="p_si", color="structure", nbins=nbins, barmode="stack", template="plotly_white",
                       title="P_SI of the screened pool", range_x=[0, 1])
    fig.update_layout(xaxis_title="P_SI", yaxis_title="count")
    return fig


def psi_vs_dtraining_figure(screened: pd.DataFrame):
    """P_SI vs d_training coloured by the ensemble standard deviation (Fig. 7b)."""
    import plotly.express as px

    df = screened.dropna(subset=["p_si"])
    fig = px.scatter(df, x="d_training", y="p_si", color="p_si_std", hover_name="formula", template="plotly_white",
                     title="P_SI vs distance to the nearest training structure", color_continuous_scale="Viridis")
    fig.update_layout(xaxis_title="d_training (PCA-whitened)", yaxis_title="P_SI")
    return fig


def reliability_figure(table: pd.DataFrame, title: str = ""):
    """Reliability diagram from :func:`sicnb.classify.selection.reliability_table` (observed vs mean P_SI per bin)."""
    import plotly.graph_objects as go

    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash"}, name="perfect"),
                     go.Scatter(x=table["p_mean"], y=table["observed"], mode="lines+markers", text=table["n"],
                                hovertemplate="P_SI %{x:.2f}<br>observed %{y:.2f}<br>n=%{text}", name="out-of-fold")])
    fig.update_layout(xaxis_title="mean predicted P_SI in bin", yaxis_title="observed superionic fraction", template="plotly_white",
                      xaxis_range=[0, 1], yaxis_range=[0, 1], title=title or "Reliability on LOCO out-of-fold predictions")
    return fig


def parity_figure(df: pd.DataFrame, color: str = "fold", title: str = ""):
    """Predicted vs measured log10 σ (columns log10_sigma, pred, lo, hi), coloured by held-out cluster."""
    import plotly.express as px

    d = df.assign(err_plus=df["hi"] - df["pred"], err_minus=df["pred"] - df["lo"])
    fig = px.scatter(d, x="log10_sigma", y="pred", color=d[color].astype(str), error_y="err_plus", error_y_minus="err_minus",
                     template="plotly_white", title=title or "log10 σ: LOCO out-of-fold prediction vs measurement")
    lo, hi = float(min(d["log10_sigma"].min(), d["lo"].min())), float(max(d["log10_sigma"].max(), d["hi"].max()))
    fig.add_shape(type="line", x0=lo, y0=lo, x1=hi, y1=hi, line={"dash": "dash"})
    fig.update_layout(xaxis_title="measured log10 σ (S/cm)", yaxis_title="predicted log10 σ (S/cm)", legend_title="held-out")
    return fig
