"""Structures from files: a CIF/POSCAR/pymatgen-JSON file, or a directory of them."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
from pymatgen.core import Structure

from sicnb.data.records import Dataset, Record
from sicnb.errors import InputError

__all__ = ["read_structure", "from_path", "STRUCTURE_SUFFIXES"]

STRUCTURE_SUFFIXES = (".cif", ".mcif", ".json", ".vasp", ".poscar", ".cssr", ".xsf", ".gz")
_POSCAR_NAMES = ("POSCAR", "CONTCAR")


def _looks_like_structure_file(p: Path) -> bool:
    return p.suffix.lower() in STRUCTURE_SUFFIXES or p.name.upper().startswith(_POSCAR_NAMES)


def read_structure(path: str | Path) -> Structure:
    """Read one structure file (CIF, POSCAR/CONTCAR/.vasp, pymatgen JSON) with partial occupancies kept.

    Raises :class:`InputError` naming the file when it cannot be read or holds no sites.
    JSON is parsed with ``json`` into a pymatgen dict — nothing is ever unpickled.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path.suffix.lower() == ".json":
                d = json.loads(path.read_text())
                if isinstance(d, dict) and "structure" in d and "lattice" not in d:
                    d = d["structure"]
                s = Structure.from_dict(d)
            else:
                s = Structure.from_file(path)
    except Exception as exc:  # noqa: BLE001 - every parser failure becomes an InputError
        raise InputError(f"{path}: could not be read as a crystal structure ({type(exc).__name__}: {exc})") from exc
    if len(s) == 0:
        raise InputError(f"{path}: the file holds no atomic sites")
    return s


def from_path(path: str | Path, recursive: bool = False) -> Dataset:
    """A :class:`Dataset` from a structure file or a directory of structure files.

    A single bad file raises :class:`InputError`; in a directory, bad files are recorded in
    ``Dataset.failures`` (id, path, error) and loading continues. Ids are the file stems
    (``dir/LGPS.cif`` → ``LGPS``), made unique by the Dataset.
    """
    path = Path(path)
    if path.is_file():
        s = read_structure(path)
        return Dataset([Record(path.stem, s, {}, {"source": "file", "path": str(path)})], name=path.name)
    if not path.is_dir():
        raise InputError(f"{path}: neither a structure file nor a directory (and not a dataset name)")
    files = sorted(p for p in (path.rglob("*") if recursive else path.iterdir()) if p.is_file() and _looks_like_structure_file(p))
    records, failures = [], []
    for f in files:
        try:
            s = read_structure(f)
        except InputError as exc:
            failures.append({"id": f.stem, "path": str(f), "error": str(exc)})
            continue
        records.append(Record(f.stem, s, {}, {"source": "directory", "path": str(f)}))
    return Dataset(records, name=path.name, failures=pd.DataFrame(failures, columns=["id", "path", "error"]))
