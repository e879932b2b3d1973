"""The chemical screening rules of the MTL paper (Sec. 2.4, rules (1)–(8)) as composable named filters.

Each rule is a :class:`ChemicalRule`: a name, the paper's wording, and a check
``structure -> reason | None`` (``None`` = passes). :func:`chemical_rules` runs a list of rules on
one structure and returns flat ``rule_<name>`` pass flags plus the reasons, so it can run through
``sicnb.parallel.pmap``; :func:`apply_chemical_rules` does that for a table and names, per structure,
the first rule that removed it.

Where the paper is open-ended ("Fe, Mn, Ni, Ti, Mo, V, Co, and others") the element sets are
module constants and parameters of the rule factories, so a screen states exactly what it used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element, Structure

from sicnb.errors import ParameterError

__all__ = [
    "ChemicalRule", "min_elements", "max_atoms", "no_radioactive_or_water", "no_alloys", "common_oxidation_states",
    "excluded_systems", "no_transition_metals", "no_shared_mobile_sites", "default_rules", "chemical_rules",
    "apply_chemical_rules", "TRANSITION_METALS", "OXIDE_EXCLUDED", "LI_X_O_EXCLUDED", "ANION_ELEMENTS",
]

#: rule (7): "transition metals like Fe, Mn, Ni, Ti, Mo, V, Co, and others" — the redox-active
#: 3d/4d/5d metals used here (Zn, Cd, Y, Zr, Nb, Sc, Ta, W kept: they occur in the paper's candidates)
TRANSITION_METALS = ("Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Os", "Ir", "Pt", "Au")
#: rule (7): oxides containing any of these are removed
OXIDE_EXCLUDED = ("N", "Re", "Ho", "Hf", "Ru", "Eu", "Lu")
#: rule (6): Li–X–O ternaries removed for these X (and the Li–P–S ternary)
LI_X_O_EXCLUDED = ("S", "I", "Si", "C", "P", "Al", "Ge", "Se", "B", "Cl")
#: elements that can be the anion of an ionic compound (rule (4): a compound without any is an alloy)
ANION_ELEMENTS = ("H", "B", "C", "N", "O", "F", "P", "S", "Cl", "As", "Se", "Br", "Te", "I")


@dataclass(frozen=True)
class ChemicalRule:
    """A named chemical filter. ``check(structure)`` returns ``None`` (passes) or the reason for removal."""

    name: str
    description: str
    check: Callable[[Structure], "str | None"]

    def __call__(self, structure: Structure) -> str | None:
        return self.check(structure)


def _elements(structure: Structure) -> set[str]:
    return {e.symbol for e in structure.composition.elements}


def min_elements(n: int = 3) -> ChemicalRule:
    """Rule (1): compounds with two or fewer elements are excluded (keep ≥ ``n`` elements)."""
    def check(s: Structure) -> str | None:
        k = len(_elements(s))
        return None if k >= n else f"{k} element(s) < {n}"
    return ChemicalRule("min_elements", "(1) compounds with two or fewer elements are excluded", check)


def max_atoms(n: int = 500) -> ChemicalRule:
    """Rule (2): materials with more than ``n`` atoms (sites of the given cell) are removed."""
    def check(s: Structure) -> str | None:
        return None if len(s) <= n else f"{len(s)} sites > {n}"
    return ChemicalRule("max_atoms", "(2) materials containing more than 500 atoms are removed", check)


def _has_water(s: Structure, oh_max_angstrom: float = 1.2) -> bool:
    if "H" not in _elements(s) or "O" not in _elements(s):
        return False
    o_idx = [i for i, site in enumerate(s) if "O" in {getattr(sp, "symbol", str(sp)) for sp in site.species}]
    for i in o_idx:
        nbrs = s.get_neighbors(s[i], oh_max_angstrom)
        if sum(1 for nb in nbrs if "H" in {getattr(sp, "symbol", str(sp)) for sp in nb.species}) >= 2:
            return True
    return False


def no_radioactive_or_water() -> ChemicalRule:
    """Rule (3): compounds with radioactive elements (Tc, Pm, Z ≥ 84) or water molecules (O with two H within 1.2 Å)."""
    def check(s: Structure) -> str | None:
        rad = sorted(e for e in _elements(s) if Element(e).is_radioactive)
        if rad:
            return "radioactive " + ",".join(rad)
        return "water molecules" if _has_water(s) else None
    return ChemicalRule("no_radioactive_or_water", "(3) compounds with radioactive elements or water molecules are eliminated", check)


def no_alloys(anions: Sequence[str] = ANION_ELEMENTS) -> ChemicalRule:
    """Rule (4): alloys are excluded — here: no element of ``anions`` present (intermetallics, Li–Si, Li–Sb ...)."""
    def check(s: Structure) -> str | None:
        return None if _elements(s) & set(anions) else "alloy/intermetallic (no anion-forming element)"
    return ChemicalRule("no_alloys", "(4) alloys are excluded", check)


def common_oxidation_states(max_formula_atoms: int = 60) -> ChemicalRule:
    """Rule (5): elements in abnormal oxidation states — no charge-balanced assignment with common
    (ICSD-frequent) oxidation states exists (pymatgen ``oxi_state_guesses``); disordered compositions are
    first scaled to near-integer amounts (k ≤ 12)."""
    def check(s: Structure) -> str | None:
        comp = s.composition.remove_charges()
        red = comp.reduced_composition
        amounts = np.array(list(red.values()), dtype=float)
        if not np.allclose(amounts, np.round(amounts), atol=1e-6):
            k = next((k for k in range(1, 13) if np.all(np.abs(amounts * k - np.round(amounts * k)) < 0.3)), 12)
            red = Composition({el: max(1, round(v * k)) for el, v in red.items()})
        if red.num_atoms > max_formula_atoms:
            red = red.reduced_composition
        try:
            guesses = red.oxi_state_guesses(max_sites=-max_formula_atoms)
        except Exception:  # noqa: BLE001 - pymatgen raises various errors on odd compositions
            guesses = ()
        return None if guesses else f"no charge-balanced common oxidation states for {red.reduced_formula}"
    return ChemicalRule("common_oxidation_states", "(5) compounds with elements in abnormal oxidation states are removed", check)


def excluded_systems(mobile_ion: str = "Li", li_x_o: Sequence[str] = LI_X_O_EXCLUDED) -> ChemicalRule:
    """Rule (6): all Li–X–O ternaries with X in ``li_x_o`` and the Li–P–S ternary are excluded."""
    def check(s: Structure) -> str | None:
        el = _elements(s)
        if len(el) == 3 and mobile_ion in el and "O" in el:
            (x,) = el - {mobile_ion, "O"}
            if x in li_x_o:
                return f"{mobile_ion}-{x}-O system"
        if el == {mobile_ion, "P", "S"}:
            return f"{mobile_ion}-P-S system"
        return None
    return ChemicalRule("excluded_systems", "(6) Li-X-O ternaries (X = S, I, Si, C, P, Al, Ge, Se, B, Cl) and Li-P-S are excluded", check)


def no_transition_metals(metals: Sequence[str] = TRANSITION_METALS, oxide_excluded: Sequence[str] = OXIDE_EXCLUDED) -> ChemicalRule:
    """Rule (7): compounds with the transition metals ``metals``, or oxides with any of ``oxide_excluded``."""
    def check(s: Structure) -> str | None:
        el = _elements(s)
        tm = sorted(el & set(metals))
        if tm:
            return "transition metal " + ",".join(tm)
        if "O" in el:
            bad = sorted(el & set(oxide_excluded))
            if bad:
                return "oxide with " + ",".join(bad)
        return None
    return ChemicalRule("no_transition_metals", "(7) compounds with Fe, Mn, Ni, Ti, Mo, V, Co and others, or oxides with N, Re, Ho, Hf, Ru, Eu, Lu", check)


def no_shared_mobile_sites(mobile_ion: str = "Li") -> ChemicalRule:
    """Rule (8): compounds in which the mobile ion shares a site with another element are excluded."""
    def check(s: Structure) -> str | None:
        for site in s:
            names = {getattr(sp, "symbol", str(sp)) for sp in site.species}
            if mobile_ion in names and len(names) > 1:
                return f"{mobile_ion} shares a site with " + ",".join(sorted(names - {mobile_ion}))
        return None
    return ChemicalRule("no_shared_mobile_sites", "(8) compounds in which lithium shares atomic sites with other elements are excluded", check)


def default_rules(mobile_ion: str = "Li") -> list[ChemicalRule]:
    """Rules (1)–(8) of the paper, in the paper's order."""
    return [
        min_elements(), max_atoms(), no_radioactive_or_water(), no_alloys(), common_oxidation_states(),
        excluded_systems(mobile_ion), no_transition_metals(), no_shared_mobile_sites(mobile_ion),
    ]


def chemical_rules(structure: Structure, mobile_ion: str = "Li", rules: Iterable[str] | None = None) -> dict[str, bool | str]:
    """Run rules on one structure → ``rule_<name>`` (True = passes), ``pass_chemistry``, ``chem_reasons``.

    ``rules`` selects rules by name (default: all eight). Usable with ``pmap`` (module-level, flat dict).
    """
    available = {r.name: r for r in default_rules(mobile_ion)}
    names = list(rules) if rules is not None else list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ParameterError(f"unknown chemical rule(s) {unknown}; choose from {sorted(available)}")
    out: dict[str, bool | str] = {}
    reasons = []
    for n in names:
        why = available[n](structure)
        out[f"rule_{n}"] = why is None
        if why is not None:
            reasons.append(f"{n}: {why}")
    out["pass_chemistry"] = not reasons
    out["chem_reasons"] = "; ".join(reasons)
    return out


chemical_rules.cache_version = 1  # type: ignore[attr-defined]


def apply_chemical_rules(structures: dict[str, Structure], rules: Sequence[ChemicalRule] | None = None) -> pd.DataFrame:
    """Apply ``rules`` (default :func:`default_rules`) to ``{id: Structure}``; one row per structure with a
    pass flag per rule, ``pass_chemistry``, ``removed_by`` (first failing rule, in order) and ``reasons``."""
    rules = list(rules) if rules is not None else default_rules()
    rows = []
    for sid, s in structures.items():
        row: dict[str, object] = {"id": sid}
        reasons, first = [], ""
        for r in rules:
            why = r(s)
            row[f"rule_{r.name}"] = why is None
            if why is not None:
                reasons.append(f"{r.name}: {why}")
                first = first or r.name
        row["pass_chemistry"] = not reasons
        row["removed_by"] = first
        row["reasons"] = "; ".join(reasons)
        rows.append(row)
    return pd.DataFrame(rows).set_index("id") if rows else pd.DataFrame(columns=["pass_chemistry", "removed_by", "reasons"])
