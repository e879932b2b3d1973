"""One path for data: every source yields a :class:`Dataset` of :class:`Record` s.

Sources, by name for :func:`load` and the CLI's ``--input``:

``embedded``            real Li structures shipped inside installed packages (offline default)
``obelix[:split]``      OBELiX experimental conductivities + CIFs (split train/test/all)
``known_conductors``    the literature table (labels only; see :mod:`sicnb.data.known_conductors`)
``materials_project``   Li-containing MP structures (needs ``MP_API_KEY``)
a path                  a structure file or a directory of them

Label-only tables: :func:`laskowski2023`, :func:`liverpool_ionics`, :func:`known_conductors`.
"""
from __future__ import annotations

from pathlib import Path

from sicnb.data.embedded import embedded
from sicnb.data.files import from_path, read_structure
from sicnb.data.known_conductors import known_conductors, match_known_conductors
from sicnb.data.labels import laskowski2023, liverpool_ionics
from sicnb.data.mp import materials_project, mp_entries
from sicnb.data.obelix import obelix, parse_conductivity
from sicnb.data.records import Dataset, Record, structure_hash
from sicnb.errors import InputError

__all__ = [
    "Dataset", "Record", "structure_hash", "load", "load_many", "embedded", "obelix", "from_path",
    "read_structure", "known_conductors", "match_known_conductors", "laskowski2023", "liverpool_ionics",
    "materials_project", "mp_entries", "parse_conductivity", "DATASET_NAMES",
]

DATASET_NAMES = ("embedded", "obelix", "materials_project")


def load(source: str | Path, mobile_ion: str = "Li", data_dir: str | Path | None = None) -> Dataset:
    """Load a source by name (``embedded``, ``obelix``, ``obelix:train``, ``materials_project``) or path."""
    text = str(source)
    name, _, arg = text.partition(":")
    if name == "embedded":
        return embedded(mobile_ion=mobile_ion)
    if name == "obelix":
        return obelix(split=arg or "train", data_dir=data_dir, mobile_ion=mobile_ion)
    if name in ("materials_project", "mp"):
        return materials_project(elements=(mobile_ion,))
    p = Path(text).expanduser()
    if p.exists():
        return from_path(p)
    raise InputError(
        f"{text!r} is neither an existing file/directory nor a dataset name; "
        f"use one of {', '.join(DATASET_NAMES)} (e.g. obelix:train) or a path."
    )


def load_many(sources: list[str | Path], mobile_ion: str = "Li", data_dir: str | Path | None = None) -> Dataset:
    """Several sources combined into one Dataset; ids stay unique (``#2`` suffix on collision)."""
    out = Dataset([], name="")
    for src in sources:
        out = out + load(src, mobile_ion=mobile_ion, data_dir=data_dir)
    return out
