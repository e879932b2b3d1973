"""sicnb.md: windowed MSD fits, Nernst–Einstein, Arrhenius WLS, and a short real MD run."""
from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from scipy import constants

from sicnb.errors import ParameterError
from sicnb.md import arrhenius_fit, msd_curve, nernst_einstein_sigma, windowed_diffusion


def _random_walk(D_A2_ps: float, n_atoms=200, n_frames=3001, dt_ps=0.01, seed=0):
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, np.sqrt(2 * D_A2_ps * dt_ps), size=(n_frames - 1, n_atoms, 3))
    pos = np.concatenate([np.zeros((1, n_atoms, 3)), np.cumsum(steps, axis=0)])
    return pos, np.arange(n_frames) * dt_ps


def test_windowed_diffusion_recovers_known_D():
    pos, t = _random_walk(0.5)  # 0.5 Å²/ps = 5e-5 cm²/s
    fit = windowed_diffusion(pos, t, window_ps=10.0, fit_start_ps=1.0)
    assert fit.n_windows == 3
    assert fit.D_cm2_s == pytest.approx(5e-5, rel=0.1)
    assert 0 < fit.D_err_cm2_s < 1e-5


def test_windowed_diffusion_rejects_short_trajectory():
    pos, t = _random_walk(0.5, n_frames=101)
    with pytest.raises(ParameterError, match="shorter than one"):
        windowed_diffusion(pos, t, window_ps=15.0)


def test_msd_curve_is_linear_for_brownian_motion():
    pos, t = _random_walk(0.2, n_frames=1001)
    lag, msd = msd_curve(pos, t)
    slope = np.polyfit(np.log(lag[lag > 0.1]), np.log(msd[lag > 0.1]), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.1)


def test_nernst_einstein_matches_hand_value():
    # n = 1 carrier per 100 Å^3 = 1e22 cm^-3; D = 1e-5 cm²/s; T = 300 K → σ = n e² D / kT
    expected = 1e22 * constants.e**2 * 1e-5 / (constants.k * 300.0)
    assert nernst_einstein_sigma(1e-5, 1, 100.0, 300.0) == pytest.approx(expected)
    assert expected == pytest.approx(0.619, rel=1e-2)  # S/cm


def test_arrhenius_fit_recovers_activation_energy():
    kb = constants.k / constants.e
    T = np.array([500.0, 667.0, 800.0, 1000.0])
    D = 1e-3 * np.exp(-0.25 / (kb * T))
    fit = arrhenius_fit(T, D, 0.05 * D)
    assert fit.E_A_eV == pytest.approx(0.25, abs=1e-9)
    assert fit.chi2_per_df == pytest.approx(0.0, abs=1e-12)
    d300, err = fit.D_at(300.0)
    assert d300 == pytest.approx(1e-3 * np.exp(-0.25 / (kb * 300.0)), rel=1e-9) and err > 0
    # noisy data: chi2/df ~ 1 and p-value in (0, 1)
    rng = np.random.default_rng(1)
    Dn = D * np.exp(rng.normal(0, 0.1, D.size))
    fit2 = arrhenius_fit(T, Dn, 0.1 * Dn)
    assert 0 < fit2.p_value < 1 and abs(fit2.E_A_eV - 0.25) < 0.05


def test_arrhenius_rejects_nonpositive():
    with pytest.raises(ParameterError):
        arrhenius_fit([500, 1000], [-1e-6, 1e-5], [1e-6, 1e-6])


def _li3n() -> Structure:
    """Li3N (P6/mmm, a = 3.648 Å, c = 3.875 Å; Rabenau & Schulz 1976), a fast Li-ion conductor; 4-atom cell."""
    return Structure(Lattice.hexagonal(3.648, 3.875), ["N", "Li", "Li", "Li"], [[0, 0, 0], [0, 0, 0.5], [1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0]])


@pytest.fixture(scope="module")
def hot_li3n_validation():
    """md_validation with real CHGNet MD: Li3N's 4-atom cell at 2500 and 3000 K (above its 1086 K melting point, so Li
    diffuses within 0.4 ps), 2 fs steps, 0.05 ps equilibration, strong Nosé–Hoover coupling (20 fs): 450 steps in all."""
    from sicnb.md import md_validation

    trajectories = []
    table, summary = md_validation(_li3n(), temperatures_k=(2500.0, 3000.0), time_ps=0.4, window_ps=0.2, fit_start_ps=0.05,
                                   on_trajectory=trajectories.append, potential="chgnet", timestep_fs=2.0, equilibration_ps=0.05,
                                   sample_fs=10.0, min_length_A=3.0, thermostat_fs=20.0)
    return table, summary, trajectories


def test_real_md_is_unwrapped_thermostatted_and_diffusive(hot_li3n_validation):
    from sicnb.md import windowed_diffusion

    _, _, trajectories = hot_li3n_validation
    assert [t.temperature_k for t in trajectories] == [2500.0, 3000.0]
    for traj in trajectories:
        assert traj.positions_A.shape == (41, 4, 3) and np.isfinite(traj.positions_A).all()
        assert traj.potential.startswith("chgnet")
        # unwrapped: no frame-to-frame jump of a lattice vector (≥ 3.6 Å); 10 fs at ~2 km/s is ~0.2 Å
        assert np.abs(np.diff(traj.positions_A, axis=0)).max() < 1.5
        assert traj.mean_temperature_k == pytest.approx(traj.temperature_k, rel=0.2)
        li = traj.select("Li")
        msd = np.mean(np.sum((li - li[0]) ** 2, axis=-1), axis=1)
        assert msd[-10:].mean() > 1.5 > msd[1]  # beyond the vibrational amplitude: the Li ions move on
        fit = windowed_diffusion(li, traj.times_ps, window_ps=0.2, fit_start_ps=0.05)
        assert np.isfinite(fit.D_cm2_s) and fit.D_cm2_s > 0


def test_md_validation_table_follows_nernst_einstein_and_arrhenius(hot_li3n_validation):
    table, summary, trajectories = hot_li3n_validation
    assert list(table["temperature_K"]) == [2500.0, 3000.0] and (table["n_atoms"] == 4).all()
    assert (table["D_cm2_s"] > 0).all() and np.isfinite(table["D_err_cm2_s"]).all()
    volume = trajectories[0].volume_A3
    for _, row in table.iterrows():
        assert row["sigma_S_cm"] == pytest.approx(nernst_einstein_sigma(row["D_cm2_s"], 3, volume, row["temperature_K"]), rel=1e-9)
    assert summary["formula"] == "Li3N" and summary["n_carriers"] == 3 and summary["volume_A3"] == pytest.approx(volume)
    assert "arrhenius_error" not in summary and np.isfinite(summary["E_A_eV"])
    assert np.isfinite(summary["sigma_300K_extrapolated_S_cm"])
    assert {"D_kinisi_cm2_s", "D_kinisi_err_cm2_s"} <= set(table.columns)  # kinisi's cross-check ran or said why not
    assert table["D_kinisi_cm2_s"].notna().all() or table["kinisi_error"].astype(bool).all()


def test_sevennet_md_runs():
    """SevenNet-0 (the paper's MD potential, App. A; weights in its wheel) stays selectable beside the M3GNet default."""
    from sicnb.md import run_md

    traj = run_md(_li3n(), 1000.0, time_ps=0.02, timestep_fs=2.0, equilibration_ps=0.0, sample_fs=2.0, min_length_A=3.0,
                  potential="sevennet")
    assert traj.potential.startswith("sevennet") and traj.positions_A.shape == (11, 4, 3)
    assert np.isfinite(traj.positions_A).all() and 100 < traj.mean_temperature_k < 3000


@pytest.mark.slow
def test_short_real_md_runs_and_keeps_unwrapped_positions(li2o):
    from sicnb.md import run_md

    traj = run_md(li2o, 1000.0, time_ps=0.05, potential="chgnet", timestep_fs=1.0, equilibration_ps=0.0, sample_fs=5.0,
                  min_length_A=4.0)
    assert traj.positions_A.shape[0] == 11 and np.isfinite(traj.positions_A).all()
    assert 200 < traj.mean_temperature_k < 3000


def test_kinisi_recovers_known_D():
    from sicnb.md import kinisi_diffusion

    pos, t = _random_walk(0.5, n_atoms=32, n_frames=501, dt_ps=0.02)  # 5e-5 cm²/s
    pos = pos + 5.0
    fit = kinisi_diffusion(pos, t, ["Li"] * 32, np.eye(3) * 10.0, "Li", start_dt_ps=1.0, n_samples=200)
    assert fit.D_ci95_cm2_s[0] < 5e-5 < fit.D_ci95_cm2_s[1]
    assert fit.D_cm2_s == pytest.approx(5e-5, rel=0.25) and 0 < fit.D_err_cm2_s < 2e-5
    assert fit.msd_A2.shape == fit.dt_ps.shape and np.all(np.diff(fit.dt_ps) > 0)
    with pytest.raises(ParameterError):
        kinisi_diffusion(pos, t, ["Li"] * 32, np.eye(3) * 10.0, start_dt_ps=20.0)


def test_arrhenius_curve_marks_extrapolation_and_matches_fit():
    from sicnb.md import arrhenius_curve

    kb = constants.k / constants.e
    T = np.array([600.0, 800.0, 1000.0])
    D = 1e-3 * np.exp(-0.3 / (kb * T))
    fit = arrhenius_fit(T, D, 0.1 * D)
    c = arrhenius_curve(fit, 8, 300.0, 600.0, 1000.0)
    assert c.temperature_K.min() == pytest.approx(300.0) and c.temperature_K.max() == pytest.approx(1000.0)
    assert c[c.extrapolated].temperature_K.max() < 600.0 and not c[~c.extrapolated].temperature_K.lt(600.0 - 1e-9).any()
    r = c.loc[c.temperature_K.idxmin()]
    assert r.sigma_S_cm == pytest.approx(nernst_einstein_sigma(fit.D_at(300.0)[0], 8, 300.0, 300.0), rel=1e-9)
    assert r.sigma_err_S_cm > 0


def test_md_figures():
    import pandas as pd

    from sicnb.md import arrhenius_curve
    from sicnb.viz.md import arrhenius_figure, msd_loglog_figure

    pos, t = _random_walk(0.2, n_frames=1001)
    lag, msd = msd_curve(pos, t)
    fig = msd_loglog_figure(lag, msd, framework_lag_ps=lag, framework_msd_A2=msd * 0.01, fit_window_ps=(1.0, 5.0), D_cm2_s=2e-5)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log" and len(fig.layout.shapes) == 1
    six_dt = next(tr for tr in fig.data if tr.name.startswith("6Dt"))
    np.testing.assert_allclose(np.asarray(six_dt.y) / np.asarray(six_dt.x), 6 * 2e-5 * 1e4)  # Å²/ps
    with pytest.raises(ParameterError):
        msd_loglog_figure(lag, msd[:-1])
    kb = constants.k / constants.e
    T = np.array([600.0, 800.0, 1000.0])
    D = 1e-3 * np.exp(-0.3 / (kb * T))
    fit = arrhenius_fit(T, D, 0.1 * D)
    tab = pd.DataFrame({"temperature_K": T, "sigma_S_cm": [nernst_einstein_sigma(d, 8, 300.0, x) for d, x in zip(D, T)]})
    tab["sigma_err_S_cm"] = 0.1 * tab.sigma_S_cm
    fig = arrhenius_figure(tab, arrhenius_curve(fit, 8, 300.0, 600.0, 1000.0), label="X", E_A_eV=fit.E_A_eV)
    names = [tr.name or "" for tr in fig.data]
    assert any("300 K" in n and "extrapolated" in n for n in names)
    assert any(tr.mode == "markers" and tr.error_y.array is not None for tr in fig.data)


def test_md_accepts_a_potential_object(li2o):
    """run_md takes a loaded Potential as well as a name (here the paper's M3GNet, through matgl's ASE calculator)."""
    from conftest import MATGL_MODELS

    from sicnb.md import run_md
    from sicnb.potentials import load_potential

    if MATGL_MODELS is None:
        pytest.skip("needs local matgl models (set SICNB_MATGL_MODELS)")
    pot = load_potential("m3gnet")
    traj = run_md(li2o, 600.0, time_ps=0.01, potential=pot, timestep_fs=1.0, equilibration_ps=0.0, sample_fs=5.0,
                  min_length_A=4.0)
    assert traj.potential == "m3gnet:M3GNet-MP-2021.2.8-PES"
    assert traj.positions_A.shape[0] == 3 and np.isfinite(traj.positions_A).all()
