"""MSD fits, Nernst–Einstein conductivity and Arrhenius fits (Maevskiy et al., Sec. II C, eqs. 5–6, Table I, App. D)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import constants, stats

from sicnb.errors import ParameterError

__all__ = ["DiffusionFit", "ArrheniusFit", "KinisiFit", "msd_curve", "windowed_diffusion", "kinisi_diffusion",
           "nernst_einstein_sigma", "arrhenius_fit", "arrhenius_curve"]

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


@dataclass
class KinisiFit:
    """kinisi's estimate: D (cm²/s) = posterior mean, ``D_err_cm2_s`` = posterior std, ``D_ci95_cm2_s`` = 2.5/97.5 %
    quantiles; the MSD (Å²) with its standard error on the ``dt_ps`` time intervals used (the log–log diagnostic)."""

    D_cm2_s: float
    D_err_cm2_s: float
    D_ci95_cm2_s: tuple[float, float]
    start_dt_ps: float
    dt_ps: np.ndarray
    msd_A2: np.ndarray
    msd_err_A2: np.ndarray


def kinisi_diffusion(unwrapped_positions: np.ndarray, times_ps: np.ndarray, species: Sequence[str], lattice_matrix: np.ndarray,
                     mobile_ion: str = "Li", start_dt_ps: float = 1.0, n_dt: int = 40, n_samples: int = 500,
                     seed: int = 0) -> KinisiFit:
    """D of ``mobile_ion`` by kinisi (McCluskey et al., J. Chem. Theory Comput. 2024): MSD over all time origins with
    its covariance, Bayesian generalised-least-squares fit of MSD = 6 D t + c from ``start_dt_ps`` (eq. 5).

    An independent check of :func:`windowed_diffusion` (the paper's estimator, kept as the default because Sec. II C
    defines D and its uncertainty by the window spread); kinisi uses every time origin and the correlation between
    MSD points, so its uncertainty is better founded on short runs. ``n_dt`` log-spaced time intervals keep the
    covariance matrix small. Positions: frames × atoms × 3 (Å), unwrapped or wrapped (kinisi unwraps).
    """
    import scipp as sc
    from ase import Atoms
    from kinisi.analyze import DiffusionAnalyzer

    x = np.asarray(unwrapped_positions, dtype=float)
    t = np.asarray(times_ps, dtype=float)
    if x.ndim != 3 or x.shape[0] != t.size or x.shape[1] != len(species):
        raise ParameterError(f"positions must be frames×atoms×3 matching times and species; got {x.shape}, {t.shape}, {len(species)}")
    dt = float(t[1] - t[0])
    n_frames = t.size
    if start_dt_ps >= t[-1] - t[0]:
        raise ParameterError(f"start_dt_ps={start_dt_ps} is not shorter than the trajectory ({t[-1] - t[0]:.3g} ps); run longer")
    frames = [Atoms(list(species), positions=p, cell=lattice_matrix, pbc=True) for p in x]
    steps = np.unique(np.round(np.geomspace(1, n_frames - 1, n_dt)).astype(int))
    dts = sc.array(dims=["time interval"], values=steps * dt, unit="ps")
    with np.errstate(all="ignore"):
        da = DiffusionAnalyzer.from_ase(frames, specie=mobile_ion, time_step=sc.scalar(dt, unit="ps"), step_skip=sc.scalar(1),
                                        dt=dts, progress=False)
        da.diffusion(sc.scalar(float(start_dt_ps), unit="ps"), progress=False, n_samples=n_samples, n_burn=n_samples,
                     random_state=np.random.RandomState(seed))
    d = sc.to_unit(da.D, "cm^2/s").values
    msd = da.msd
    var = msd.variances if msd.variances is not None else np.full(msd.values.shape, np.nan)
    return KinisiFit(
        D_cm2_s=float(np.mean(d)), D_err_cm2_s=float(np.std(d, ddof=1)),
        D_ci95_cm2_s=(float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975))), start_dt_ps=float(start_dt_ps),
        dt_ps=np.asarray(sc.to_unit(da.dt, "ps").values, dtype=float), msd_A2=np.asarray(sc.to_unit(msd, "angstrom^2").values, dtype=float),
        msd_err_A2=np.sqrt(np.asarray(var, dtype=float)),
    )


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


def arrhenius_curve(fit: ArrheniusFit, n_carriers: int, volume_A3: float, t_min_k: float, t_max_k: float,
                    t_extrapolate_k: float = 300.0, n_points: int = 60) -> "pd.DataFrame":
    """σ(T) (S/cm, eq. 6 applied to the Arrhenius D(T) of the fit) with its 1σ band, from ``t_extrapolate_k`` to ``t_max_k``.

    Columns ``temperature_K, inv_T_1000_per_K, D_cm2_s, sigma_S_cm, sigma_err_S_cm, extrapolated`` (True below
    ``t_min_k``, the lowest simulated temperature): the rows below the data are an extrapolation and must be labelled so."""
    import pandas as pd

    lo = min(t_extrapolate_k, t_min_k)
    temps = np.unique(np.concatenate([1.0 / np.linspace(1.0 / lo, 1.0 / t_max_k, n_points), [t_min_k, t_extrapolate_k]]))
    rows = []
    for T in temps:
        d, de = fit.D_at(float(T))
        rows.append({"temperature_K": float(T), "inv_T_1000_per_K": 1000.0 / float(T), "D_cm2_s": d,
                     "sigma_S_cm": nernst_einstein_sigma(d, n_carriers, volume_A3, float(T)),
                     "sigma_err_S_cm": nernst_einstein_sigma(de, n_carriers, volume_A3, float(T)),
                     "extrapolated": bool(T < t_min_k - 1e-9)})
    return pd.DataFrame(rows)
