"""OBELiX: experimental Li-ion conductivities with crystal structures.

Therrien et al., "OBELiX: A Curated Dataset of Crystal Structures and Experimentally Measured
Ionic Conductivities for Lithium Solid-State Electrolytes", arXiv:2502.14234 (CC BY 4.0).

Lookup order: ``data_dir`` argument → ``$SICNB_DATA_DIR/obelix`` → the download cache
(``~/.cache/sicnb/obelix``, filled on first use from the OBELiX data release ``v1.2.0-data`` — the
tag the ``obelix-data`` 1.2.0 package downloads — never from a moving branch).

The test split never leaks into ``train`` (the split rule):

* the upstream ``all.csv`` holds every entry (train and test) and ``test.csv`` the test rows, so
  train = all − test ids;
* without a ``test.csv`` the two cannot be told apart: ``split="train"``/``"test"`` refuse with
  :class:`~sicnb.errors.DataUnavailableError` (``"all"`` still loads, with ``split = "unknown"``);
* a folder is *train-only* (``all.csv`` holds only the training split, e.g. a distribution that holds
  the test split back) when it holds a file ``TRAIN_ONLY`` or a ``test.csv`` with its header and no
  rows; its ``all.csv`` must then have at most :data:`N_TRAIN` rows, else loading refuses;
* a downloaded release is checked: ``all.csv`` must have :data:`N_ALL` rows, ``test.csv``
  :data:`N_TEST`, every test ID must be in ``all.csv``, and files whose SHA-256 is listed in
  :data:`OBELIX_SHA256` must match it.

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

import hashlib
import math
import tarfile
import warnings
from pathlib import Path

import pandas as pd
from pymatgen.core import Composition, Structure

from sicnb.data.paths import cache_dir, data_dir, download
from sicnb.data.records import Dataset, Record
from sicnb.errors import DataUnavailableError, ParameterError

__all__ = ["obelix", "parse_conductivity", "OBELIX_URLS", "OBELIX_RELEASE", "OBELIX_SHA256", "N_TRAIN", "N_TEST", "N_ALL"]

CITATION = "Therrien et al., arXiv:2502.14234 (2025), CC BY 4.0"
OBELIX_RELEASE = "v1.2.0-data"
_BASE = f"https://raw.githubusercontent.com/NRC-Mila/OBELiX/{OBELIX_RELEASE}/data/downloads/"
OBELIX_URLS = {"all": _BASE + "all.csv", "test": _BASE + "test.csv", "cifs": _BASE + "all_cifs.tar.gz"}
#: Official split sizes (Therrien et al. 2025, Table 1): 478 train + 121 test = 599 entries.
N_TRAIN, N_TEST, N_ALL = 478, 121, 599
#: SHA-256 of the release files, checked after download. Only digests read from the release itself
#: belong here; a file without a digest is checked by its row counts and ID sets alone.
OBELIX_SHA256: dict[str, str] = {}
TRAIN_ONLY_MARKER = "TRAIN_ONLY"
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
    _verify_sha256(download(OBELIX_URLS["all"], cache / "all.csv"), "all.csv")
    try:
        _verify_sha256(download(OBELIX_URLS["test"], cache / "test.csv"), "test.csv")
        _check_release_tables(cache)
    except DataUnavailableError as exc:
        warnings.warn(f"OBELiX test table unavailable ({exc}); only split='all' will load until it is there.", stacklevel=2)
    try:
        tgz = _verify_sha256(download(OBELIX_URLS["cifs"], cache / "all_cifs.tar.gz"), "all_cifs.tar.gz")
        if not (cache / "all_randomized_cifs").exists():
            with tarfile.open(tgz) as tf:
                tf.extractall(cache, filter="data")
    except DataUnavailableError as exc:
        warnings.warn(f"OBELiX CIFs unavailable: {exc}", stacklevel=2)
    return cache


def _verify_sha256(path: Path, name: str) -> Path:
    """Check a downloaded release file against :data:`OBELIX_SHA256`; a mismatch deletes it and raises."""
    expected = OBELIX_SHA256.get(name)
    if expected is None:
        return path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        path.unlink()
        raise DataUnavailableError(
            f"{name} from OBELiX {OBELIX_RELEASE} has SHA-256 {digest}, expected {expected}; the download was "
            f"deleted. Fetch it again, or put the release file at {path}."
        )
    return path


def _check_release_tables(root: Path) -> None:
    """A downloaded release must have the official sizes: all.csv = N_ALL rows, test.csv = N_TEST rows ⊂ all."""
    table = pd.read_csv(root / "all.csv", dtype=str, keep_default_na=False)
    test = pd.read_csv(root / "test.csv", dtype=str, keep_default_na=False)
    ids, test_ids = set(table["ID"].str.strip()), set(test["ID"].str.strip())
    if len(table) != N_ALL or len(test) != N_TEST or not test_ids <= ids:
        bad = root / "test.csv"
        bad.unlink()
        raise DataUnavailableError(
            f"OBELiX {OBELIX_RELEASE} tables in {root} do not have the official sizes (all.csv {len(table)} rows, "
            f"expected {N_ALL}; test.csv {len(test)} rows, expected {N_TEST}; {len(test_ids - ids)} test IDs not in "
            "all.csv); test.csv was deleted so the training split cannot be formed from them."
        )


def _cif_dir(root: Path) -> Path | None:
    for name in ("all_randomized_cifs", "all_cifs", "cifs"):
        if (root / name).is_dir():
            return root / name
    return None


def _train_only(root: Path, test: pd.DataFrame | None) -> bool:
    """The folder declares that all.csv holds only the training split (see the module's split rule)."""
    return (root / TRAIN_ONLY_MARKER).exists() or (test is not None and len(test) == 0 and "ID" in test.columns)


def _read_split(root: Path, split: str) -> pd.DataFrame:
    """OBELiX ships ``all.csv`` (every released entry) and ``test.csv`` (the test-split rows).

    train = all − test ids; test = all ∩ test ids (or the rows of test.csv); all = both. Without a
    test table ``train``/``test`` refuse unless the folder is train-only (module docstring).
    """
    path = root / "all.csv"
    if not path.exists():
        raise DataUnavailableError(f"OBELiX table not found at {path}")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    test_path = root / "test.csv"
    test = pd.read_csv(test_path, dtype=str, keep_default_na=False) if test_path.exists() else None
    if _train_only(root, test):
        if len(table) > N_TRAIN:
            raise DataUnavailableError(
                f"{root} is declared train-only ({TRAIN_ONLY_MARKER} marker or a header-only test.csv) but its all.csv "
                f"has {len(table)} rows, more than the {N_TRAIN} of the OBELiX training split: it must hold test rows. "
                f"Remove the declaration and add the release's test.csv ({OBELIX_URLS['test']})."
            )
        table["split"] = "train"
        if split == "test":
            warnings.warn(f"The OBELiX test split is empty in {root} (the test rows are not distributed there).", stacklevel=3)
        return table if split == "all" else table[table["split"] == split].reset_index(drop=True)
    if test is None:
        if split != "all":
            raise DataUnavailableError(
                f"No OBELiX test table at {test_path}: without it the {split!r} split cannot be separated from the other "
                f"(every row of all.csv would look like training data). Put the release's test.csv there "
                f"({OBELIX_URLS['test']}), or, if all.csv holds only the training split, declare the folder train-only "
                f"with an empty file {root / TRAIN_ONLY_MARKER}. split='all' loads without it."
            )
        table["split"] = "unknown"
        return table
    test_ids = set(test["ID"].str.strip())
    in_test = table["ID"].str.strip().isin(test_ids)
    table["split"] = ["test" if t else "train" for t in in_test]
    extra = test[~test["ID"].str.strip().isin(set(table["ID"].str.strip()))] if len(test.columns) > 1 else test.iloc[0:0]
    if len(extra):
        extra = extra.copy()
        extra["split"] = "test"
        table = pd.concat([table, extra], ignore_index=True)
    if split == "all":
        return table
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
        in some distributions) or ``"all"``. ``"train"`` and ``"test"`` need a test table or a
        train-only folder (module docstring); they never fall back to "every row".
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
