"""NVT molecular dynamics with a universal potential (ASE), and the per-temperature validation table.

Sec. II C / App. A: NVT (Nosé–Hoover chain thermostat, ASE), time step 1 fs, equilibration then
production; supercell with every lattice vector ≥ ``min_length_A`` (the paper: a sphere of 6.5 Å
diameter fits). Default potential: M3GNet-MP-2021.2.8-PES (run with its training convention and self-tested at load,
sicnb.potentials), the fastest of the three on CPU: one force+stress call on an 81-atom Li2O supercell took 0.47 s
vs 2.80 s with SevenNet-0 (one thread, on a machine shared with other jobs; bench/RESULTS.md). SevenNet-0, the model
of the paper's ML-driven MD (App. A), and CHGNet stay selectable. ``potential`` may be a name or a loaded
:class:`sicnb.potentials.Potential`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from typing import TYPE_CHECKING

from sicnb.errors import ParameterError, StructureError
from sicnb.md.analysis import arrhenius_fit, kinisi_diffusion, nernst_einstein_sigma, windowed_diffusion

if TYPE_CHECKING:
    from sicnb.potentials import Potential

#: default MD potential (module doc): right (self-tested against PBE) and the fastest per MD step on CPU
DEFAULT_MD_POTENTIAL = "m3gnet"

__all__ = ["DEFAULT_MD_POTENTIAL", "MDTrajectory", "run_md", "md_validation", "supercell_for_md"]


@dataclass
class MDTrajectory:
    """Unwrapped Cartesian positions (frames × atoms × 3, Å) sampled every ``sample_fs`` after equilibration."""

    positions_A: np.ndarray
    times_ps: np.ndarray
    species: list[str]
    lattice_matrix: np.ndarray
    temperature_k: float
    potential: str
    mean_temperature_k: float
    seconds: float

    @property
    def volume_A3(self) -> float:
        return float(abs(np.linalg.det(self.lattice_matrix)))

    def select(self, element: str, exclude: bool = False) -> np.ndarray:
        m = np.array([s == element for s in self.species])
        return self.positions_A[:, ~m if exclude else m]

    def n_of(self, element: str) -> int:
        return int(sum(s == element for s in self.species))


def supercell_for_md(structure: Structure, min_length_A: float = 6.5) -> Structure:
    """Diagonal supercell whose perpendicular widths are all ≥ ``min_length_A`` (so a sphere of that diameter fits)."""
    m = structure.lattice.matrix
    vol = abs(np.linalg.det(m))
    widths = [vol / np.linalg.norm(np.cross(m[(i + 1) % 3], m[(i + 2) % 3])) for i in range(3)]
    reps = [max(1, int(np.ceil(min_length_A / w))) for w in widths]
    s = structure.copy()
    s.make_supercell(reps)
    return s


def run_md(
    structure: Structure,
    temperature_k: float,
    time_ps: float,
    potential: "str | Potential" = DEFAULT_MD_POTENTIAL,
    model: str | None = None,
    timestep_fs: float = 1.0,
    equilibration_ps: float = 5.0,
    sample_fs: float = 10.0,
    min_length_A: float = 6.5,
    seed: int = 0,
    thermostat_fs: float = 100.0,
) -> MDTrajectory:
    """NVT MD of an ordered structure at ``temperature_k`` for ``equilibration_ps`` + ``time_ps`` (paper: 5 ps + production)."""
    from ase.md.nose_hoover_chain import NoseHooverChainNVT
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from ase import units
    from pymatgen.io.ase import AseAtomsAdaptor

    from sicnb.structure.approximant import order_structure
    from sicnb.potentials import as_potential

    if temperature_k <= 0 or time_ps <= 0 or timestep_fs <= 0:
        raise ParameterError(f"temperature, time and time step must be > 0 (got {temperature_k} K, {time_ps} ps, {timestep_fs} fs)")
    ordered, _rule = order_structure(structure)
    cell = supercell_for_md(ordered, min_length_A)
    pot = as_potential(potential, model)
    atoms = AseAtomsAdaptor.get_atoms(cell)
    atoms.calc = pot.calculator()
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_k, rng=rng)
    Stationary(atoms)
    dyn = NoseHooverChainNVT(atoms, timestep=timestep_fs * units.fs, temperature_K=temperature_k, tdamp=thermostat_fs * units.fs)
    t0 = time.perf_counter()
    n_eq = int(round(equilibration_ps * 1000 / timestep_fs))
    if n_eq:
        dyn.run(n_eq)
    every = max(1, int(round(sample_fs / timestep_fs)))
    n_samples = int(round(time_ps * 1000 / (every * timestep_fs)))
    if n_samples < 2:
        raise ParameterError(f"time_ps={time_ps} gives fewer than 2 samples at sample_fs={sample_fs}")
    pos = np.empty((n_samples + 1, len(atoms), 3))
    temps = np.empty(n_samples + 1)
    pos[0] = atoms.get_positions()  # ASE keeps positions unwrapped during MD
    temps[0] = atoms.get_temperature()
    for i in range(1, n_samples + 1):
        dyn.run(every)
        pos[i] = atoms.get_positions()
        temps[i] = atoms.get_temperature()
    if not np.all(np.isfinite(pos)):
        raise StructureError(f"{ordered.composition.reduced_formula}: MD diverged at {temperature_k} K (non-finite positions)")
    return MDTrajectory(
        positions_A=pos, times_ps=np.arange(n_samples + 1) * every * timestep_fs / 1000.0,
        species=[s.specie.symbol for s in cell], lattice_matrix=np.array(cell.lattice.matrix), temperature_k=float(temperature_k),
        potential=f"{getattr(pot, 'name', type(pot).__name__)}:{getattr(pot, 'model', '')}", mean_temperature_k=float(temps.mean()), seconds=time.perf_counter() - t0,
    )


def md_validation(
    structure: Structure,
    temperatures_k: Sequence[float] = (600.0, 800.0, 1000.0),
    time_ps: float = 50.0,
    mobile_ion: str = "Li",
    window_ps: float = 15.0,
    fit_start_ps: float = 1.0,
    use_kinisi: bool = True,
    on_trajectory: Callable[[MDTrajectory], None] | None = None,
    **md_kwargs,
) -> tuple[pd.DataFrame, dict]:
    """Per temperature: D ± err (cm²/s, windowed fit of Sec. II C), σ ± err (S/cm, eq. 6), framework MSD at the end
    (Å², melting check), and with ``use_kinisi`` kinisi's D ± posterior std from the same trajectory (fit from
    ``fit_start_ps``) as a cross-check; the Arrhenius fit (E_A, χ²/df, p-value, σ(300 K) extrapolated — labelled as
    such) when ≥ 2 T have D > 0. ``on_trajectory`` receives each :class:`MDTrajectory` (e.g. to keep it for plots)."""
    rows = []
    for T in temperatures_k:
        traj = run_md(structure, T, time_ps, **md_kwargs)
        if on_trajectory is not None:
            on_trajectory(traj)
        li = traj.select(mobile_ion)
        fit = windowed_diffusion(li, traj.times_ps, window_ps=window_ps, fit_start_ps=fit_start_ps)
        kin: dict = {}
        if use_kinisi:
            try:
                kf = kinisi_diffusion(traj.positions_A, traj.times_ps, traj.species, traj.lattice_matrix, mobile_ion,
                                      start_dt_ps=fit_start_ps)
                kin = {"D_kinisi_cm2_s": kf.D_cm2_s, "D_kinisi_err_cm2_s": kf.D_err_cm2_s}
            except Exception as exc:  # noqa: BLE001 - the cross-check must not lose the paper's estimate
                kin = {"D_kinisi_cm2_s": float("nan"), "D_kinisi_err_cm2_s": float("nan"),
                       "kinisi_error": f"{type(exc).__name__}: {exc}"}
        n = traj.n_of(mobile_ion)
        sig = nernst_einstein_sigma(fit.D_cm2_s, n, traj.volume_A3, T)
        sig_err = nernst_einstein_sigma(fit.D_err_cm2_s, n, traj.volume_A3, T) if np.isfinite(fit.D_err_cm2_s) else float("nan")
        fw = traj.select(mobile_ion, exclude=True)
        fw_msd = float(np.mean(np.sum((fw[-1] - fw[0]) ** 2, axis=-1))) if fw.shape[1] else float("nan")
        rows.append({
            "temperature_K": T, "time_ps": float(traj.times_ps[-1]), "mean_temperature_K": traj.mean_temperature_k,
            "D_cm2_s": fit.D_cm2_s, "D_err_cm2_s": fit.D_err_cm2_s, "n_windows": fit.n_windows,
            "sigma_S_cm": sig, "sigma_err_S_cm": sig_err, **kin, "framework_msd_A2": fw_msd,
            "n_atoms": len(traj.species), "potential": traj.potential, "seconds": traj.seconds,
        })
    table = pd.DataFrame(rows)
    vol, n = _density(structure, mobile_ion)
    summary: dict = {"formula": structure.composition.reduced_formula, "n_carriers": n, "volume_A3": vol}
    try:
        af = arrhenius_fit(table.temperature_K, table.D_cm2_s, table.D_err_cm2_s)
        d300, d300_err = af.D_at(300.0)
        summary.update({
            "ln_D0": af.ln_D0, "cov_00": float(af.cov[0, 0]), "cov_01": float(af.cov[0, 1]), "cov_11": float(af.cov[1, 1]),
            "E_A_eV": af.E_A_eV, "E_A_err_eV": af.E_A_err_eV, "chi2_per_df": af.chi2_per_df, "p_value": af.p_value,
            "sigma_300K_extrapolated_S_cm": nernst_einstein_sigma(d300, n, vol, 300.0),
            "sigma_300K_extrapolated_err_S_cm": nernst_einstein_sigma(d300_err, n, vol, 300.0),
        })
    except ParameterError as exc:
        summary["arrhenius_error"] = str(exc)
    return table, summary


def _density(structure: Structure, mobile_ion: str) -> tuple[float, int]:
    n = int(round(sum(site.species.get_el_amt_dict().get(mobile_ion, 0.0) for site in structure)))
    return float(structure.volume), n
