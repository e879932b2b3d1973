"""sicnb: a Jupyter-first toolkit for discovering lithium superionic conductors.

Subpackages, one concern each: ``sicnb.data`` (sources → records),
``sicnb.structure`` (sublattices, simplifications, disorder),
``sicnb.potentials`` (universal ML potentials), ``sicnb.parallel``
(the cached, resumable, parallel map), ``sicnb.viz`` (figures and widgets),
and one subpackage per reproduced paper.
"""
from __future__ import annotations

__version__ = "0.1.0"

from sicnb.errors import (  # noqa: F401
    DataUnavailableError,
    InputError,
    ModelUnavailableError,
    OptionalDependencyError,
    ParameterError,
    SicnbError,
    StructureError,
)
