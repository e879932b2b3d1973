"""MD validation figures (Maevskiy et al., Sec. II C, Fig. 4, App. D) — draws, never computes physics.

>>> lag, msd = sicnb.md.msd_curve(traj.select("Li"), traj.times_ps)
>>> show(msd_loglog_figure(lag, msd, fit_window_ps=(1.0, 15.0), D_cm2_s=fit.D_cm2_s))
>>> curve = sicnb.md.arrhenius_curve(fit, n_carriers, volume_A3, 600, 1000)       # σ(T) incl. 300 K extrapolation
>>> show(arrhenius_figure(md_table, curve, label="Li7P3S11"))

The numbers (MSD, D, the Arrhenius fit and its extrapolated σ(T) band) come from :mod:`sicnb.md`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sicnb.errors import ParameterError

__all__ = ["msd_loglog_figure", "arrhenius_figure"]

_A2_PS_PER_CM2_S = 1e4  # 1 cm²/s = 1e16 Å² / 1e12 ps


def msd_loglog_figure(lag_ps: Sequence[float], msd_A2: Sequence[float], *, msd_err_A2: Sequence[float] | None = None,
                      framework_lag_ps: Sequence[float] | None = None, framework_msd_A2: Sequence[float] | None = None,
                      fit_window_ps: tuple[float, float] | None = None, D_cm2_s: float | None = None, label: str = "Li",
                      title: str = "") -> go.Figure:
    """Log–log MSD (Å²) vs lag (ps): the mobile ion (with its standard error if given), the framework (melting check),
    the fit window shaded, the fitted ``6 D t`` line (eq. 5) over the window, and a slope-1 guide (diffusive regime)."""
    lag = np.asarray(lag_ps, dtype=float)
    msd = np.asarray(msd_A2, dtype=float)
    if lag.shape != msd.shape or lag.ndim != 1:
        raise ParameterError(f"lag_ps and msd_A2 must be 1-D of equal length, got {lag.shape} and {msd.shape}")
    ok = (lag > 0) & (msd > 0) & np.isfinite(msd)
    fig = go.Figure()
    err = None if msd_err_A2 is None else dict(type="data", array=np.asarray(msd_err_A2, dtype=float)[ok], visible=True)
    fig.add_trace(go.Scatter(x=lag[ok], y=msd[ok], mode="lines+markers", marker=dict(size=4), error_y=err, name=f"{label} MSD"))
    if framework_msd_A2 is not None:
        fl = np.asarray(framework_lag_ps if framework_lag_ps is not None else lag, dtype=float)
        fm = np.asarray(framework_msd_A2, dtype=float)
        fok = (fl > 0) & (fm > 0)
        fig.add_trace(go.Scatter(x=fl[fok], y=fm[fok], mode="lines", line=dict(color="grey"), name="framework MSD (melting check)"))
    if fit_window_ps is not None:
        a, b = fit_window_ps
        fig.add_vrect(x0=max(a, lag[ok].min() if ok.any() else a), x1=b, fillcolor="orange", opacity=0.15, line_width=0,
                      annotation_text="fit window", annotation_position="top left")
        if D_cm2_s is not None and D_cm2_s > 0:
            t = np.geomspace(max(a, lag[ok].min() if ok.any() else a), b, 20)
            fig.add_trace(go.Scatter(x=t, y=6.0 * D_cm2_s * _A2_PS_PER_CM2_S * t, mode="lines", line=dict(dash="dash", color="black"),
                                     name=f"6Dt, D = {D_cm2_s:.2e} cm²/s"))
    if ok.sum() >= 2:
        x0, y0 = lag[ok][-1], msd[ok][-1]
        t = np.geomspace(lag[ok].min(), lag[ok].max(), 10)
        fig.add_trace(go.Scatter(x=t, y=y0 * t / x0, mode="lines", line=dict(dash="dot", color="purple"), name="slope 1 (diffusive)"))
    fig.update_layout(xaxis_type="log", yaxis_type="log", xaxis_title="lag time (ps)", yaxis_title="MSD (Å²)",
                      title=title or f"{label}: log–log MSD (slope 1 = diffusive, < 1 = sub-diffusive / not converged)")
    return fig


def arrhenius_figure(md_table: pd.DataFrame, curve: pd.DataFrame | None = None, *, label: str = "", E_A_eV: float | None = None,
                     E_A_err_eV: float | None = None, fig: go.Figure | None = None, color: str | None = None) -> go.Figure:
    """σ (S/cm, log) vs 1000/T with error bars from ``md_table`` (columns ``temperature_K, sigma_S_cm, sigma_err_S_cm``),
    the Arrhenius fit ``curve`` from :func:`sicnb.md.arrhenius_curve` (solid over the data, dashed where extrapolated, a
    1σ band), and the extrapolated room-temperature point labelled as an extrapolation. Pass ``fig`` to overlay structures."""
    need = {"temperature_K", "sigma_S_cm"}
    if not need <= set(md_table.columns):
        raise ParameterError(f"md_table needs columns {sorted(need)}, has {list(md_table.columns)}")
    fig = fig if fig is not None else go.Figure()
    color = color or ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"][len(fig.data) // 4 % 5]
    ea = f", E_A = {E_A_eV:.2f}" + (f" ± {E_A_err_eV:.2f}" if E_A_err_eV is not None else "") + " eV" if E_A_eV is not None else ""
    t = md_table[md_table.sigma_S_cm > 0]
    err = t["sigma_err_S_cm"] if "sigma_err_S_cm" in t else None
    fig.add_trace(go.Scatter(x=1000.0 / t.temperature_K, y=t.sigma_S_cm, mode="markers", marker=dict(size=9, color=color),
                             error_y=None if err is None else dict(type="data", array=err.fillna(0.0), visible=True),
                             name=f"{label} MD{ea}"))
    if curve is not None and len(curve):
        for extrap, dash in ((False, "solid"), (True, "dash")):
            # the extrapolated segment includes the lowest simulated T so the two pieces join
            c = curve[curve.extrapolated] if extrap else curve[~curve.extrapolated]
            if extrap and len(c):
                c = pd.concat([c, curve[~curve.extrapolated].head(1)])
            c = c.sort_values("inv_T_1000_per_K")
            if not len(c):
                continue
            lo = (c.sigma_S_cm - c.sigma_err_S_cm).clip(lower=c.sigma_S_cm * 1e-3)
            hi = c.sigma_S_cm + c.sigma_err_S_cm
            fig.add_trace(go.Scatter(x=np.concatenate([c.inv_T_1000_per_K, c.inv_T_1000_per_K[::-1]]), y=np.concatenate([hi, lo[::-1]]),
                                     fill="toself", fillcolor=color, opacity=0.12, line=dict(width=0), hoverinfo="skip", showlegend=False))
            fig.add_trace(go.Scatter(x=c.inv_T_1000_per_K, y=c.sigma_S_cm, mode="lines", line=dict(color=color, dash=dash),
                                     name=f"{label} Arrhenius fit" + (" (extrapolated)" if extrap else ""), showlegend=not extrap))
        rt = curve[curve.extrapolated]
        if len(rt):
            r = rt.sort_values("temperature_K").iloc[0]
            fig.add_trace(go.Scatter(x=[r.inv_T_1000_per_K], y=[r.sigma_S_cm], mode="markers+text",
                                     marker=dict(symbol="star-open", size=14, color=color),
                                     error_y=dict(type="data", array=[r.sigma_err_S_cm], visible=True),
                                     text=[f"{r.temperature_K:.0f} K extrapolated: {r.sigma_S_cm:.1e} S/cm"], textposition="top right",
                                     name=f"{label} σ({r.temperature_K:.0f} K), extrapolated"))
    fig.update_layout(yaxis_type="log", xaxis_title="1000/T (1/K)", yaxis_title="σ (S/cm)",
                      title="ML-potential MD conductivity, Arrhenius fit and its room-temperature extrapolation")
    return fig
