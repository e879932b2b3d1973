"""The OBELiX test split never leaks into training data or into the ledger's yardstick (issue 18).

The tables are real OBELiX rows (read at run time from the shared folder) laid out like the upstream
release: ``all.csv`` with every entry and ``test.csv`` with the held-out rows.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import importlib
from conftest import SHARED_DATA, needs_shared
from sicnb.data import Dataset, Record, obelix
from sicnb.errors import DataUnavailableError
from sicnb.ledger import known_conductor_labels, obelix_reference

obelix_module = importlib.import_module("sicnb.data.obelix")  # the package re-exports a function of the same name

pytestmark = needs_shared

TEST_ROWS = (2, 5, 7)  # positions (in the first ten rows of the shared table) that play the test split


def _shared_table() -> pd.DataFrame:
    return pd.read_csv(SHARED_DATA / "obelix" / "all.csv", dtype=str, keep_default_na=False)


@pytest.fixture
def release_like(tmp_path) -> Path:
    """tmp_path/obelix with a 10-row all.csv and a 3-row test.csv (no CIFs)."""
    table = _shared_table().head(10)
    root = tmp_path / "obelix"
    root.mkdir()
    table.to_csv(root / "all.csv", index=False)
    table.iloc[list(TEST_ROWS)].to_csv(root / "test.csv", index=False)
    return tmp_path


def _test_ids() -> set[str]:
    return {f"obelix:{i}" for i in _shared_table().head(10).iloc[list(TEST_ROWS)]["ID"].str.strip()}


def test_train_and_test_are_disjoint_with_a_test_table(release_like):
    train, test, every = (obelix(s, data_dir=release_like) for s in ("train", "test", "all"))
    assert len(train) == 7 and len(test) == 3 and len(every) == 10
    assert set(test.ids) == _test_ids()
    assert not set(train.ids) & _test_ids()
    assert every.labels()["split"].value_counts().to_dict() == {"train": 7, "test": 3}


def test_train_refuses_without_a_test_table(release_like):
    (release_like / "obelix" / "test.csv").unlink()
    for split in ("train", "test"):
        with pytest.raises(DataUnavailableError, match="No OBELiX test table"):
            obelix(split, data_dir=release_like)
    every = obelix("all", data_dir=release_like)
    assert len(every) == 10 and set(every.labels()["split"]) == {"unknown"}


@pytest.mark.parametrize("declaration", ["marker", "header_only_test_csv"])
def test_declared_train_only_folder_loads_every_row_as_train(release_like, declaration):
    root = release_like / "obelix"
    if declaration == "marker":
        (root / "test.csv").unlink()
        (root / obelix_module.TRAIN_ONLY_MARKER).touch()
    else:
        _shared_table().head(0).to_csv(root / "test.csv", index=False)
    assert len(obelix("train", data_dir=release_like)) == 10
    with pytest.warns(UserWarning, match="test split is empty"):
        assert len(obelix("test", data_dir=release_like)) == 0


def test_train_only_declaration_is_refused_when_all_csv_is_too_big(tmp_path):
    table = _shared_table()
    extra = table.head(1).assign(ID="zzz_extra")
    root = tmp_path / "obelix"
    root.mkdir()
    pd.concat([table, extra]).to_csv(root / "all.csv", index=False)
    (root / obelix_module.TRAIN_ONLY_MARKER).touch()
    with pytest.raises(DataUnavailableError, match="more than the 478"):
        obelix("train", data_dir=tmp_path)


def test_shared_folder_is_train_only_by_its_header_only_test_csv():
    root = SHARED_DATA / "obelix"
    assert obelix_module._train_only(root, pd.read_csv(root / "test.csv", dtype=str))
    assert len(obelix_module._read_split(root, "train")) == obelix_module.N_TRAIN  # the table only: no CIF parsing


def test_failed_test_download_does_not_turn_test_rows_into_train(tmp_path, monkeypatch, release_like):
    """The download path: all.csv arrives, test.csv and the CIFs do not → train refuses."""
    source = release_like / "obelix"

    def fake_download(url, dest, timeout=60.0):
        assert obelix_module.OBELIX_RELEASE in url and "/main/" not in url
        if url.endswith("all.csv"):
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / "all.csv", dest)
            return dest
        raise DataUnavailableError(f"offline: {url}")

    monkeypatch.delenv("SICNB_DATA_DIR", raising=False)
    monkeypatch.setattr(obelix_module, "download", fake_download)
    with pytest.warns(UserWarning, match="test table unavailable"):
        with pytest.raises(DataUnavailableError, match="No OBELiX test table"):
            obelix("train")


def test_release_tables_with_wrong_sizes_lose_their_test_csv(release_like):
    root = release_like / "obelix"
    with pytest.raises(DataUnavailableError, match="official sizes"):
        obelix_module._check_release_tables(root)
    assert not (root / "test.csv").exists()


def test_checksum_mismatch_deletes_the_download(tmp_path, monkeypatch):
    f = tmp_path / "all.csv"
    f.write_text("ID\nabc\n")
    monkeypatch.setitem(obelix_module.OBELIX_SHA256, "all.csv", "0" * 64)
    with pytest.raises(DataUnavailableError, match="SHA-256"):
        obelix_module._verify_sha256(f, "all.csv")
    assert not f.exists()


def test_urls_are_pinned_to_a_release():
    for url in obelix_module.OBELIX_URLS.values():
        assert f"/{obelix_module.OBELIX_RELEASE}/" in url and "/main/" not in url


def test_ledger_reference_reads_the_training_split_and_says_so(release_like):
    test_rows = _shared_table().head(10).iloc[list(TEST_ROWS)]
    ref = obelix_reference(data_dir=release_like)
    assert ref is not None and len(ref) == 7 and set(ref["split"]) == {"train"}
    assert not set(ref["ref_id"]) & _test_ids()
    # a pool entry whose composition is reported only in the test split gets no OBELiX label by default
    comp = test_rows.iloc[0]["True Composition"]
    train_comps = set(_shared_table().head(10).drop(test_rows.index)["True Composition"])
    assert comp not in train_comps
    pool = Dataset([Record("probe", None, labels={"formula": comp})])
    by_default = known_conductor_labels(pool, reference=ref, use_known_table=False)
    assert by_default.loc["probe", "label_source"] == ""
    everything = obelix_reference(data_dir=release_like, split="all")
    scored = known_conductor_labels(pool, reference=everything, use_known_table=False)
    assert scored.loc["probe", "label_source"] == "obelix-composition"
    assert scored.loc["probe", "label_split"] == "test"
