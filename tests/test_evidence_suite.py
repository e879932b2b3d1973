"""The invariance suite itself must be able to fail (issue 18): NaN is not agreement, an all-NaN
descriptor fails, a requested key that is missing fails, and a workers table of only errors fails."""
from __future__ import annotations

import math

import pytest

from sicnb.testing import assert_descriptor_invariant, assert_same_for_workers, assert_same_result


def nan_descriptor(structure, **params):
    return {"volume_per_atom": float("nan"), "n_sites": float("nan")}


def volume_descriptor(structure, **params):
    return {"volume_per_atom": structure.volume / len(structure), "barrier_3D_eV": float("nan")}


def frame_dependent_descriptor(structure, **params):
    return {"x0": float(structure.cart_coords[0, 0])}


def failing_descriptor(structure, **params):
    raise ValueError("always fails")


def test_nan_is_not_agreement():
    with pytest.raises(AssertionError, match="NaN"):
        assert_same_result({"a": float("nan")}, {"a": float("nan")})
    with pytest.raises(AssertionError, match="NaN"):
        assert_same_result({"a": [1.0, math.nan]}, {"a": [1.0, math.nan]})
    assert_same_result({"a": float("nan")}, {"a": float("nan")}, nan_allowed=["a"])
    with pytest.raises(AssertionError, match="one result only"):
        assert_same_result({"a": float("nan")}, {"a": 1.0}, nan_allowed=["a"])
    with pytest.raises(AssertionError, match="differs"):
        assert_same_result({"a": 1.0}, {"a": 1.1})


def test_all_nan_descriptor_fails_the_suite(li2o):
    with pytest.raises(AssertionError, match="NaN"):
        assert_descriptor_invariant(nan_descriptor, li2o)


def test_documented_nan_key_passes_only_when_allow_listed(li2o):
    with pytest.raises(AssertionError, match="barrier_3D_eV"):
        assert_descriptor_invariant(volume_descriptor, li2o)
    ref = assert_descriptor_invariant(volume_descriptor, li2o, nan_allowed=["barrier_3D_eV"])
    assert ref["volume_per_atom"] == pytest.approx(li2o.volume / len(li2o))


def test_frame_dependent_descriptor_fails(li2o):
    with pytest.raises(AssertionError, match="differs"):
        assert_descriptor_invariant(frame_dependent_descriptor, li2o)


def test_missing_requested_key_fails(li2o):
    with pytest.raises(AssertionError, match="lacks the requested keys"):
        assert_descriptor_invariant(volume_descriptor, li2o, keys=["volume_per_atom", "no_such_key"])


def test_workers_suite_rejects_all_error_table(li2o):
    with pytest.raises(AssertionError, match="every item failed"):
        assert_same_for_workers(failing_descriptor, [li2o], n_workers=1)
