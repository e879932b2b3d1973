"""Oxidation-state assignment with a documented fallback chain."""
from __future__ import annotations

import warnings
from functools import lru_cache

from pymatgen.analysis.bond_valence import BVAnalyzer
from pymatgen.core import Element, Species, Structure

from sicnb.errors import ParameterError, StructureError

__all__ = ["assign_oxidation_states", "element_sign", "site_charge_signs", "unambiguous_anion", "majority_species"]

#: anion formers used by the last-resort fallback; the secondary ones only when no primary one is present
PRIMARY_ANIONS = {"N", "O", "F", "S", "Cl", "Se", "Br", "Te", "I"}
SECONDARY_ANIONS = {"H", "P", "As", "Sb", "C", "B", "Si", "Ge"}
#: elements whose sign depends on the structure even beside one primary anion former (hydride/proton, Zintl anions)
AMPHOTERIC = {"H", "As", "Sb", "Bi"}


def element_sign(symbol: str, composition) -> int:
    """Last-resort sign of an element's charge: −1 for anions, +1 for cations, 0 for noble gases.

    An element is an anion when it is a primary anion former (N, O, F, S, Cl, Se, Br, Te, I) and
    at least as electronegative as the composition's mean; the secondary formers (H, P, As, Sb, C, B,
    Si, Ge) count only when no primary former is present. Noble gases are neutral; the rest are cations.
    """
    el = Element(symbol)
    if el.is_noble_gas:
        return 0
    symbols = {e.symbol for e in composition.elements}
    formers = PRIMARY_ANIONS if symbols & PRIMARY_ANIONS else SECONDARY_ANIONS
    x = el.X if el.X == el.X else 0.0
    xs = [(Element(e.symbol).X, f) for e, f in composition.fractional_composition.items() if Element(e.symbol).X == Element(e.symbol).X]
    mean_x = sum(a * f for a, f in xs) / max(sum(f for _, f in xs), 1e-12)
    if symbol in formers and x >= mean_x:
        return -1
    return 1


def _integer_composition(composition, tolerance: float = 0.3):
    """The composition scaled by the smallest k ≤ 12 that brings every amount within ``tolerance`` of an integer, rounded."""
    from pymatgen.core import Composition

    for k in range(1, 13):
        amounts = {e: x * k for e, x in composition.items()}
        if all(abs(a - round(a)) <= tolerance and round(a) >= 1 for a in amounts.values()):
            return Composition({e: round(a) for e, a in amounts.items()})
    return None


@lru_cache(maxsize=4096)
def _guess_by_formula(formula: str, max_sites: int) -> tuple[tuple[str, float], ...] | None:
    """Most probable charge-balanced oxidation states of an integer composition (cached per formula)."""
    from pymatgen.core import Composition

    guesses = Composition(formula).oxi_state_guesses(max_sites=max_sites)
    return tuple(sorted(guesses[0].items())) if guesses else None


def _composition_guess(s: Structure, max_sites: int) -> Structure | None:
    comp = s.composition.remove_charges()
    if not all(abs(x - round(x)) < 1e-6 for x in comp.values()):
        comp = _integer_composition(comp)
    if comp is None:
        return None
    return _decorated(s, _guess_by_formula(comp.formula, max_sites))


def _decorated(s: Structure, states: tuple[tuple[str, int], ...] | None) -> Structure | None:
    """A copy of ``s`` with one oxidation state per element, or None when there are no states."""
    if not states:
        return None
    t = s.copy()
    t.add_oxidation_state_by_element(dict(states))
    return t


#: largest net charge of a fractional balance, as a fraction of the total anion charge (refined occupancies are rarely
#: exactly neutral: Li20.4Si2Sn0.5P3.5S24 is off by 0.1 e in 48)
BALANCE_TOLERANCE = 0.02


@lru_cache(maxsize=4096)
def _balance_by_formula(amounts: tuple[tuple[str, float], ...], tolerance: float) -> tuple[tuple[str, int], ...] | None:
    """Integer oxidation states, one per element, that neutralise a (possibly non-integer) composition.

    Each element keeps the sign of :func:`element_sign`; its magnitude is one of the element's common or ICSD
    oxidation states of that sign (pymatgen ``Element.common_oxidation_states`` ∪ ``icsd_oxidation_states``).
    The combination with the smallest net charge wins, ties going to the one with fewest non-common states, then
    to the order in which pymatgen lists them; it is accepted when ``|net| ≤ tolerance × total anion charge``.
    """
    import itertools

    from pymatgen.core import Composition

    comp = Composition(dict(amounts))
    options = []
    for symbol, _ in amounts:
        sign = element_sign(symbol, comp)
        el = Element(symbol)
        if sign == 0:
            options.append([(0, 0)])
            continue
        common = [q for q in el.common_oxidation_states if q * sign > 0]
        rare = [q for q in el.icsd_oxidation_states if q * sign > 0 and q not in common]
        states = [(q, 0) for q in common] + [(q, 1) for q in rare]
        if not states:
            return None
        options.append(states)
    best, best_key = None, None
    amount = [x for _, x in amounts]
    for combo in itertools.product(*options):
        net = sum(a * q for a, (q, _) in zip(amount, combo))
        key = (round(abs(net), 6), sum(r for _, r in combo))
        if best_key is None or key < best_key:
            best, best_key = combo, key
    anion_charge = sum(-a * q for a, (q, _) in zip(amount, best) if q < 0)
    if anion_charge <= 0 or best_key[0] > tolerance * anion_charge:
        return None
    return tuple((symbol, int(q)) for (symbol, _), (q, _) in zip(amounts, best))


def _fractional_balance(s: Structure, tolerance: float = BALANCE_TOLERANCE) -> Structure | None:
    comp = s.composition.remove_charges()
    amounts = tuple(sorted((e.symbol, round(float(x), 6)) for e, x in comp.items()))
    return _decorated(s, _balance_by_formula(amounts, tolerance))


def assign_oxidation_states(structure: Structure, max_sites: int = -50, prefer: str = "bv",
                            fractional: bool = False) -> tuple[Structure, str]:
    """Return (a copy decorated with oxidation states, the method used).

    Chain: (1) oxidation states already present → kept (``"given"``); (2) pymatgen's
    bond-valence analyser (ordered structures; ``"bv"``); (3) ``Composition.oxi_state_guesses``
    (charge-balanced guesses from ICSD statistics; a non-integer disordered composition is first scaled
    by the smallest k ≤ 12 bringing all amounts within 0.3 of integers, then rounded; ``"guess"``);
    (3b) only with ``fractional=True``: per-element integer states that neutralise the composition as it is, with
    non-integer amounts (refined partial occupancies such as Li1.3Al0.3Ti1.7(PO4)3), each element keeping the
    sign of :func:`element_sign` and taking a common or ICSD state of that sign, net charge within
    ``BALANCE_TOLERANCE`` (2 %) of the anion charge (``"balance"``; the signs are those of step 4, so sign-only
    consumers see no change);
    (4) sign-only fallback from :func:`element_sign` with charges ±1 (``"sign"``), used only for the
    cation/anion/neutral categories of structure simplifications.

    ``fractional`` is off by default so that the inputs of the shipped cluster, classify and PES-ordering models
    stay those they were fitted on; BVSE (:func:`sicnb.bvse.bvse_barriers`) turns it on.

    ``prefer="guess"`` swaps (2) and (3): the composition guess (cached per formula) costs about
    0.003 s per structure against 0.07 s for the bond-valence analysis, and gives every element the
    same sign as the analysis on the first 200 embedded structures (40 of them in tests/test_structure.py) — what
    the cation/anion/neutral categories of the clustering simplifications need for ~10⁴ structures.
    """
    if prefer not in ("bv", "guess"):
        raise ParameterError(f"prefer must be 'bv' or 'guess', got {prefer!r}")
    s = structure.copy()
    if all(isinstance(sp, Species) and sp.oxi_state is not None for site in s for sp in site.species):
        return s, "given"
    s.remove_oxidation_states()

    def bond_valence() -> Structure | None:
        if not s.is_ordered:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return BVAnalyzer().get_oxi_state_decorated_structure(s)

    chain = [("bv", bond_valence), ("guess", lambda: _composition_guess(s, max_sites))]
    chain = chain if prefer == "bv" else chain[::-1]
    if fractional:
        chain.append(("balance", lambda: _fractional_balance(s)))
    for how, assign in chain:
        try:
            t = assign()
        except Exception:  # noqa: BLE001 - next fallback
            t = None
        if t is not None:
            return t, how
    try:
        signs = {e.symbol: element_sign(e.symbol, s.composition) for e in s.composition.elements}
        t = s.copy()
        t.add_oxidation_state_by_element(signs)
        return t, "sign"
    except Exception as exc:  # noqa: BLE001
        raise StructureError(f"{s.composition.reduced_formula}: oxidation states could not be assigned ({exc})") from exc


def unambiguous_anion(composition) -> str | None:
    """The composition's only anion element when its charge signs follow from the composition alone, else ``None``.

    Unambiguous means: exactly one primary anion former (N, O, F, S, Cl, Se, Br, Te, I) is present, it is the most
    electronegative element, every element has a Pauling electronegativity, and none of H, As, Sb, Bi is present
    (hydride or proton, Zintl anion or cation: only the structure tells). Then that element is the anion and every
    other element a cation — e.g. oxides, sulfides, halides, thio-/oxo-phosphates, silicates, borates.
    """
    els = [Element(e.symbol) for e in composition.elements]
    if any(e.X != e.X for e in els) or any(e.symbol in AMPHOTERIC for e in els):
        return None
    formers = [e for e in els if e.symbol in PRIMARY_ANIONS]
    if len(formers) != 1 or formers[0].X < max(e.X for e in els):
        return None
    return formers[0].symbol


def majority_species(site):
    """The species with the largest occupancy of a (possibly disordered) site."""
    return max(site.species.items(), key=lambda kv: kv[1])[0]


def site_charge_signs(structure: Structure) -> tuple[list[int], str]:
    """(sign of the charge of each site's majority species: −1 anion, +1 cation, 0 neutral; the method used).

    Only the signs are needed by the cation/anion categories of descriptors (e.g. the Sendek features). When
    :func:`unambiguous_anion` names the composition's anion, signs come from the composition alone (``"composition"``,
    microseconds); otherwise from :func:`assign_oxidation_states` (bond valence, ~0.07 s per structure, then its
    fallbacks). On the 247 OBELiX training structures both routes give the same anion sites for every structure.
    """
    species = [majority_species(site) for site in structure]
    if all(isinstance(sp, Species) and sp.oxi_state is not None for site in structure for sp in site.species):
        return [int((sp.oxi_state > 0) - (sp.oxi_state < 0)) for sp in species], "given"
    anion = unambiguous_anion(structure.composition.remove_charges())
    if anion is not None:
        return [-1 if sp.symbol == anion else (0 if Element(sp.symbol).is_noble_gas else 1) for sp in species], "composition"
    dec, how = assign_oxidation_states(structure)
    signs = []
    for site in dec:
        q = getattr(majority_species(site), "oxi_state", 0) or 0
        signs.append(int((q > 0) - (q < 0)))
    return signs, how
