"""ML-potential-driven MD validation (Maevskiy et al., Sec. II C, Appendices A and D).

>>> traj = run_md(structure, temperature_k=1000, time_ps=50)                 # NVT, ASE + universal potential
>>> d = windowed_diffusion(traj.select("Li"), traj.times_ps)                 # 15 ps windows, fit 1–15 ps
>>> k = kinisi_diffusion(traj.positions_A, traj.times_ps, traj.species, traj.lattice_matrix)  # cross-check
>>> sigma = nernst_einstein_sigma(d.D_cm2_s, traj.n_mobile, traj.volume_A3, 1000)   # eq. 6, S/cm
>>> fit = arrhenius_fit(temps, D, D_err)                                      # weighted LSQ, χ²/df, p-value

The fits return numbers; the figures are in :mod:`sicnb.viz.md`.
"""
from sicnb.md.analysis import (
    ArrheniusFit,
    DiffusionFit,
    KinisiFit,
    arrhenius_curve,
    arrhenius_fit,
    kinisi_diffusion,
    msd_curve,
    nernst_einstein_sigma,
    windowed_diffusion,
)
from sicnb.md.run import MDTrajectory, md_validation, run_md

__all__ = [
    "MDTrajectory", "run_md", "md_validation", "DiffusionFit", "windowed_diffusion", "msd_curve",
    "nernst_einstein_sigma", "ArrheniusFit", "arrhenius_fit", "arrhenius_curve", "KinisiFit", "kinisi_diffusion",
]
