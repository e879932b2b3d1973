"""Composition-level screens: exact reduced-composition dedupe and SMACT charge neutrality.

:class:`ChargeNeutrality` reproduces ``smact.screening.smact_validity`` (charge neutrality over the
SMACT ICSD-24 oxidation states, default filter consensus 3 / commonality "low", plus the Pauling
electronegativity test) on composition keys, with SMACT's data but without building pymatgen
``Composition`` objects, so a streaming screen checks ~10⁵ unique compositions per second. Its equality
with ``smact_validity`` is a unit test.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Iterator

from sicnb.errors import ParameterError, require

__all__ = ["parse_key", "ChargeNeutrality", "dedupe_by_composition", "key_to_formula"]

_KEY_RE = re.compile(r"([A-Z][a-z]?)(\d+)")


def parse_key(key: str) -> tuple[tuple[str, int], ...]:
    """``"Li3P1S4"`` → ``(("Li", 3), ("P", 1), ("S", 4))``."""
    parts = tuple((e, int(n)) for e, n in _KEY_RE.findall(key))
    if not parts or "".join(f"{e}{n}" for e, n in parts) != key:
        raise ParameterError(f"{key!r} is not a composition key like 'Li3P1S4'")
    return parts


@lru_cache(maxsize=200_000)
def key_to_formula(key: str) -> str:
    """pymatgen reduced formula of a composition key (``Li3P1S4`` → ``Li3PS4``)."""
    from pymatgen.core import Composition

    return Composition(dict(parse_key(key))).reduced_formula


@lru_cache(maxsize=8)
def _smact_tables(consensus: int, commonality: str) -> tuple[dict[str, tuple[int, ...]], dict[str, float | None], frozenset[str]]:
    require("smact", extra="htvs")
    from smact import Element as SmactElement
    from smact.screening import _get_icsd24_oxidation_dict, metals  # SMACT's own data and metal list

    ox = {k: tuple(v) for k, v in _get_icsd24_oxidation_dict(False, consensus, commonality).items()}
    eneg: dict[str, float | None] = {}
    for sym in ox:
        try:
            eneg[sym] = SmactElement(sym).pauling_eneg
        except Exception:  # noqa: BLE001 - SMACT lacks data for a few heavy elements
            eneg[sym] = None
    return ox, eneg, frozenset(metals)


@dataclass
class ChargeNeutrality:
    """SMACT validity (charge neutrality + Pauling test) on composition keys, memoised.

    Parameters follow ``smact_validity``: ``use_pauling_test``; ICSD-24 filter ``consensus`` and
    ``commonality``; compositions made only of metals count as valid alloys (``include_alloys``).
    """

    use_pauling_test: bool = True
    include_alloys: bool = True
    consensus: int = 3
    commonality: str = "low"
    _memo: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._ox, self._eneg, self._metals = _smact_tables(self.consensus, self.commonality)

    def __call__(self, key: str) -> bool:
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self.check(parse_key(key))
        return hit

    def check(self, parts: tuple[tuple[str, int], ...]) -> bool:
        """SMACT validity of ``((element, count), ...)``."""
        symbols = [e for e, _ in parts]
        if len(set(symbols)) == 1:
            return True
        if self.include_alloys and all(s in self._metals for s in symbols):
            return True
        g = math.gcd(*(n for _, n in parts))
        counts = [n // g for _, n in parts]
        states = []
        for s in symbols:
            st = self._ox.get(s)
            if not st:
                return False
            states.append(st)
        enegs = [self._eneg.get(s) for s in symbols]
        # solve for the element with the most states instead of enumerating it: Σ q_i n_i = 0
        last = max(range(len(symbols)), key=lambda i: len(states[i]))
        order = [i for i in range(len(symbols)) if i != last]
        n_last = counts[last]
        last_states = set(states[last])
        for combo in itertools.product(*(states[i] for i in order)):
            rest = sum(q * counts[i] for q, i in zip(combo, order))
            q_last, r = divmod(-rest, n_last)
            if r or q_last not in last_states:
                continue
            if not self.use_pauling_test:
                return True
            full = [0] * len(symbols)
            for q, i in zip(combo, order):
                full[i] = q
            full[last] = q_last
            if _pauling_ok(full, enegs):
                return True
        return False

def _pauling_ok(ox, enegs) -> bool:
    """SMACT ``eneg_states_test``: every cation less electronegative than every anion; unknown EN fails."""
    for (o1, e1), (o2, e2) in itertools.combinations(zip(ox, enegs), 2):
        if e1 is None or e2 is None or (o1 > 0 and o2 < 0 and e1 >= e2) or (o1 < 0 and o2 > 0 and e1 <= e2):
            return False
    return True


def dedupe_by_composition(candidates: Iterable, seen: set | None = None) -> Iterator:
    """Yield candidates whose ``.key`` (reduced composition) has not been seen; exact, order-preserving, streaming."""
    seen = set() if seen is None else seen
    for c in candidates:
        if c.key not in seen:
            seen.add(c.key)
            yield c
