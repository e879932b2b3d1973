"""Records and datasets: the one currency every sicnb loader returns."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import pandas as pd
from pymatgen.core import Structure

__all__ = ["Record", "Dataset", "structure_hash"]


def structure_hash(structure: Structure) -> str:
    """A stable content hash of a structure (lattice, species with occupancies, fractional coordinates).

    Coordinates are rounded to 1e-6 and lattice to 1e-6 Å so the hash does not depend on float noise
    from serialisation round-trips. Site properties are not hashed.
    """
    lat = [round(x, 6) for row in structure.lattice.matrix for x in row]
    sites = []
    for site in structure:
        sp = sorted((str(k), round(float(v), 6)) for k, v in site.species.items())
        # wrap into the cell, except corrupted huge/non-finite values (x % 1 would map 1e30 to 0)
        fc = [round(float(x) % 1.0, 6) % 1.0 if abs(float(x)) < 1e4 else repr(float(x)) for x in site.frac_coords]
        sites.append((sp, fc))
    payload = json.dumps({"lattice": lat, "sites": sites, "charge": structure.charge}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Record:
    """One entry of a data source.

    Attributes
    ----------
    id:
        Stable string id, unique within a :class:`Dataset` (e.g. ``"obelix:jqc"``).
    structure:
        pymatgen ``Structure`` with partial occupancies kept, or ``None`` where the source has
        labels but no structure (e.g. OBELiX entries without a CIF).
    labels:
        Named labels (e.g. ``log10_sigma`` in log10(S/cm)); empty when the source has none.
    provenance:
        Where the entry came from (``source`` and source-specific keys such as a DOI or file path).
    """

    id: str
    structure: Structure | None
    labels: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def formula(self) -> str:
        if self.structure is not None:
            return self.structure.composition.reduced_formula
        return str(self.labels.get("formula", ""))


class Dataset:
    """An ordered collection of :class:`Record` with unique ids.

    ``Dataset`` behaves like a sequence of records, and offers the structures, the label table
    and an overview table as pandas objects indexed by id.
    """

    def __init__(self, records: Iterable[Record], name: str = "", failures: pd.DataFrame | None = None):
        self.name = name
        self.records: list[Record] = []
        self._ids: dict[str, int] = {}
        for rec in records:
            self._append(rec)
        #: files or entries that could not be loaded: columns id/path, error
        self.failures = failures if failures is not None else pd.DataFrame(columns=["id", "error"])

    def _append(self, rec: Record) -> None:
        rid = rec.id
        if rid in self._ids:
            n = 2
            while f"{rid}#{n}" in self._ids:
                n += 1
            rid = f"{rid}#{n}"
            rec = Record(rid, rec.structure, dict(rec.labels), dict(rec.provenance))
        self._ids[rid] = len(self.records)
        self.records.append(rec)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __getitem__(self, key: int | str | slice):
        if isinstance(key, str):
            return self.records[self._ids[key]]
        if isinstance(key, slice):
            return Dataset(self.records[key], name=self.name)
        return self.records[key]

    def __contains__(self, key: str) -> bool:
        return key in self._ids

    def __add__(self, other: "Dataset") -> "Dataset":
        fails = pd.concat([self.failures, other.failures], ignore_index=True)
        return Dataset(list(self.records) + list(other.records), name="+".join(filter(None, [self.name, other.name])), failures=fails)

    def __repr__(self) -> str:
        n_struct = sum(r.structure is not None for r in self.records)
        return f"<Dataset {self.name!r}: {len(self)} records, {n_struct} with structures, {len(self.failures)} failures>"

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.records]

    def with_structures(self) -> "Dataset":
        """The records that carry a structure."""
        return Dataset([r for r in self.records if r.structure is not None], name=self.name, failures=self.failures)

    def filter(self, predicate) -> "Dataset":
        return Dataset([r for r in self.records if predicate(r)], name=self.name, failures=self.failures)

    def structures(self) -> dict[str, Structure]:
        """Mapping id → Structure for records that have one."""
        return {r.id: r.structure for r in self.records if r.structure is not None}

    def labels(self) -> pd.DataFrame:
        """Label table indexed by id (one column per label name; NaN where a record lacks it)."""
        df = pd.DataFrame([r.labels for r in self.records], index=pd.Index(self.ids, name="id"))
        return df

    def table(self, mobile_ion: str = "Li") -> pd.DataFrame:
        """Overview: id, formula, n_sites, is_ordered, contains_mobile_ion, source, provenance, labels."""
        rows = []
        for r in self.records:
            s = r.structure
            row = {
                "id": r.id,
                "formula": r.formula,
                "n_sites": len(s) if s is not None else None,
                "is_ordered": bool(s.is_ordered) if s is not None else None,
                "contains_mobile_ion": (mobile_ion in {e.symbol for e in s.composition.elements}) if s is not None else None,
                "source": r.provenance.get("source", ""),
                "provenance": json.dumps({k: v for k, v in r.provenance.items() if k != "source"}, default=str),
            }
            for k, v in r.labels.items():
                if k not in row:
                    row[k] = v
            rows.append(row)
        return pd.DataFrame(rows)
