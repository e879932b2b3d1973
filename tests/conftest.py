"""Shared fixtures: small real structures, the shared data folder, and the descriptor invariance suite.

Every descriptor test should call ``descriptor_suite(func, structure, params)`` (rotation, translation,
permutation and cell-choice invariance; input not modified) and ``workers_suite(func, structures, params)``
(same result for 1 and N workers).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from pymatgen.core import Structure

from sicnb.testing import assert_descriptor_invariant, assert_same_for_workers

REPO = Path(__file__).resolve().parents[1]


def _shared() -> Path | None:
    env = os.environ.get("SICNB_DATA_DIR")
    if env and Path(env).exists():
        return Path(env)
    cand = REPO.parent / "shared" / "data"
    return cand if cand.exists() else None


SHARED_DATA = _shared()
MATGL_MODELS = Path(os.environ["SICNB_MATGL_MODELS"]) if os.environ.get("SICNB_MATGL_MODELS") else (
    REPO.parent / "shared" / "models" / "matgl" if (REPO.parent / "shared" / "models" / "matgl").exists() else None
)
if SHARED_DATA is not None:
    os.environ.setdefault("SICNB_DATA_DIR", str(SHARED_DATA))
if MATGL_MODELS is not None:
    os.environ.setdefault("SICNB_MATGL_MODELS", str(MATGL_MODELS))

needs_shared = pytest.mark.skipif(SHARED_DATA is None, reason="needs the shared data folder (set SICNB_DATA_DIR)")
needs_matgl = pytest.mark.skipif(MATGL_MODELS is None, reason="needs local matgl models (set SICNB_MATGL_MODELS)")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own result cache so tests never see each other's entries."""
    monkeypatch.setenv("SICNB_CACHE_DIR", str(tmp_path / "sicnb-cache"))


def pymatgen_structure(name: str) -> Structure:
    import pymatgen.util

    return Structure.from_file(Path(pymatgen.util.__file__).parent / "structures" / f"{name}.json")


@pytest.fixture(scope="session")
def lgps() -> Structure:
    """Li10GeP2S12 as bundled with pymatgen (58 sites, partial occupancies)."""
    return pymatgen_structure("Li10GeP2S12")


@pytest.fixture(scope="session")
def li2o() -> Structure:
    return pymatgen_structure("Li2O")


@pytest.fixture(scope="session")
def lifepo4() -> Structure:
    return pymatgen_structure("LiFePO4")


@pytest.fixture(scope="session")
def embedded_small() -> list:
    """Ten small ordered Li structures from the embedded pool (≤ 16 sites), as records."""
    from sicnb.data import embedded

    recs = [r for r in embedded() if r.structure.is_ordered and len(r.structure) <= 16]
    return recs[:10]


@pytest.fixture
def descriptor_suite():
    return assert_descriptor_invariant


@pytest.fixture
def workers_suite():
    return assert_same_for_workers
