"""Prototype element substitution (Du & Wang, "Chemical Space Expansion"): a lazy, streaming generator.

Every non-mobile species of a Li-containing ternary/quaternary prototype is replaced by an element
of the palette (28 elements in the paper), atomic positions fixed, Li kept, the species stay distinct,
and the required element (sulfur in the paper) is always present. For a prototype with ``k``
distinct non-Li species and ``n`` palette elements other than Li, the exact number of substitutions is

    N(k) = P(n, k) − P(n − 1, k) = k · P(n − 1, k − 1)        (P(a, b) = a! / (a − b)!)

i.e. all injective assignments minus those without S. For the paper's palette n = 27:
N(2) = 2 × 26 = 52 (the paper's Li_xA_yB_z example) and N(3) = 3 × 26 × 25 = 1950.

Candidates are light tuples (prototype id, substituted elements, reduced-composition key); a
pymatgen ``Structure`` is built only on demand (:func:`substituted_structure`).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Iterable, Iterator, NamedTuple, Sequence

import pandas as pd
from pymatgen.core import Element, Structure

from sicnb.errors import ParameterError, StructureError

__all__ = [
    "PALETTE_28",
    "Prototype",
    "Candidate",
    "prototype_from_structure",
    "prototypes_from",
    "substitution_count",
    "pool_size",
    "iter_substitutions",
    "candidate_chunks",
    "composition_key",
    "substituted_structure",
]

#: The paper's 28-element palette (no transition metals; H, Tc, Pm excluded).
PALETTE_28: tuple[str, ...] = (
    "Li", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ca",
    "Zn", "Ga", "Ge", "As", "Se", "Sr", "Cd", "In", "Sn", "Te", "I", "Ba", "Hg", "Pb",
)


@dataclass(frozen=True)
class Prototype:
    """An ordered Li-containing prototype: its non-mobile species and their counts per cell."""

    id: str
    structure: Structure = field(repr=False, compare=False)
    species: tuple[str, ...]  #: non-mobile elements, in a fixed order
    counts: tuple[int, ...]  #: atoms per cell of each of ``species``
    n_mobile: int  #: mobile-ion atoms per cell
    mobile_ion: str = "Li"

    @property
    def k(self) -> int:
        """Number of substitutable species."""
        return len(self.species)

    @property
    def reduced_counts(self) -> tuple[int, tuple[int, ...]]:
        """(mobile count, species counts) divided by their common divisor."""
        g = math.gcd(self.n_mobile, *self.counts)
        return self.n_mobile // g, tuple(c // g for c in self.counts)


class Candidate(NamedTuple):
    """One substitution: ``elements[i]`` replaces ``prototype.species[i]``; ``key`` is the reduced composition."""

    prototype_id: str
    elements: tuple[str, ...]
    key: str


def prototype_from_structure(structure: Structure, id: str = "", mobile_ion: str = "Li") -> Prototype:
    """A :class:`Prototype` from an ordered structure containing ``mobile_ion``.

    Raises :class:`StructureError` for disordered structures (substitution needs one species per site)
    and for structures without the mobile ion.
    """
    if not structure.is_ordered:
        raise StructureError(
            f"{id or structure.composition.reduced_formula}: partial occupancies; substitution prototypes must be ordered "
            "(order the structure first, e.g. with sicnb.structure)"
        )
    comp = structure.composition.element_composition
    counts = {el.symbol: int(round(n)) for el, n in comp.items()}
    if mobile_ion not in counts:
        raise StructureError(f"{id or comp.reduced_formula}: contains no {mobile_ion}; not a {mobile_ion} prototype")
    species = tuple(sorted((s for s in counts if s != mobile_ion), key=lambda s: (Element(s).X, s)))
    if not species:
        raise StructureError(f"{id or comp.reduced_formula}: only {mobile_ion}; nothing to substitute")
    s = structure.copy()
    s.remove_oxidation_states()
    return Prototype(id or comp.reduced_formula, s, species, tuple(counts[x] for x in species), counts[mobile_ion], mobile_ion)


def prototypes_from(records: Iterable, n_elements: Sequence[int] = (3, 4), mobile_ion: str = "Li") -> tuple[list[Prototype], pd.DataFrame]:
    """Prototypes from records (``Record`` or ``(id, Structure)``) with ``n_elements`` elements (paper: ternary, quaternary).

    Returns (prototypes, skipped) where ``skipped`` has columns ``id``, ``formula``, ``reason``.
    """
    protos, skipped = [], []
    for rec in records:
        rid, s = (rec.id, rec.structure) if hasattr(rec, "structure") else rec
        if s is None:
            skipped.append({"id": rid, "formula": "", "reason": "no structure"})
            continue
        n = len(s.composition.elements)
        if n not in n_elements:
            skipped.append({"id": rid, "formula": s.composition.reduced_formula, "reason": f"{n} elements (need {tuple(n_elements)})"})
            continue
        try:
            protos.append(prototype_from_structure(s, rid, mobile_ion))
        except StructureError as exc:
            skipped.append({"id": rid, "formula": s.composition.reduced_formula, "reason": str(exc)})
    return protos, pd.DataFrame(skipped, columns=["id", "formula", "reason"])


def _perm(n: int, k: int) -> int:
    return math.perm(n, k) if 0 <= k <= n else 0


def _palette(palette: Sequence[str], mobile_ion: str) -> tuple[str, ...]:
    pal = tuple(dict.fromkeys(palette))
    bad = [p for p in pal if not Element.is_valid_symbol(p)]
    if bad:
        raise ParameterError(f"palette contains unknown element symbols {bad}; use symbols such as 'S', 'Cl'")
    return tuple(p for p in pal if p != mobile_ion)


def substitution_count(k: int, palette: Sequence[str] = PALETTE_28, required: str | None = "S", mobile_ion: str = "Li") -> int:
    """Exact number of substitutions of a prototype with ``k`` non-mobile species: P(n,k) − P(n−1,k) (n = palette size without Li).

    With ``required=None`` it is P(n, k). Paper check: k = 2, 28-element palette → 52.
    """
    pal = _palette(palette, mobile_ion)
    n = len(pal)
    if required is None:
        return _perm(n, k)
    if required not in pal:
        return 0
    return _perm(n, k) - _perm(n - 1, k)


def pool_size(prototypes: Iterable[Prototype], palette: Sequence[str] = PALETTE_28, required: str | None = "S") -> int:
    """Total number of candidates :func:`iter_substitutions` will yield (no generation needed)."""
    return sum(substitution_count(p.k, palette, required, p.mobile_ion) for p in prototypes)


def composition_key(mobile_ion: str, n_mobile: int, elements: Sequence[str], counts: Sequence[int]) -> str:
    """Canonical reduced-composition key, e.g. ``Li3P1S4`` (elements alphabetical, counts divided by their gcd)."""
    g = math.gcd(n_mobile, *counts)
    parts = sorted([(mobile_ion, n_mobile // g), *((e, c // g) for e, c in zip(elements, counts))])
    return "".join(f"{e}{c}" for e, c in parts)


def iter_substitutions(
    prototypes: Iterable[Prototype], palette: Sequence[str] = PALETTE_28, required: str | None = "S"
) -> Iterator[Candidate]:
    """Lazily yield every substitution of every prototype (positions fixed, mobile ion kept, species distinct).

    Order is deterministic: prototypes in the given order, then the position of the required element,
    then the remaining elements in palette order.
    """
    for proto in prototypes:
        pal = _palette(palette, proto.mobile_ion)
        if required is not None and required not in pal:
            continue
        m, red = proto.reduced_counts
        # precompute key fragments: sorted join over (element, reduced count)
        mob = (proto.mobile_ion, m)
        pid = proto.id
        k = proto.k
        if required is None:
            for combo in itertools.permutations(pal, k):
                parts = sorted([mob, *zip(combo, red)])
                yield Candidate(pid, combo, "".join(f"{e}{c}" for e, c in parts))
            continue
        others = tuple(p for p in pal if p != required)
        for pos in range(k):
            for rest in itertools.permutations(others, k - 1):
                combo = rest[:pos] + (required,) + rest[pos:]
                parts = sorted([mob, *zip(combo, red)])
                yield Candidate(pid, combo, "".join(f"{e}{c}" for e, c in parts))


def candidate_chunks(
    prototypes: Iterable[Prototype], palette: Sequence[str] = PALETTE_28, required: str | None = "S", chunk_size: int = 200_000
) -> Iterator[pd.DataFrame]:
    """:func:`iter_substitutions` as DataFrame chunks: ``prototype_id``, ``elements`` ("A,B,..."), ``key``."""
    buf: list[Candidate] = []
    for cand in iter_substitutions(prototypes, palette, required):
        buf.append(cand)
        if len(buf) >= chunk_size:
            yield _frame(buf)
            buf = []
    if buf:
        yield _frame(buf)


def _frame(buf: list[Candidate]) -> pd.DataFrame:
    return pd.DataFrame({"prototype_id": [c.prototype_id for c in buf], "elements": [",".join(c.elements) for c in buf], "key": [c.key for c in buf]})


def substituted_structure(prototype: Prototype, elements: Sequence[str]) -> Structure:
    """The prototype with ``species[i]`` → ``elements[i]``; positions and lattice unchanged, mobile ion kept."""
    if len(elements) != prototype.k:
        raise ParameterError(f"{prototype.id}: {len(elements)} elements given for {prototype.k} species {prototype.species}")
    if len(set(elements)) != len(elements) or prototype.mobile_ion in elements:
        raise ParameterError(f"{prototype.id}: substituted elements {tuple(elements)} must be distinct and exclude {prototype.mobile_ion}")
    s = prototype.structure.copy()
    s.replace_species(dict(zip(prototype.species, elements)))
    return s
