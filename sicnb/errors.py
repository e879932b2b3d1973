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
    "DataUnavailableError",
    "OptionalDependencyError",
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


class DataUnavailableError(SicnbError):
    """A dataset is not available locally and could not be downloaded."""


class OptionalDependencyError(SicnbError, ImportError):
    """An optional dependency is missing; the message carries the install hint."""


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
