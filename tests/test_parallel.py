"""pmap reliability: validation rows, per-item time limit, crashes, corrupt cache entries, NaN results."""
from __future__ import annotations

import json
import os
import pickle
import signal

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sicnb.errors import ParameterError
from sicnb.parallel import ResultCache, item_keys, pmap
from sicnb.structure import mobile_sites


def site_summary(structure, mobile_ion="Li"):
    """A real per-structure function: symmetry-distinct mobile sites and density."""
    sites = mobile_sites(structure, mobile_ion=mobile_ion)
    return {"n_mobile_sites": len(sites), "multiplicity": sum(s.multiplicity for s in sites),
            "volume_per_atom": structure.volume / structure.composition.num_atoms}


def hang_on(structure, formula=""):
    """Never returns for ``formula`` (a pure-Python busy loop, as a stuck optimiser would)."""
    if structure.composition.reduced_formula == formula:
        while True:
            pass
    return {"n": len(structure)}


def die_on(structure, formula=""):
    """Kills its own process for ``formula`` (as a segfault or the OOM killer would)."""
    if structure.composition.reduced_formula == formula:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"n": len(structure)}


def nan_result(structure):
    return {"ok_value": 1.0, "bad": float("nan")}


def nan_allowed(structure):
    return {"bad": float("nan")}


nan_allowed.allow_nan = True


def not_json(structure):
    return {"obj": object()}


@pytest.fixture(scope="module")
def small_records():
    from sicnb.data import embedded

    recs = [r for r in embedded() if r.structure.is_ordered and len(r.structure) <= 12]
    return recs[:6]


def _overlapping(li2o) -> Structure:
    s = li2o.copy()
    s.append("Li", s[1].coords + np.array([0.1, 0, 0]), coords_are_cartesian=True)
    return s


def test_validation_gives_error_rows(tmp_path, small_records, li2o):
    na = li2o.copy()
    na.replace_species({"Li+": "Na+"})
    items = {r.id: r.structure for r in small_records[:2]}
    items.update({"overlap": _overlapping(li2o), "huge": li2o * (3, 3, 3), "sodium": na})
    df = pmap(site_summary, items, cache_dir=tmp_path / "c", progress=False, validate={"mobile_ion": "Li", "max_atoms": 50})
    assert df.loc["overlap", "error"].startswith("OverlappingAtomsError: overlap (Li3O): sites")
    assert df.loc["huge", "error"].startswith("TooManyAtomsError: huge (Li2O): 81 sites")
    assert df.loc["sodium", "error"].startswith("NoMobileIonError: sodium (Na2O): contains no Li")
    ok = df.loc[[r.id for r in small_records[:2]]]
    assert (ok["error"] == "").all() and (ok["n_mobile_sites"] >= 1).all()
    # the failure rows carry no descriptor values, so no NaN without a reason
    assert df.loc[df["error"] == "", "n_mobile_sites"].notna().all()
    # validate=False lets the function see the overlapping structure
    df2 = pmap(site_summary, {"overlap": _overlapping(li2o)}, cache_dir=tmp_path / "c", progress=False, validate=False)
    assert df2.loc["overlap", "error"] == ""


def test_rerun_is_identical_and_cached(tmp_path, small_records):
    a = pmap(site_summary, small_records, cache_dir=tmp_path / "c", progress=False)
    b = pmap(site_summary, small_records, cache_dir=tmp_path / "c", progress=False)
    assert a.attrs["n_computed"] == len(small_records) and b.attrs["n_computed"] == 0
    assert b.attrs["n_cached"] == len(small_records)
    assert a.equals(b)
    keys = item_keys(site_summary, small_records)
    assert set(keys.values()) == set(ResultCache(tmp_path / "c").keys())


def test_hung_item_becomes_timeout_row(tmp_path, small_records):
    target = small_records[2].structure.composition.reduced_formula
    params = {"formula": target}
    df = pmap(hang_on, small_records, params, cache_dir=tmp_path / "c", progress=False, timeout=5)
    hung = [r.id for r in small_records if r.structure.composition.reduced_formula == target]
    for rid in df.index:
        if rid in hung:
            assert df.loc[rid, "error"].startswith(f"ItemTimeoutError: {rid} ran longer than the 5 s per-item time limit")
        else:
            assert df.loc[rid, "error"] == "" and df.loc[rid, "n"] > 0
    assert df.attrs["n_timeout"] == len(hung)
    # the sandbox gives exactly the in-process values for the other items
    here = pmap(hang_on, [r for r in small_records if r.id not in hung], params, cache_dir=False, progress=False)
    assert list(here.index) == [i for i in df.index if i not in hung]
    assert (here["n"] == df.loc[here.index, "n"]).all()
    # the same limit reuses the cached timeout; a longer limit retries it
    again = pmap(hang_on, small_records, params, cache_dir=tmp_path / "c", progress=False, timeout=5)
    assert again.attrs["n_computed"] == 0
    assert again.equals(df)
    longer = pmap(hang_on, small_records, params, cache_dir=tmp_path / "c", progress=False, timeout=6)
    assert longer.attrs["n_computed"] == len(hung)


def test_crashing_item_is_a_row_not_cached(tmp_path, small_records):
    target = small_records[1].structure.composition.reduced_formula
    df = pmap(die_on, small_records, {"formula": target}, cache_dir=tmp_path / "c", progress=False, timeout=60)
    dead = [r.id for r in small_records if r.structure.composition.reduced_formula == target]
    for rid in df.index:
        if rid in dead:
            assert df.loc[rid, "error"].startswith(f"WorkerLostError: the process computing {rid} died")
        else:
            assert df.loc[rid, "error"] == ""
    assert df.attrs["n_lost"] == len(dead)
    again = pmap(die_on, small_records, {"formula": "none"}, cache_dir=tmp_path / "c", progress=False)
    assert (again["error"] == "").all()


def test_corrupt_and_foreign_cache_entries_are_recomputed(tmp_path, small_records):
    cache_dir = tmp_path / "c"
    ref = pmap(site_summary, small_records, cache_dir=cache_dir, progress=False)
    keys = list(item_keys(site_summary, small_records).values())
    cache = ResultCache(cache_dir)
    p0, p1, p2, p3 = (cache._path(k) for k in keys[:4])
    p0.write_bytes(p0.read_bytes()[: len(p0.read_bytes()) // 2])  # torn write
    d = json.loads(p1.read_text())
    d["entry"]["result"]["n_mobile_sites"] = 99  # tampered: checksum no longer matches
    p1.write_text(json.dumps(d))
    p2.write_bytes(pickle.dumps({"ok": True}))  # a pickle is never loaded
    p3.write_bytes(b"\xff\xfe\x00garbage")
    (p0.parent / ".tmp-left-by-a-killed-writer.json").write_text("{")
    df = pmap(site_summary, small_records, cache_dir=cache_dir, progress=False)
    assert df.attrs["n_computed"] == 4 and df.attrs["n_cached"] == len(small_records) - 4
    assert df.equals(ref)
    assert all(cache.get(k) is not None for k in keys)


def test_nan_and_non_json_results_are_error_rows(tmp_path, li2o):
    cache = tmp_path / "nan"
    df = pmap(nan_result, {"a": li2o}, cache_dir=cache, progress=False, nan_policy="error")
    assert df.loc["a", "error"].startswith("NonFiniteResultError:") and "bad" in df.loc["a", "error"]
    assert "ok_value" not in df.loc["a", "error"] and df.loc["a", "ok_value"] == 1.0
    with pytest.warns(UserWarning, match="1 rows have NaN/inf in bad with no error"):
        df = pmap(nan_result, {"a": li2o}, cache_dir=cache, progress=False)  # same cache entry, other policy
    assert df.loc["a", "error"] == "" and df.attrs["nan_rows"] == {"a": ["bad"]} and df.attrs["n_cached"] == 1
    df = pmap(nan_allowed, {"a": li2o}, cache_dir=False, progress=False, nan_policy="error")
    assert df.loc["a", "error"] == ""
    df = pmap(not_json, {"a": li2o}, cache_dir=tmp_path / "c", progress=False)
    assert df.loc["a", "error"].startswith("TypeError:") and "not JSON-serialisable" in df.loc["a", "error"]


def test_parameter_errors(li2o):
    with pytest.raises(ParameterError, match="timeout=-1"):
        pmap(site_summary, [li2o], timeout=-1, progress=False)
    with pytest.raises(ParameterError, match="unknown validation option"):
        pmap(site_summary, [li2o], validate={"max_atom": 3}, progress=False)
    with pytest.raises(ParameterError, match="does not accept parameters"):
        pmap(site_summary, [li2o], {"radius": 3}, progress=False)


def test_records_without_structure_and_bad_structures_do_not_stop_the_run(tmp_path, li2o):
    from sicnb.data import Record

    empty = Structure(Lattice.cubic(3), [], [])
    recs = [Record("none", None), Record("empty", empty), Record("good", li2o)]
    df = pmap(site_summary, recs, cache_dir=tmp_path / "c", progress=False)
    assert df.loc["none", "error"].startswith("InputError: record none has no structure")
    assert df.loc["empty", "error"].startswith("EmptyStructureError: empty")
    assert df.loc["good", "error"] == ""


def test_corrupted_huge_coordinate_does_not_share_a_cache_entry(tmp_path, li2o):
    """1e30 % 1 == 0: a corrupted coordinate must not hash like the valid structure (found by the fuzz test)."""
    bad = li2o.as_dict()
    bad["sites"][0]["abc"] = [1e30, 0.0, 0.0]
    from pymatgen.core import Structure as S

    items = {"bad": S.from_dict(bad), "good": li2o}
    keys = item_keys(site_summary, items)
    assert keys["bad"] != keys["good"]
    df = pmap(site_summary, items, cache_dir=tmp_path / "c", progress=False)
    assert df.loc["bad", "error"].startswith("NonFiniteValueError: bad (Li2O): site 0")
    assert df.loc["good", "error"] == ""


def exits_or_runs_out_of_memory(structure, what="exit"):
    if what == "exit":
        raise SystemExit(3)
    raise MemoryError("simulated: cannot allocate 80 GiB")


def test_sys_exit_and_memory_error_are_rows(tmp_path, li2o):
    df = pmap(exits_or_runs_out_of_memory, {"a": li2o}, {"what": "exit"}, cache_dir=tmp_path / "c", progress=False)
    assert df.loc["a", "error"] == "SystemExit: 3"
    df = pmap(exits_or_runs_out_of_memory, {"a": li2o}, {"what": "oom"}, cache_dir=tmp_path / "c", progress=False)
    assert df.loc["a", "error"].startswith("MemoryError: simulated")
    again = pmap(exits_or_runs_out_of_memory, {"a": li2o}, {"what": "oom"}, cache_dir=tmp_path / "c", progress=False)
    assert again.attrs["n_computed"] == 1  # not cached: retried


def worker_environment(structure):
    """What a pmap worker (or sandbox) process sees of the allocator and thread settings."""
    return {"malloc_trim_threshold": os.environ.get("MALLOC_TRIM_THRESHOLD_", "unset"),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset")}


@pytest.mark.parametrize("timeout", [None, 60.0])
def test_workers_do_not_inherit_dasks_malloc_trim_threshold(small_records, timeout, monkeypatch):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 for its workers, which turns off glibc's dynamic mmap
    threshold and made the M3GNet PES scan 2.2x slower in a worker than in a plain process; a `dask worker`
    started by hand has it in its environment, so the sandbox must drop it too. Thread limits stay."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    tab = pmap(worker_environment, small_records[:2], cache_dir=False, n_workers=2, timeout=timeout, progress=False)
    assert tab["error"].eq("").all(), tab["error"].tolist()
    assert tab["malloc_trim_threshold"].eq("unset").all()
    assert tab["omp_num_threads"].eq("1").all()


def test_sandbox_drops_malloc_trim_threshold_from_its_parent(small_records, monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # as in a `dask worker` process
    tab = pmap(worker_environment, small_records[:1], cache_dir=False, n_workers=1, timeout=60.0, progress=False)
    assert tab["error"].eq("").all(), tab["error"].tolist()
    assert tab["malloc_trim_threshold"].eq("unset").all()
