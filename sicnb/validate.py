"""Input and parameter validation used at every sicnb entry point.

Structures
----------
:func:`validate_structure` checks one pymatgen ``Structure`` and raises a specific
:class:`~sicnb.errors.SicnbError` subclass naming the input and the problem:

=====================================  ==============================================================
problem                                error
=====================================  ==============================================================
file missing, garbled, truncated       :class:`~sicnb.errors.UnreadableFileError` (an ``InputError``)
species that is not an element         :class:`~sicnb.errors.UnknownElementError`
no sites                               :class:`~sicnb.errors.EmptyStructureError`
more than ``max_atoms`` sites          :class:`~sicnb.errors.TooManyAtomsError`
NaN/inf coordinate, lattice, occupancy :class:`~sicnb.errors.NonFiniteValueError`
site occupancies summing above 1       :class:`~sicnb.errors.OverOccupiedSiteError`
degenerate cell, volume/atom out of    :class:`~sicnb.errors.AbsurdCellError`
range
two sites closer than ``min_distance`` :class:`~sicnb.errors.OverlappingAtomsError`
when either is fully occupied
(partially occupied split sites
may lie close together)
no mobile ion                          :class:`~sicnb.errors.NoMobileIonError`
no charge-balanced oxidation states    :class:`~sicnb.errors.OxidationStateError` (opt-in check)
=====================================  ==============================================================

:func:`read_validated` reads a file (never unpickling anything) and validates it;
:func:`validated` wraps a per-structure function so it only ever sees valid input, and
:func:`sicnb.parallel.pmap` validates every item (``validate=True`` by default).

Parameters
----------
:func:`check_number`, :func:`check_positive`, :func:`check_fraction`, :func:`check_choice`,
:func:`check_element` and :func:`check_model_path` raise :class:`~sicnb.errors.ParameterError`
(or :class:`~sicnb.errors.ModelUnavailableError`) with the parameter name, the value, the allowed
range and a hint.

Why one module of ~470 lines: it is 18 small checks that share the error table above; every entry point
validates through them, so one file keeps the messages (input, problem, what to do) consistent.
"""
from __future__ import annotations

import contextvars
import difflib
import functools
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from pymatgen.core import DummySpecies, Element, Species, Structure

from sicnb.errors import (
    AbsurdCellError,
    EmptyStructureError,
    InputError,
    ModelUnavailableError,
    NoMobileIonError,
    NonFiniteValueError,
    OverlappingAtomsError,
    OverOccupiedSiteError,
    OxidationStateError,
    ParameterError,
    SicnbError,
    StructureError,
    TooManyAtomsError,
    UnknownElementError,
    UnreadableFileError,
)

__all__ = [
    "StructureChecks", "validate_structure", "read_validated", "validated", "check_structure_file",
    "check_number", "check_positive", "check_fraction", "check_choice", "check_element", "check_model_path",
    "current_item", "DEFAULT_CHECKS",
]

#: id of the item being processed by :func:`sicnb.parallel.pmap` (used to name inputs in messages)
current_item: contextvars.ContextVar[str | None] = contextvars.ContextVar("sicnb_current_item", default=None)

_OCC_TOL = 1e-3
_MAX_LENGTH = 1e4  # Å; no crystal cell vector is this long
_MAX_FRAC = 1e4  # |fractional coordinate| beyond this is a corrupted number, not a position


@dataclass(frozen=True)
class StructureChecks:
    """What :func:`validate_structure` checks, with the limits stated.

    Attributes
    ----------
    min_distance: smallest allowed distance (Å) from a fully occupied site to any other site (or its
        own periodic image). Two partially occupied sites may be closer: experimental CIFs describe
        split positions that way, even when the occupancies round to slightly more than 1.
    min_volume_per_atom, max_volume_per_atom: allowed cell volume per atom (Å³; atoms counted with
        their occupancies). Real inorganic solids lie between ~5 and ~100 Å³/atom.
    max_atoms: largest allowed number of sites in the cell (``None``: no limit).
    mobile_ion: element that must be present (``None``: not required).
    oxidation_states: also require charge-balanced oxidation states (slower; off by default).
    """

    min_distance: float = 0.5
    min_volume_per_atom: float = 2.0
    max_volume_per_atom: float = 500.0
    max_atoms: int | None = 5000
    mobile_ion: str | None = None
    oxidation_states: bool = False

    def __post_init__(self):
        check_positive("min_distance", self.min_distance, allow_zero=True)
        check_positive("min_volume_per_atom", self.min_volume_per_atom, allow_zero=True)
        check_number("max_volume_per_atom", self.max_volume_per_atom, lo=self.min_volume_per_atom, lo_open=True)
        if self.max_atoms is not None:
            check_number("max_atoms", self.max_atoms, lo=1, integer=True)
        if self.mobile_ion is not None:
            check_element("mobile_ion", self.mobile_ion)

    @classmethod
    def from_spec(cls, spec: "StructureChecks | Mapping[str, Any] | bool | None") -> "StructureChecks | None":
        """``True``/``None`` → defaults, ``False`` → no checks, a mapping → those fields changed."""
        if spec is False:
            return None
        if spec is None or spec is True:
            return DEFAULT_CHECKS
        if isinstance(spec, StructureChecks):
            return spec
        if isinstance(spec, Mapping):
            unknown = set(spec) - set(asdict(DEFAULT_CHECKS))
            if unknown:
                raise ParameterError(
                    f"unknown validation option(s) {sorted(unknown)}; known: {sorted(asdict(DEFAULT_CHECKS))}"
                )
            return replace(DEFAULT_CHECKS, **dict(spec))
        raise ParameterError(f"validate={spec!r}: expected True, False, a dict of StructureChecks fields or a StructureChecks")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)



def _name(structure: Structure, name: str | None) -> str:
    if name:
        return str(name)
    item = current_item.get()
    try:
        formula = structure.composition.reduced_formula
    except Exception:  # noqa: BLE001 - a broken composition must not hide the real problem
        formula = "?"
    return f"{item} ({formula})" if item else f"structure {formula}"


def _species_label(site) -> str:
    try:
        return site.species_string
    except Exception:  # noqa: BLE001
        return "?"


def validate_structure(
    structure: Structure,
    checks: StructureChecks | Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    **overrides: Any,
) -> Structure:
    """Check ``structure`` and return it unchanged; raise a specific :class:`StructureError` otherwise.

    ``checks`` (or keyword overrides such as ``mobile_ion="Li"``, ``max_atoms=500``) set the limits;
    ``name`` names the input in messages (default: the pmap item id, else the formula).
    """
    spec = StructureChecks.from_spec(checks)
    if spec is None:
        spec = DEFAULT_CHECKS
    if overrides:
        spec = StructureChecks.from_spec({**spec.as_dict(), **overrides})
    if not isinstance(structure, Structure):
        raise ParameterError(f"expected a pymatgen Structure, got {type(structure).__name__}")
    label = _name(structure, name)
    n = len(structure)
    if n == 0:
        raise EmptyStructureError(f"{label}: the structure has no atomic sites; check the source file")
    if spec.max_atoms is not None and n > spec.max_atoms:
        raise TooManyAtomsError(
            f"{label}: {n} sites in the cell, more than max_atoms={spec.max_atoms}; "
            "use a smaller cell (primitive/reduced) or raise max_atoms"
        )

    matrix = np.asarray(structure.lattice.matrix, dtype=float)
    if not np.all(np.isfinite(matrix)):
        raise NonFiniteValueError(f"{label}: the lattice contains NaN or infinite values; fix the cell parameters")
    frac = np.asarray([site.frac_coords for site in structure], dtype=float)
    with np.errstate(invalid="ignore"):
        bad = np.where(~np.all(np.isfinite(frac) & (np.abs(frac) < _MAX_FRAC), axis=1))[0]
    if len(bad):
        i = int(bad[0])
        raise NonFiniteValueError(
            f"{label}: site {i} ({_species_label(structure[i])}) has a NaN, infinite or absurdly large "
            f"fractional coordinate {frac[i].tolist()} ({len(bad)} such sites); fix or remove those atom lines"
        )

    occupancy = np.zeros(n)
    for i, site in enumerate(structure):
        total = 0.0
        for sp, occ in site.species.items():
            if isinstance(sp, DummySpecies) or not isinstance(sp, (Element, Species)):
                raise UnknownElementError(
                    f"{label}: site {i} holds {sp!s}, which is not a chemical element; "
                    "replace placeholder/dummy species with real elements"
                )
            occ = float(occ)
            if not math.isfinite(occ):
                raise NonFiniteValueError(f"{label}: site {i} ({_species_label(site)}) has a NaN or infinite occupancy")
            if occ < -_OCC_TOL:
                raise OverOccupiedSiteError(f"{label}: site {i} ({_species_label(site)}) has a negative occupancy {occ:g}")
            total += occ
        if total > 1 + _OCC_TOL:
            raise OverOccupiedSiteError(
                f"{label}: occupancies on site {i} ({_species_label(site)}) sum to {total:.4g} > 1; "
                "fix the occupancies in the source file"
            )
        occupancy[i] = total

    with np.errstate(all="ignore"):
        volume = float(abs(np.linalg.det(matrix)))
    if not math.isfinite(volume) or volume <= 1e-8:
        raise AbsurdCellError(f"{label}: the cell is degenerate (volume {volume:.3g} Å³); check the lattice vectors")
    lengths = np.linalg.norm(matrix, axis=1)
    if lengths.max() > _MAX_LENGTH:
        raise AbsurdCellError(
            f"{label}: a cell vector is {lengths.max():.3g} Å long (limit {_MAX_LENGTH:g} Å); check the lattice vectors/units"
        )
    n_atoms = float(occupancy.sum())
    if n_atoms <= 0:
        raise EmptyStructureError(f"{label}: every site has zero occupancy")
    vpa = volume / n_atoms
    if not spec.min_volume_per_atom <= vpa <= spec.max_volume_per_atom:
        raise AbsurdCellError(
            f"{label}: {vpa:.4g} Å³ per atom is outside the physical range "
            f"[{spec.min_volume_per_atom:g}, {spec.max_volume_per_atom:g}] Å³; check the cell lengths/units "
            "and the site list (or change min/max_volume_per_atom)"
        )
    try:
        _check_overlaps(structure, occupancy, spec.min_distance, label)
    except SicnbError:
        raise
    except Exception as exc:  # noqa: BLE001 - a numerical failure on garbage input is still a clear error
        raise StructureError(f"{label}: interatomic distances could not be computed ({type(exc).__name__}: {exc}); check the cell and coordinates") from None

    if spec.mobile_ion is not None:
        symbols = {getattr(sp, "symbol", str(sp)) for site in structure for sp in site.species}
        if spec.mobile_ion not in symbols:
            raise NoMobileIonError(
                f"{label}: contains no {spec.mobile_ion}; this analysis needs the mobile ion "
                f"(drop the structure, or pass mobile_ion= for another species)"
            )
    if spec.oxidation_states:
        from sicnb.structure.oxidation import assign_oxidation_states

        try:
            _, method = assign_oxidation_states(structure)
        except SicnbError as exc:
            raise OxidationStateError(f"{label}: oxidation states could not be assigned ({exc})") from None
        if method == "sign":
            raise OxidationStateError(
                f"{label}: no charge-balanced oxidation states exist for {structure.composition.reduced_formula} "
                "(bond valence and ICSD-statistics guesses both failed); check the composition or give oxidation states"
            )
    return structure


def _check_overlaps(structure: Structure, occupancy: np.ndarray, min_distance: float, label: str) -> None:
    if min_distance <= 0:
        return
    lll = structure.lattice.get_lll_reduced_lattice()
    shortest = float(min(lll.abc))
    if shortest < min_distance:
        raise OverlappingAtomsError(
            f"{label}: the shortest lattice vector is {shortest:.3g} Å < {min_distance:g} Å, so every atom "
            "overlaps its own periodic image; check the cell parameters"
        )
    centers, neighbors, _, distances = structure.get_neighbor_list(min_distance, exclude_self=True)
    for i, j, d in zip(centers, neighbors, distances):
        i, j = int(i), int(j)
        if i == j or max(occupancy[i], occupancy[j]) >= 1 - _OCC_TOL:
            raise OverlappingAtomsError(
                f"{label}: sites {i} ({_species_label(structure[i])}) and {j} ({_species_label(structure[j])}) "
                f"are {d:.3f} Å apart (< {min_distance:g} Å) and cannot both be occupied; remove duplicate atom "
                "lines or fix the coordinates"
            )


_UNKNOWN_ELEMENT_HINTS = ("not a valid element", "is not a valid element", "invalid element", "unknown element", "dummyspecies")


def read_validated(path: str | os.PathLike, checks: StructureChecks | Mapping[str, Any] | None = None, **overrides: Any) -> Structure:
    """Read one structure file with :func:`sicnb.data.read_structure` and validate it.

    Raises :class:`UnreadableFileError` / :class:`UnknownElementError` (both ``InputError``) or a
    :class:`StructureError` subclass; every message starts with the file path.
    """
    from sicnb.data.files import read_structure

    path = Path(path)
    try:
        s = read_structure(path)
    except InputError as exc:
        text = str(exc)
        if isinstance(exc, SicnbError) and type(exc) is not InputError:
            raise
        diagnosis = _cif_diagnosis(path)
        if diagnosis is not None:
            raise diagnosis from None
        if "no atomic sites" in text:
            raise EmptyStructureError(text) from None
        low = text.lower()
        if any(h in low for h in _UNKNOWN_ELEMENT_HINTS):
            raise UnknownElementError(f"{text}; use real element symbols") from None
        raise UnreadableFileError(f"{text}; check that it is a complete CIF/POSCAR/JSON structure file") from None
    return validate_structure(s, checks, name=str(path), **overrides)


def _cif_diagnosis(path: Path) -> SicnbError | None:
    """Why pymatgen found no structure in a CIF (it reports the reason only as a warning)."""
    import re
    import warnings

    if path.suffix.lower() not in (".cif", ".mcif"):
        return None
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            CifParser(path).parse_structures(primitive=False)
        except Exception:  # noqa: BLE001 - we only want the warnings
            pass
    messages = [str(w.message) for w in caught]
    for m in messages:
        hit = re.search(r"occupancies \(\[([^\]]*)\]\) sum to > 1", m)
        if hit:
            return OverOccupiedSiteError(f"{path}: site occupancies sum to more than 1 ({hit.group(1)}); fix the occupancies in the file")
    for m in messages:
        if m.startswith("Issues encountered while parsing CIF"):
            return UnreadableFileError(f"{path}: {m.splitlines()[0][:300]}")
    return None


def check_structure_file(path: str | os.PathLike, checks: StructureChecks | Mapping[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """One table row for a file: ``{"path", "formula", "n_sites", "error_class", "error"}`` (never raises a SicnbError)."""
    row: dict[str, Any] = {"path": str(path), "formula": "", "n_sites": None, "error_class": "", "error": ""}
    try:
        s = read_validated(path, checks, **overrides)
        row.update(formula=s.composition.reduced_formula, n_sites=len(s))
    except SicnbError as exc:
        row.update(error_class=type(exc).__name__, error=str(exc))
    return row


def validated(func: Callable | None = None, *, checks: StructureChecks | Mapping[str, Any] | None = None, **overrides: Any):
    """Decorator: validate the structure (first argument) before calling ``func``.

    The mobile ion is taken from the call's ``mobile_ion`` keyword (or the function's default for it)
    unless ``mobile_ion=`` is given here; pass ``mobile_ion=None`` to not require one.

    >>> @validated(max_atoms=500)
    ... def n_li(structure, mobile_ion="Li"):
    ...     return {"n": structure.composition[mobile_ion]}
    """
    def deco(f: Callable) -> Callable:
        import inspect

        base = StructureChecks.from_spec(checks) or DEFAULT_CHECKS
        spec = StructureChecks.from_spec({**base.as_dict(), **overrides}) if overrides else base
        fixed_mobile = "mobile_ion" in overrides or (isinstance(checks, Mapping) and "mobile_ion" in checks)
        sig_default = None
        try:
            p = inspect.signature(f).parameters.get("mobile_ion")
            if p is not None and p.default is not inspect.Parameter.empty:
                sig_default = p.default
        except (TypeError, ValueError):
            pass

        @functools.wraps(f)
        def wrapper(structure, *args, **kwargs):
            use = spec
            if not fixed_mobile:
                ion = kwargs.get("mobile_ion", sig_default)
                if ion is not None:
                    use = replace(spec, mobile_ion=check_element("mobile_ion", ion))
            validate_structure(structure, use)
            return f(structure, *args, **kwargs)

        wrapper.validation = spec  # type: ignore[attr-defined]
        return wrapper

    return deco(func) if func is not None else deco


# --- parameters ----------------------------------------------------------------------------------


def check_number(
    name: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
    unit: str = "",
) -> float:
    """Return ``value`` if it is a finite number within [lo, hi] (open ends optional); else raise ParameterError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name}={value!r}: expected a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ParameterError(f"{name}={value!r}: must be a finite number")
    if integer and v != int(v):
        raise ParameterError(f"{name}={value!r}: must be a whole number")
    u = f" {unit}" if unit else ""
    lo_bad = lo is not None and (v <= lo if lo_open else v < lo)
    hi_bad = hi is not None and (v >= hi if hi_open else v > hi)
    if lo_bad or hi_bad:
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        rng = f"{lb}{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}{rb}"
        raise ParameterError(f"{name}={value!r}{u} is out of range; allowed: {rng}{u}")
    return value


def check_positive(name: str, value: Any, *, allow_zero: bool = False, unit: str = "") -> float:
    """``value`` > 0 (or ≥ 0 with ``allow_zero``), e.g. radii, cutoffs, time limits."""
    return check_number(name, value, lo=0.0, lo_open=not allow_zero, unit=unit)


def check_fraction(name: str, value: Any) -> float:
    """``value`` in [0, 1], e.g. probability thresholds and occupancy cut-offs."""
    return check_number(name, value, lo=0.0, hi=1.0)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` is one of ``choices``; otherwise a ParameterError listing them and the closest match."""
    options = list(choices)
    if value in options:
        return value
    close = difflib.get_close_matches(str(value), [str(c) for c in options], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ParameterError(f"{name}={value!r} is not known; choose one of {', '.join(map(repr, options))}.{hint}")


def check_element(name: str, symbol: Any) -> str:
    """``symbol`` is a chemical element symbol (``"Li"``, ``"Na"``, ...)."""
    try:
        Element(str(symbol))
    except (ValueError, KeyError):
        raise ParameterError(f"{name}={symbol!r} is not an element symbol (e.g. 'Li', 'Na', 'Mg')") from None
    return str(symbol)


def check_model_path(path: str | os.PathLike, what: str, how_to_get: str) -> Path:
    """``path`` exists; otherwise :class:`ModelUnavailableError` with the path tried and how to get the model."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelUnavailableError(f"{what}: nothing at {p}. {how_to_get}")
    return p


#: the checks pmap applies by default (no mobile-ion requirement, no oxidation-state check)
DEFAULT_CHECKS = StructureChecks()
