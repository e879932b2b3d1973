"""OBELiX: experimental Li-ion conductivities with crystal structures.

Therrien et al., "OBELiX: A Curated Dataset of Crystal Structures and Experimentally Measured
Ionic Conductivities for Lithium Solid-State Electrolytes", arXiv:2502.14234 (CC BY 4.0).

Lookup order: ``data_dir`` argument → ``$SICNB_DATA_DIR/obelix`` → the download cache
(``~/.cache/sicnb/obelix``, filled from the public GitHub release on first use).

Label rules (explicit, per entry):

* ``log10_sigma`` = log10 of "Ionic conductivity (S cm-1)". Textual upper bounds such as
  ``"<1E-10"`` become the bound (-10) with ``sigma_censored = "upper"``; exact values have
  ``sigma_censored = ""``.
* ``composition`` is the "True Composition" column — trusted over the CIF.
* Flags: ``flag_no_cif`` (no structure), ``flag_cif_lacks_li`` (CIF without the mobile ion),
  ``flag_close_match`` (the CIF is only a "close match" to the measured material),
  ``flag_composition_mismatch`` (CIF composition differs from True Composition by more than
  0.02 in any element fraction).
"""
from __future__ import annotations

import math
import tarfile
import warnings
from pathlib import Path

import pandas as pd
from pymatgen.core import Composition, Structure

from sicnb.data.paths import cache_dir, data_dir, download
from sicnb.data.records import Dataset, Record
from sicnb.errors import DataUnavailableError, ParameterError

__all__ = ["obelix", "parse_conductivity", "OBELIX_URLS"]

CITATION = "Therrien et al., arXiv:2502.14234 (2025), CC BY 4.0"
_BASE = "https://raw.githubusercontent.com/NRC-Mila/OBELiX/main/data/downloads/"
OBELIX_URLS = {"train": _BASE + "all.csv", "test": _BASE + "test.csv", "cifs": _BASE + "all_cifs.tar.gz"}
SIGMA_COLUMN = "Ionic conductivity (S cm-1)"


def parse_conductivity(value) -> tuple[float, str]:
    """Parse an OBELiX conductivity cell → (log10 σ in log10(S/cm), censoring).

    ``"1.2e-3"`` → (-2.92, ""); ``"<1E-10"`` → (-10.0, "upper"); ``">1e-2"`` → (-2.0, "lower");
    empty → (nan, "missing"). Anything else raises :class:`ParameterError` naming the value.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return float("nan"), "missing"
    text = str(value).strip().replace(" ", "")
    if not text:
        return float("nan"), "missing"
    censor = ""
    if text[0] in "<>":
        censor = "upper" if text[0] == "<" else "lower"
        text = text[1:]
    try:
        sigma = float(text)
    except ValueError as exc:
        raise ParameterError(f"Unrecognised OBELiX conductivity value {value!r}") from exc
    if sigma <= 0:
        raise ParameterError(f"Non-positive OBELiX conductivity value {value!r}")
    return math.log10(sigma), censor


def _locate(explicit) -> Path:
    """Directory that holds OBELiX's all.csv (and all_randomized_cifs/ or all_cifs.tar.gz)."""
    base = data_dir(explicit)
    candidates = []
    if base is not None:
        candidates += [base / "obelix", base]
    for c in candidates:
        if (c / "all.csv").exists():
            return c
    if explicit is not None:
        raise DataUnavailableError(f"No OBELiX all.csv under {base} (looked in {[str(c) for c in candidates]}).")
    cache = cache_dir("obelix")
    download(OBELIX_URLS["train"], cache / "all.csv")
    try:
        download(OBELIX_URLS["test"], cache / "test.csv")
        tgz = download(OBELIX_URLS["cifs"], cache / "all_cifs.tar.gz")
        if not (cache / "all_randomized_cifs").exists():
            with tarfile.open(tgz) as tf:
                tf.extractall(cache, filter="data")
    except DataUnavailableError as exc:
        warnings.warn(f"OBELiX CIFs unavailable: {exc}", stacklevel=2)
    return cache


def _cif_dir(root: Path) -> Path | None:
    for name in ("all_randomized_cifs", "all_cifs", "cifs"):
        if (root / name).is_dir():
            return root / name
    return None


def _read_split(root: Path, split: str) -> pd.DataFrame:
    """OBELiX ships ``all.csv`` (every released entry) and ``test.csv`` (the test-split rows).

    train = all − test ids; test = all ∩ test ids (or the rows of test.csv); all = both.
    """
    path = root / "all.csv"
    if not path.exists():
        raise DataUnavailableError(f"OBELiX table not found at {path}")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    test_path = root / "test.csv"
    test = pd.read_csv(test_path, dtype=str, keep_default_na=False) if test_path.exists() else pd.DataFrame(columns=["ID"])
    test_ids = set(test["ID"].str.strip()) if "ID" in test else set()
    in_test = table["ID"].str.strip().isin(test_ids)
    table["split"] = ["test" if t else "train" for t in in_test]
    extra = test[~test["ID"].str.strip().isin(set(table["ID"].str.strip()))] if len(test.columns) > 1 else test.iloc[0:0]
    if len(extra):
        extra = extra.copy()
        extra["split"] = "test"
        table = pd.concat([table, extra], ignore_index=True)
    if split == "all":
        return table
    if split == "test" and not (table["split"] == "test").any():
        warnings.warn(f"The OBELiX test split is empty in {root} (the test rows are not distributed there).", stacklevel=3)
    return table[table["split"] == split].reset_index(drop=True)


def _num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def obelix(split: str = "train", data_dir: str | Path | None = None, mobile_ion: str = "Li") -> Dataset:
    """Load OBELiX as a :class:`Dataset` (ids ``obelix:<ID>``; structure ``None`` where there is no CIF).

    Parameters
    ----------
    split: ``"train"`` (the 478-entry official training split), ``"test"`` (121 entries; header only
        in some distributions) or ``"all"``.
    data_dir: a directory holding ``obelix/all.csv`` or ``all.csv`` (default ``$SICNB_DATA_DIR``;
        otherwise the download cache).
    """
    if split not in ("train", "test", "all"):
        raise ParameterError(f"OBELiX split must be 'train', 'test' or 'all', not {split!r}")
    root = _locate(data_dir)
    table = _read_split(root, split)
    cifs = _cif_dir(root)
    records, failures = [], []
    for row in table.to_dict("records"):
        oid = row["ID"].strip()
        log10_sigma, censor = parse_conductivity(row.get(SIGMA_COLUMN))
        true_comp = row.get("True Composition", "") or row.get("Reduced Composition", "")
        structure = None
        cif_path = cifs / f"{oid}.cif" if cifs is not None else None
        if cif_path is not None and cif_path.exists():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    structure = Structure.from_file(cif_path)
            except Exception as exc:  # noqa: BLE001 - recorded, batch continues
                failures.append({"id": f"obelix:{oid}", "error": f"{cif_path.name}: {type(exc).__name__}: {exc}"})
        mismatch = False
        lacks_li = False
        if structure is not None:
            lacks_li = mobile_ion not in {e.symbol for e in structure.composition.elements}
            try:
                mismatch = not structure.composition.fractional_composition.almost_equals(
                    Composition(true_comp).fractional_composition, rtol=0, atol=0.02
                )
            except Exception:  # noqa: BLE001 - unparsable True Composition
                mismatch = True
        labels = {
            "log10_sigma": log10_sigma,
            "sigma_censored": censor,
            "sigma_S_cm": 10**log10_sigma if not math.isnan(log10_sigma) else float("nan"),
            "composition": true_comp,
            "reduced_composition": row.get("Reduced Composition", ""),
            "family": row.get("Family", ""),
            "space_group_number": _num(row.get("Space group #")),
            "icsd_id": _num(row.get("ICSD ID")),
            "laskowski_id": _num(row.get("Laskowski ID")),
            "liion_id": _num(row.get("Liion ID")),
            "split": row["split"],
            "flag_no_cif": structure is None,
            "flag_cif_lacks_li": lacks_li,
            "flag_close_match": bool(str(row.get("close match", "")).strip()),
            "flag_composition_mismatch": mismatch,
        }
        records.append(
            Record(
                id=f"obelix:{oid}",
                structure=structure,
                labels=labels,
                provenance={"source": f"obelix:{split}", "obelix_id": oid, "doi": row.get("DOI", ""), "citation": CITATION},
            )
        )
    return Dataset(records, name=f"obelix:{split}", failures=pd.DataFrame(failures, columns=["id", "error"]))
