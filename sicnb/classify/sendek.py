"""The Sendek et al. baseline (Energy Environ. Sci. 10, 306 (2017)): logistic regression on five
interpretable atomistic features, as the benchmark of McHaffie et al. 2025 (§2.3, Methods 4.3).

Features (Sendek et al., Table 1), with the operational definitions used here:

* ``LLB``  – average number of Li neighbours per Li within ``li_li_bond_angstrom`` (Li–Li "bonds").
* ``SBI``  – sublattice bond ionicity: mean Pauling ionicity 1 − exp(−Δχ²/4) of the bonds of the
  non-Li sublattice (cation–anion pairs within 1.2 × the shortest cation–anion distance of each cation).
* ``AFC``  – anion framework coordination: mean number of anions within ``anion_anion_angstrom`` of an anion.
* ``LASD`` – average over Li sites of the shortest Li–anion distance (Å).
* ``LLSD`` – average over Li sites of the shortest Li–Li distance (Å).

Disordered sites: a site counts as Li if it holds any Li, as an anion if its majority species has a
negative charge (:func:`sicnb.structure.site_charge_signs`: from the composition when its anion is unambiguous,
otherwise from bond-valence oxidation states; both give the same anion sites on all 247 OBELiX training structures). Split Li positions can make LLSD short; this is a limitation of the
features on disordered data, not corrected here. Model: scikit-learn ``LogisticRegression``
(defaults, regularisation strength ``C`` tuned by CV as in §2.3) on standardised features.
"""
from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Element, Structure

from sicnb.errors import StructureError

__all__ = ["sendek_features", "SENDEK_FEATURES", "sendek_model"]

SENDEK_FEATURES = ("LLB", "SBI", "AFC", "LASD", "LLSD")


def sendek_features(structure: Structure, mobile_ion: str = "Li", li_li_bond_angstrom: float = 3.0,
                    anion_anion_angstrom: float = 4.0, search_angstrom: float = 6.0) -> dict:
    """The five Sendek features of one structure (see module docstring); distances in Å."""
    from sicnb.structure import majority_species, site_charge_signs

    signs, _ = site_charge_signs(structure)
    li_idx, anion_idx, cation_idx = [], [], []
    for i, site in enumerate(structure):
        syms = {getattr(sp, "symbol", str(sp)) for sp in site.species}
        if mobile_ion in syms:
            li_idx.append(i)
        elif signs[i] < 0:
            anion_idx.append(i)
        else:
            cation_idx.append(i)
    if not li_idx:
        raise StructureError(f"{structure.composition.reduced_formula}: no {mobile_ion} sites; Sendek features need the mobile ion")
    if not anion_idx:
        raise StructureError(f"{structure.composition.reduced_formula}: no anion sites (by oxidation state); Sendek features undefined")
    # (neighbour index, distance) per site from pymatgen's array neighbour list: the same pairs and distances as
    # get_all_neighbors, without building a PeriodicNeighbor object per pair (most of this function's cost)
    centres, points, _, dists = structure.get_neighbor_list(search_angstrom)
    neigh: list[list[tuple[int, float]]] = [[] for _ in range(len(structure))]
    for c, j, d in zip(centres.tolist(), points.tolist(), dists.tolist()):
        neigh[c].append((j, d))
    li_set, an_set = set(li_idx), set(anion_idx)

    def nearest(i, targets):
        ds = [d for j, d in neigh[i] if j in targets]
        return min(ds) if ds else search_angstrom

    llb = np.mean([sum(1 for j, d in neigh[i] if j in li_set and d <= li_li_bond_angstrom) for i in li_idx])
    lasd = np.mean([nearest(i, an_set) for i in li_idx])
    llsd = np.mean([nearest(i, li_set) for i in li_idx])
    afc = np.mean([sum(1 for j, d in neigh[i] if j in an_set and d <= anion_anion_angstrom) for i in anion_idx])
    chi: dict[int, float] = {}  # Pauling electronegativity of a site's majority species, once per site

    def electronegativity(k: int) -> float:
        if k not in chi:
            chi[k] = Element(getattr(majority_species(structure[k]), "symbol", "X")).X
        return chi[k]

    ion = []
    for i in cation_idx:
        cand = [(j, d) for j, d in neigh[i] if j in an_set]
        if not cand:
            continue
        dmin = min(d for _, d in cand)
        xa = electronegativity(i)
        for j, d in cand:
            if d <= 1.2 * dmin:
                xb = electronegativity(j)
                if not (math.isnan(xa) or math.isnan(xb)):
                    ion.append(1.0 - math.exp(-((xa - xb) ** 2) / 4.0))
    sbi = float(np.mean(ion)) if ion else float("nan")
    return {"LLB": float(llb), "SBI": sbi, "AFC": float(afc), "LASD": float(lasd), "LLSD": float(llsd)}


sendek_features.cache_version = 2  # 2: charge signs from site_charge_signs  # type: ignore[attr-defined]


def sendek_model(C: float = 1.0, random_state: int = 0):
    """Standardise → impute (median, for NaN SBI) → ``LogisticRegression(C=C)``."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=C, max_iter=1000, random_state=random_state))
