"""One error hierarchy for sicnb.

Single-structure API calls raise these; batch code (``sicnb.parallel.pmap``)
turns them into an ``error`` column and carries on.  Every message says what
was wrong, with which input, and what to do about it.
"""
from __future__ import annotations

__all__ = [
    "SicnbError",
    "InputError",
    "StructureError",
    "ParameterError",
    "ModelUnavailableError",
    "ModelIntegrityError",
    "DataUnavailableError",
    "OptionalDependencyError",
    "UnreadableFileError",
    "UnknownElementError",
    "EmptyStructureError",
    "NoMobileIonError",
    "OverlappingAtomsError",
    "AbsurdCellError",
    "TooManyAtomsError",
    "NonFiniteValueError",
    "OverOccupiedSiteError",
    "OxidationStateError",
    "ItemTimeoutError",
    "WorkerLostError",
    "NotebookError",
    "NotebookTimeoutError",
]


class SicnbError(Exception):
    """Base class of every error sicnb raises on purpose."""


class InputError(SicnbError):
    """An input file or dataset name could not be read or parsed."""


class StructureError(SicnbError):
    """A structure is unusable for the requested analysis (no mobile ion, overlapping atoms, ...)."""


class ParameterError(SicnbError, ValueError):
    """A parameter is out of range or of the wrong kind."""


class ModelUnavailableError(SicnbError):
    """A pretrained model could not be found or loaded."""


class ModelIntegrityError(SicnbError):
    """A pretrained model loaded but failed its load-time self-test: it does not reproduce known reference values
    (e.g. a checkpoint run with another message-aggregation convention than it was trained with)."""


class DataUnavailableError(SicnbError):
    """A dataset is not available locally and could not be downloaded."""


class OptionalDependencyError(SicnbError, ImportError):
    """An optional dependency is missing; the message carries the install hint."""


# --- specific input/structure problems (raised by sicnb.validate) -------------------------------


class UnreadableFileError(InputError):
    """A structure file is missing, garbled or truncated so that no parser can read it."""


class UnknownElementError(InputError, StructureError):
    """A file or structure names a species that is not a chemical element (e.g. ``Xx``, ``X0+``)."""


class EmptyStructureError(StructureError):
    """A structure has no atomic sites."""


class NoMobileIonError(StructureError):
    """A structure holds none of the mobile ion (e.g. no Li) that the analysis needs."""


class OverlappingAtomsError(StructureError):
    """Two (not mutually exclusive) sites are closer than the minimum distance (default 0.5 Å)."""


class AbsurdCellError(StructureError):
    """The cell is degenerate or its volume per atom is outside the physical range."""


class TooManyAtomsError(AbsurdCellError):
    """The cell has more sites than the stated ``max_atoms`` limit."""


class NonFiniteValueError(StructureError):
    """A coordinate, lattice parameter or occupancy is NaN or infinite."""


class OverOccupiedSiteError(StructureError):
    """The occupancies on one site sum to more than 1 (or one is negative)."""


class OxidationStateError(StructureError):
    """No charge-balanced oxidation states could be assigned."""


# --- batch-run problems (rows in a pmap table, never raised out of pmap) -------------------------


class ItemTimeoutError(SicnbError):
    """One item of a batch ran past the per-item time limit and was stopped."""


class NotebookError(SicnbError):
    """A notebook run by ``sicnb run`` / ``sicnb demo`` failed; the message names the failing cell."""


class NotebookTimeoutError(NotebookError):
    """A notebook ran past its wall-time limit and was stopped; the message names the running cell."""


class WorkerLostError(SicnbError):
    """The process computing an item died (killed, out of memory, crashed) before returning."""


def require(module: str, extra: str | None = None, pip_name: str | None = None):
    """Import an optional heavy dependency lazily, with an install hint on failure."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the dependency
        hint = f'pip install "sicnb[{extra}]"' if extra else f"pip install {pip_name or module}"
        raise OptionalDependencyError(
            f"sicnb needs the optional package '{pip_name or module}' for this feature ({exc}). "
            f"Install it with: {hint}"
        ) from exc
