"""Well-established Li superionic conductors and reference materials, from the literature.

Each row: a formula (the composition as reported), its structural family, the room-temperature
ionic conductivity in S/cm as reported in the cited paper (order-of-magnitude facts; processing,
density and temperature differ between reports), and the DOI of the report. ``superionic`` is
``sigma_rt_S_cm >= 1e-4`` — the threshold used by notebooks 01/04 for "known conductor".

This table is the label source of last resort: ``sicnb demo`` falls back on it when no
experimental dataset (OBELiX, LASKOWSKI2023) is available.
"""
from __future__ import annotations

import math

import pandas as pd
from pymatgen.core import Composition

__all__ = ["known_conductors", "match_known_conductors", "KNOWN_CONDUCTORS"]

#: (name, formula, family, sigma_rt_S_cm, doi, reference)
KNOWN_CONDUCTORS: list[tuple[str, str, str, float, str, str]] = [
    ("LGPS", "Li10GeP2S12", "LGPS", 1.2e-2, "10.1038/nmat3066", "Kamaya et al., Nat. Mater. 10, 682 (2011)"),
    ("LSiPSCl", "Li9.54Si1.74P1.44S11.7Cl0.3", "LGPS", 2.5e-2, "10.1038/nenergy.2016.30", "Kato et al., Nat. Energy 1, 16030 (2016)"),
    ("LSnPS", "Li10SnP2S12", "LGPS", 4.0e-3, "10.1021/ja407393y", "Bron et al., J. Am. Chem. Soc. 135, 15694 (2013)"),
    ("Li7P3S11", "Li7P3S11", "thiophosphate glass-ceramic", 1.7e-2, "10.1039/C3EE41655K", "Seino et al., Energy Environ. Sci. 7, 627 (2014)"),
    ("beta-Li3PS4", "Li3PS4", "thiophosphate", 1.6e-4, "10.1021/ja3110895", "Liu et al., J. Am. Chem. Soc. 135, 975 (2013)"),
    ("thio-LISICON", "Li3.25Ge0.25P0.75S4", "thio-LISICON", 2.2e-3, "10.1149/1.1379028", "Kanno & Murayama, J. Electrochem. Soc. 148, A742 (2001)"),
    ("Li7P2S8I", "Li7P2S8I", "thiophosphate halide", 6.3e-4, "10.1021/ja508723m", "Rangasamy et al., J. Am. Chem. Soc. 137, 1384 (2015)"),
    ("Li6PS5Cl", "Li6PS5Cl", "argyrodite", 1.3e-3, "10.1002/pssa.201001117", "Rao & Adams, Phys. Status Solidi A 208, 1804 (2011)"),
    ("Li6PS5Br", "Li6PS5Br", "argyrodite", 6.2e-4, "10.1002/pssa.201001117", "Rao & Adams, Phys. Status Solidi A 208, 1804 (2011)"),
    ("Li6PS5I", "Li6PS5I", "argyrodite", 1.0e-6, "10.1021/jacs.7b06327", "Kraft et al., J. Am. Chem. Soc. 139, 10909 (2017)"),
    ("c-LLZO", "Li7La3Zr2O12", "garnet", 3.0e-4, "10.1002/anie.200701144", "Murugan, Thangadurai & Weppner, Angew. Chem. Int. Ed. 46, 7778 (2007)"),
    ("t-LLZO", "Li7La3Zr2O12", "garnet (tetragonal)", 1.63e-6, "10.1016/j.jssc.2009.05.020", "Awaka et al., J. Solid State Chem. 182, 2046 (2009)"),
    ("LATP", "Li1.3Al0.3Ti1.7(PO4)3", "NASICON", 7.0e-4, "10.1149/1.2086597", "Aono et al., J. Electrochem. Soc. 137, 1023 (1990)"),
    ("LLTO", "Li0.34La0.51TiO2.94", "perovskite", 1.0e-3, "10.1016/0038-1098(93)90841-A", "Inaguma et al., Solid State Commun. 86, 689 (1993)"),
    ("Li3N", "Li3N", "nitride", 1.0e-3, "10.1063/1.89283", "Alpen, Rabenau & Talat, Appl. Phys. Lett. 30, 621 (1977)"),
    ("Li3InCl6", "Li3InCl6", "halide", 1.49e-3, "10.1039/C9EE02311A", "Li et al., Energy Environ. Sci. 12, 2665 (2019)"),
    ("Li3YCl6", "Li3YCl6", "halide", 5.1e-4, "10.1002/adma.201803075", "Asano et al., Adv. Mater. 30, 1803075 (2018)"),
    ("Li3YBr6", "Li3YBr6", "halide", 1.7e-3, "10.1002/adma.201803075", "Asano et al., Adv. Mater. 30, 1803075 (2018)"),
    ("Li3OCl", "Li3OCl", "antiperovskite", 8.5e-4, "10.1021/ja305709z", "Zhao & Daemen, J. Am. Chem. Soc. 134, 15042 (2012)"),
]


def known_conductors() -> pd.DataFrame:
    """The table as a DataFrame: name, formula, reduced_formula, family, sigma_rt_S_cm, log10_sigma, superionic, doi, reference."""
    rows = []
    for name, formula, family, sigma, doi, ref in KNOWN_CONDUCTORS:
        rows.append(
            {
                "name": name,
                "formula": formula,
                "reduced_formula": Composition(formula).reduced_formula,
                "family": family,
                "sigma_rt_S_cm": sigma,
                "log10_sigma": math.log10(sigma),
                "superionic": sigma >= 1e-4,
                "doi": doi,
                "reference": ref,
            }
        )
    return pd.DataFrame(rows)


def match_known_conductors(formulas: pd.Series | list[str], tol: float = 0.02) -> pd.DataFrame:
    """Match compositions against the table by normalised composition (element fractions within ``tol``).

    Returns one row per input formula with the matched ``name`` (or ``None``), ``log10_sigma`` and ``superionic``.
    Where several rows match (c-/t-LLZO), the first (the superionic polymorph) is reported and ``ambiguous`` is True.
    """
    table = known_conductors()
    comps = [Composition(f).fractional_composition for f in table["formula"]]
    out = []
    for f in list(formulas):
        c = Composition(f).fractional_composition
        hits = [i for i, k in enumerate(comps) if c.almost_equals(k, rtol=0, atol=tol)]
        if hits:
            row = table.iloc[hits[0]]
            out.append({"formula": f, "name": row["name"], "log10_sigma": row["log10_sigma"], "superionic": bool(row["superionic"]), "ambiguous": len(hits) > 1})
        else:
            out.append({"formula": f, "name": None, "log10_sigma": float("nan"), "superionic": None, "ambiguous": False})
    return pd.DataFrame(out)
