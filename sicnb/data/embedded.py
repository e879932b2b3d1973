"""The offline default candidate pool: real Li-containing structures shipped inside installed packages.

Sources (no network, nothing from outside the installed packages):

* ``crystal_toolkit/apps/examples/matbench_dielectric.json.gz`` — the Matbench v0.1
  ``matbench_dielectric`` task (Dunn et al., npj Comput. Mater. 6, 138 (2020);
  Materials Project DFPT dielectric data of Petousis et al., Sci. Data 4, 160134 (2017)),
  4,764 relaxed Materials Project structures, 805 of them containing Li. Located with
  ``importlib.util.find_spec`` so the (slow, Dash-importing) package is never imported.
* ``pymatgen/util/structures/*.json`` — pymatgen's bundled test structures that contain the
  mobile ion (Li10GeP2S12 with its partial occupancies, Li2O, LiFePO4, ...).
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import warnings
from functools import lru_cache
from pathlib import Path

import pandas as pd
from pymatgen.core import Structure

from sicnb.data.records import Dataset, Record
from sicnb.errors import DataUnavailableError

__all__ = ["embedded", "matbench_dielectric_path"]

MATBENCH_CITATION = "Dunn et al., npj Comput. Mater. 6, 138 (2020); Petousis et al., Sci. Data 4, 160134 (2017)"


def matbench_dielectric_path() -> Path:
    """Path of crystal-toolkit's bundled ``matbench_dielectric.json.gz`` (without importing the package)."""
    spec = importlib.util.find_spec("crystal_toolkit")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError(
            "The embedded pool needs the 'crystal-toolkit' package, which ships matbench_dielectric.json.gz. "
            "Install it with: pip install crystal-toolkit"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "apps" / "examples" / "matbench_dielectric.json.gz"
    if not path.exists():
        raise DataUnavailableError(f"crystal-toolkit is installed but {path} is missing; reinstall crystal-toolkit.")
    return path


@lru_cache(maxsize=2)
def _matbench_records(mobile_ion: str) -> tuple[Record, ...]:
    path = matbench_dielectric_path()
    with gzip.open(path, "rt") as fh:
        table = json.load(fh)
    out = []
    for key in sorted(table["structure"], key=int):
        d = table["structure"][key]
        elements = {sp["element"] for site in d["sites"] for sp in site["species"]}
        if mobile_ion not in elements:
            continue
        s = Structure.from_dict(d)
        out.append(
            Record(
                id=f"mbdiel-{int(key):04d}",
                structure=s,
                labels={"refractive_index": float(table["n"][key])},
                provenance={
                    "source": "embedded:matbench_dielectric",
                    "file": "crystal_toolkit/apps/examples/matbench_dielectric.json.gz",
                    "row": int(key),
                    "spacegroup": table["spg_symbol"][key],
                    "citation": MATBENCH_CITATION,
                },
            )
        )
    return tuple(out)


def pymatgen_structures_folder() -> Path:
    """pymatgen's bundled ``util/structures`` folder."""
    import pymatgen.util

    return Path(pymatgen.util.__file__).parent / "structures"


@lru_cache(maxsize=2)
def _pymatgen_records(mobile_ion: str) -> tuple[tuple[Record, ...], tuple[tuple[str, str], ...]]:
    """(records, unreadable files as (id, reason)): a bundled file that is not a crystal structure is reported, not hidden."""
    out, unreadable = [], []
    for path in sorted(pymatgen_structures_folder().glob("*.json")):
        try:
            s = Structure.from_file(path)
        except Exception as exc:  # noqa: BLE001 - e.g. a molecule or another object: recorded in Dataset.failures
            unreadable.append((f"pymatgen:{path.stem}", f"pymatgen/util/structures/{path.name}: {type(exc).__name__}: {exc}"))
            continue
        if mobile_ion not in {e.symbol for e in s.composition.elements}:
            continue
        out.append(
            Record(
                id=f"pymatgen:{path.stem}",
                structure=s,
                labels={},
                provenance={"source": "embedded:pymatgen", "file": f"pymatgen/util/structures/{path.name}"},
            )
        )
    return tuple(out), tuple(unreadable)


def embedded(mobile_ion: str = "Li", include: tuple[str, ...] = ("matbench_dielectric", "pymatgen")) -> Dataset:
    """All structures containing ``mobile_ion`` from data shipped inside installed packages.

    Returns a :class:`Dataset` with ids ``mbdiel-NNNN`` (row NNNN of matbench_dielectric) and
    ``pymatgen:<name>``. Structures are copies: callers may modify them freely. Bundled files that could
    not be read are listed in ``Dataset.failures`` (with one warning giving their count).
    """
    recs: list[Record] = []
    unreadable: tuple[tuple[str, str], ...] = ()
    if "matbench_dielectric" in include:
        recs += list(_matbench_records(mobile_ion))
    if "pymatgen" in include:
        pm_recs, unreadable = _pymatgen_records(mobile_ion)
        recs += list(pm_recs)
    if unreadable:
        warnings.warn(f"embedded: {len(unreadable)} bundled pymatgen structure file(s) could not be read; "
                      "see Dataset.failures", stacklevel=2)
    return Dataset(
        [Record(r.id, r.structure.copy(), dict(r.labels), dict(r.provenance)) for r in recs],
        name="embedded",
        failures=pd.DataFrame(list(unreadable), columns=["id", "error"]),
    )
