"""MSD fits, Nernst–Einstein conductivity and Arrhenius fits (Maevskiy et al., Sec. II C, eqs. 5–6, Table I, App. D)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import constants, stats

from sicnb.errors import ParameterError

__all__ = ["DiffusionFit", "ArrheniusFit", "msd_curve", "windowed_diffusion", "nernst_einstein_sigma", "arrhenius_fit"]

_A2_PER_PS_TO_CM2_PER_S = 1e-16 / 1e-12  # Å²/ps → cm²/s
K_B_EV = constants.k / constants.e  # eV/K


@dataclass
class DiffusionFit:
    """Windowed MSD fit: D (cm²/s) = mean over windows of slope/6 (eq. 5); D_err = standard error over windows."""

    D_cm2_s: float
    D_err_cm2_s: float
    n_windows: int
    window_ps: float
    fit_start_ps: float
    fit_end_ps: float
    window_D_cm2_s: np.ndarray


@dataclass
class ArrheniusFit:
    """``D = D0 exp(-E_A / k_B T)`` by weighted least squares on ln D; ``sigma_300K`` is an extrapolation."""

    E_A_eV: float
    E_A_err_eV: float
    ln_D0: float
    chi2_per_df: float
    p_value: float
    n_points: int
    cov: np.ndarray

    def D_at(self, temperature_k: float) -> tuple[float, float]:
        """Extrapolated D (cm²/s) and its 1σ uncertainty at ``temperature_k`` (error propagated from the fit covariance)."""
        x = np.array([1.0, -1.0 / (K_B_EV * temperature_k)])
        ln_d = self.ln_D0 - self.E_A_eV / (K_B_EV * temperature_k)
        var = float(x @ self.cov @ x)
        d = float(np.exp(ln_d))
        return d, d * float(np.sqrt(max(var, 0.0)))


def msd_curve(unwrapped_positions: np.ndarray, times_ps: np.ndarray, max_lag_frames: int | None = None,
              n_origins: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Time-averaged MSD (Å²) of a set of atoms vs lag time (ps), averaged over atoms and up to ``n_origins`` time origins.

    ``unwrapped_positions``: frames × atoms × 3 (Å). For the log–log diagnostic plot.
    """
    x = np.asarray(unwrapped_positions, dtype=float)
    nf = x.shape[0]
    max_lag = nf - 1 if max_lag_frames is None else min(max_lag_frames, nf - 1)
    lags = np.unique(np.geomspace(1, max(max_lag, 1), num=min(60, max(max_lag, 1))).astype(int))
    msd = np.empty(lags.size)
    for i, lag in enumerate(lags):
        origins = np.linspace(0, nf - 1 - lag, num=min(n_origins, nf - lag)).astype(int)
        d = x[origins + lag] - x[origins]
        msd[i] = float(np.mean(np.sum(d * d, axis=-1)))
    dt = float(times_ps[1] - times_ps[0]) if len(times_ps) > 1 else 1.0
    return lags * dt, msd


def windowed_diffusion(unwrapped_positions: np.ndarray, times_ps: np.ndarray, window_ps: float = 15.0,
                       fit_start_ps: float = 1.0, fit_end_ps: float | None = None) -> DiffusionFit:
    """Sec. II C: split the trajectory into non-overlapping ``window_ps`` windows; in each, MSD(t) from the window start
    averaged over the atoms, linear fit on ``[fit_start_ps, fit_end_ps]`` (default the window end), D = slope/6.
    D = mean over windows, uncertainty = standard deviation over windows / sqrt(n) (NaN for one window).

    The paper uses 15 ps windows fitted from 1 to 15 ps (App. D compares 0 and 5 ps starts)."""
    x = np.asarray(unwrapped_positions, dtype=float)
    t = np.asarray(times_ps, dtype=float)
    if x.ndim != 3 or x.shape[0] != t.size:
        raise ParameterError(f"positions must be frames×atoms×3 matching times; got {x.shape} and {t.shape}")
    fit_end_ps = window_ps if fit_end_ps is None else fit_end_ps
    if not (0 <= fit_start_ps < fit_end_ps <= window_ps):
        raise ParameterError(f"need 0 <= fit_start_ps < fit_end_ps <= window_ps, got {fit_start_ps}, {fit_end_ps}, {window_ps}")
    dt = float(t[1] - t[0])
    per_window = int(round(window_ps / dt)) + 1
    if per_window > t.size:
        raise ParameterError(f"trajectory of {t[-1] - t[0]:.3g} ps is shorter than one {window_ps} ps window; run longer or shorten window_ps")
    ds = []
    for start in range(0, t.size - per_window + 1, per_window - 1):
        seg = x[start : start + per_window]
        tt = t[start : start + per_window] - t[start]
        msd = np.mean(np.sum((seg - seg[0]) ** 2, axis=-1), axis=1)
        sel = (tt >= fit_start_ps - 1e-9) & (tt <= fit_end_ps + 1e-9)
        slope = np.polyfit(tt[sel], msd[sel], 1)[0]
        ds.append(slope / 6.0 * _A2_PER_PS_TO_CM2_PER_S)
    ds_arr = np.asarray(ds)
    err = float(np.std(ds_arr, ddof=1) / np.sqrt(ds_arr.size)) if ds_arr.size > 1 else float("nan")
    return DiffusionFit(float(ds_arr.mean()), err, int(ds_arr.size), window_ps, fit_start_ps, fit_end_ps, ds_arr)


def nernst_einstein_sigma(D_cm2_s: float, n_carriers: int, volume_A3: float, temperature_k: float, charge: int = 1) -> float:
    """Eq. 6: ``σ = n q² D / (k_B T)`` in S/cm, with ``n = n_carriers / volume`` (no Haven ratio)."""
    n_cm3 = n_carriers / (volume_A3 * 1e-24)
    q = charge * constants.e
    return float(n_cm3 * q * q * D_cm2_s / (constants.k * temperature_k))


def arrhenius_fit(temperatures_k: Sequence[float], D_cm2_s: Sequence[float], D_err_cm2_s: Sequence[float]) -> ArrheniusFit:
    """Weighted least squares of ``ln D = ln D0 - E_A/(k_B T)`` with weights ``(D/σ_D)²`` (Table I: E_A, χ²/df, p-value).

    Non-positive D are rejected (the fit is in log space); at least 3 points give a χ² test (df = n - 2)."""
    T = np.asarray(temperatures_k, dtype=float)
    D = np.asarray(D_cm2_s, dtype=float)
    E = np.asarray(D_err_cm2_s, dtype=float)
    ok = (D > 0) & np.isfinite(D)
    if ok.sum() < 2:
        raise ParameterError(f"Arrhenius fit needs >= 2 positive diffusivities, got {D.tolist()}")
    T, D, E = T[ok], D[ok], E[ok]
    sig = np.where(np.isfinite(E) & (E > 0), E / D, np.nan)
    if np.isnan(sig).any():  # missing uncertainties: use the largest relative one given, else 30 %
        fill = np.nanmax(sig) if np.isfinite(sig).any() else 0.3
        sig = np.where(np.isnan(sig), fill, sig)
    A = np.column_stack([np.ones_like(T), -1.0 / (K_B_EV * T)])
    W = np.diag(1.0 / sig**2)
    y = np.log(D)
    cov = np.linalg.inv(A.T @ W @ A)
    beta = cov @ A.T @ W @ y
    resid = (y - A @ beta) / sig
    df = len(T) - 2
    chi2 = float(resid @ resid)
    return ArrheniusFit(
        E_A_eV=float(beta[1]), E_A_err_eV=float(np.sqrt(cov[1, 1])), ln_D0=float(beta[0]),
        chi2_per_df=chi2 / df if df > 0 else float("nan"), p_value=float(stats.chi2.sf(chi2, df)) if df > 0 else float("nan"),
        n_points=int(len(T)), cov=cov,
    )
