"""ML-potential-driven MD validation (Maevskiy et al., Sec. II C, Appendices A and D).

>>> traj = run_md(structure, temperature_k=1000, time_ps=50)                 # NVT, ASE + universal potential
>>> d = windowed_diffusion(traj)                                             # 15 ps windows, fit 1–15 ps
>>> sigma = nernst_einstein_sigma(d.D_cm2_s, traj.n_mobile, traj.volume_A3, 1000)   # eq. 6, S/cm
>>> fit = arrhenius_fit(temps, D, D_err)                                      # weighted LSQ, χ²/df, p-value

The fits return numbers; the figures are in :mod:`sicnb.viz.md`.
"""
from sicnb.md.analysis import (
    ArrheniusFit,
    DiffusionFit,
    arrhenius_fit,
    msd_curve,
    nernst_einstein_sigma,
    windowed_diffusion,
)
from sicnb.md.run import MDTrajectory, md_validation, run_md

__all__ = [
    "MDTrajectory", "run_md", "md_validation", "DiffusionFit", "windowed_diffusion", "msd_curve",
    "nernst_einstein_sigma", "ArrheniusFit", "arrhenius_fit",
]
