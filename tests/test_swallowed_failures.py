"""Failures that used to vanish now leave a trace in the result or a warning (issue 18)."""
from __future__ import annotations

import warnings

import pandas as pd
import pytest
from pymatgen.analysis.phase_diagram import PDEntry
from pymatgen.core import Composition, Lattice, Structure

from sicnb.errors import DataUnavailableError


class _NoSymmetry:
    """Stands in for spglib failing on a structure (the failure path cannot be reached with a valid crystal)."""

    def __init__(self, *args, **kwargs):
        raise ValueError("spglib found no cell")


def test_unparsable_candidate_is_not_counted_as_novel():
    from sicnb.classify.screening import top_candidates, training_like

    with pytest.warns(UserWarning, match="1 of 2 training compositions could not be parsed"):
        flags = training_like(["Li6PS5Cl", "Li3PS4)", "Li3InCl6", ""], ["Li6PS5Cl", "not a formula ("], tol=0.05)
    assert bool(flags[0]) is True
    assert pd.isna(flags[1]) and bool(flags[2]) is False and pd.isna(flags[3])
    scr = pd.DataFrame({"formula": ["Li3PS4)", "Li3InCl6"], "p_si": [0.9, 0.8], "p_si_std": [0.1, 0.1], "band_gap_ev": [3.0, 3.0],
                        "passes_eg": [True, True], "d_training": [1.0, 1.0], "is_disordered": [False, False],
                        "training_like": pd.array([pd.NA, False], dtype="boolean")}, index=["bad", "good"])
    assert list(top_candidates(scr).index) == ["good"]


def test_materials_project_failure_is_recorded_in_the_fallback_hull(monkeypatch):
    from sicnb.htvs.stability import ReferenceHull

    def refuse(cls, elements, api_key=None):
        raise DataUnavailableError("MP API: 401 invalid key")

    def offline(cls, elements, potential_name="chgnet", **kwargs):
        entries = [PDEntry(Composition("Li"), -1.9, name="Li"), PDEntry(Composition("O2"), -9.8, name="O2"),
                   PDEntry(Composition("Li2O"), -14.3, name="Li2O")]
        return cls(entries, "offline hull (2 elements)")

    monkeypatch.setenv("MP_API_KEY", "set-but-rejected")
    monkeypatch.setattr(ReferenceHull, "materials_project", classmethod(refuse))
    monkeypatch.setattr(ReferenceHull, "embedded", classmethod(offline))
    with pytest.warns(UserWarning, match="401 invalid key"):
        hull = ReferenceHull.auto(["Li", "O"])
    assert hull.source.startswith("offline hull") and "fallback" in hull.source and "401 invalid key" in hull.source
    assert hull.phase_diagram(["Li", "O"]).get_e_above_hull(hull.entries[2]) == pytest.approx(0.0)


def test_pes_symmetry_failure_is_reported(monkeypatch):
    import sicnb.pes.grid as grid

    s = Structure(Lattice.cubic(4.0), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    ops, reason = grid.space_group_ops_checked(s)
    assert reason == "" and len(ops) == 48  # Pm-3m
    monkeypatch.setattr(grid, "SpacegroupAnalyzer", _NoSymmetry)
    ops, reason = grid.space_group_ops_checked(s)
    assert len(ops) == 1 and "spglib found no cell" in reason
    with pytest.warns(UserWarning, match="identity only"):
        assert len(grid.space_group_ops(s)) == 1


def test_mobile_sites_symmetry_failure_is_flagged_on_every_site(monkeypatch, li2o):
    import sicnb.structure.sublattices as sub

    ok = sub.mobile_sites(li2o)
    assert len(ok) == 1 and ok[0].multiplicity == 2 and ok[0].symmetry_fallback == ""
    monkeypatch.setattr(sub, "SpacegroupAnalyzer", _NoSymmetry)
    with pytest.warns(UserWarning, match="every site its own class"):
        sites = sub.mobile_sites(li2o)
    assert len(sites) == 2 and all(s.multiplicity == 1 and "spglib found no cell" in s.symmetry_fallback for s in sites)


def test_pes_scan_result_carries_the_symmetry_fallback(monkeypatch):
    import sicnb.pes.grid as grid
    import sicnb.structure.sublattices as sub
    from sicnb.pes.scan import pes_scan
    from test_pes import _AnalyticPotential

    s = Structure(Lattice.cubic(5.0), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    fine = pes_scan(s, _AnalyticPotential(), symmetrize=False, step=0.5)
    assert fine.descriptors["symmetry_fallback"] == ""
    monkeypatch.setattr(grid, "SpacegroupAnalyzer", _NoSymmetry)
    monkeypatch.setattr(sub, "SpacegroupAnalyzer", _NoSymmetry)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pes_scan(s, _AnalyticPotential(), symmetrize=False, step=0.5)
    assert "spglib found no cell" in res.descriptors["symmetry_fallback"]
    assert res.descriptors["n_mobile_sites_scanned"] == 1


def test_unreadable_bundled_file_is_listed_in_failures(monkeypatch, tmp_path):
    import importlib

    emb = importlib.import_module("sicnb.data.embedded")
    real = emb.pymatgen_structures_folder()
    (tmp_path / "Li2O.json").write_text((real / "Li2O.json").read_text())
    (tmp_path / "broken.json").write_text('{"not": "a structure"}')
    monkeypatch.setattr(emb, "pymatgen_structures_folder", lambda: tmp_path)
    emb._pymatgen_records.cache_clear()
    try:
        with pytest.warns(UserWarning, match="1 bundled pymatgen structure file"):
            ds = emb.embedded(include=("pymatgen",))
        assert ds.ids == ["pymatgen:Li2O"]
        assert list(ds.failures["id"]) == ["pymatgen:broken"] and "broken.json" in ds.failures["error"].iloc[0]
    finally:
        emb._pymatgen_records.cache_clear()  # the next caller reads the real folder again
