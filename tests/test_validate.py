"""Input and parameter validation: each problem gives its own SicnbError subclass naming the input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from pymatgen.core import DummySpecies, Lattice, Structure
from pymatgen.io.cif import CifWriter

from sicnb import errors as E
from sicnb.validate import (
    StructureChecks,
    check_choice,
    check_element,
    check_fraction,
    check_model_path,
    check_number,
    check_positive,
    check_structure_file,
    read_validated,
    validate_structure,
    validated,
)


def test_real_structures_pass(li2o, lifepo4, lgps):
    for s in (li2o, lifepo4, lgps):
        assert validate_structure(s, mobile_ion="Li") is s


def test_empty_structure():
    with pytest.raises(E.EmptyStructureError, match="myfile: the structure has no atomic sites"):
        validate_structure(Structure(Lattice.cubic(4), [], []), name="myfile")


def test_no_mobile_ion(li2o):
    s = li2o.copy()
    s.replace_species({"Li+": "Na+"})
    with pytest.raises(E.NoMobileIonError, match="no Li"):
        validate_structure(s, mobile_ion="Li")
    validate_structure(s, mobile_ion="Na")
    validate_structure(s)  # not required by default


def test_overlapping_atoms(li2o):
    s = li2o.copy()
    s.append("Li", s[1].coords + np.array([0.2, 0.0, 0.0]), coords_are_cartesian=True)
    with pytest.raises(E.OverlappingAtomsError, match=r"are 0\.200 Å apart"):
        validate_structure(s, name="dup.cif")
    validate_structure(s, min_distance=0.1)


def test_split_partial_sites_are_not_overlaps():
    # two half-occupied Li positions 0.4 Å apart (a split site as in experimental CIFs)
    s = Structure(Lattice.cubic(5.0), [{"Li": 0.5}, {"Li": 0.5}, "Cl"], [[0, 0, 0], [0.08, 0, 0], [0.5, 0.5, 0.5]])
    validate_structure(s)
    s2 = Structure(Lattice.cubic(5.0), ["Li", {"Li": 0.5}, "Cl"], [[0, 0, 0], [0.08, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(E.OverlappingAtomsError):
        validate_structure(s2)


def test_self_image_overlap():
    s = Structure(Lattice.from_parameters(0.3, 30, 30, 90, 90, 90), ["Li"], [[0, 0, 0]])
    with pytest.raises(E.OverlappingAtomsError, match="periodic image"):
        validate_structure(s, min_volume_per_atom=0.1)


def test_absurd_cells(li2o):
    big = li2o.copy()
    big.scale_lattice(li2o.volume * 1e6)
    with pytest.raises(E.AbsurdCellError, match="Å³ per atom is outside"):
        validate_structure(big)
    small = li2o.copy()
    small.scale_lattice(li2o.volume / 20)
    with pytest.raises(E.AbsurdCellError):
        validate_structure(small, min_distance=0)
    sc = li2o * (3, 3, 3)
    with pytest.raises(E.TooManyAtomsError, match="81 sites in the cell, more than max_atoms=50"):
        validate_structure(sc, max_atoms=50)
    validate_structure(sc, max_atoms=81)


def test_nan_coordinates_and_lattice(li2o):
    d = li2o.as_dict()
    d["sites"][1]["abc"] = [float("nan"), 0.1, 0.2]
    s = Structure.from_dict(d)
    with pytest.raises(E.NonFiniteValueError, match="site 1 .* NaN"):
        validate_structure(s)
    s = Structure(Lattice(np.array([[4, 0, 0], [0, math.inf, 0], [0, 0, 4]])), ["Li"], [[0, 0, 0]])
    with pytest.raises(E.NonFiniteValueError, match="lattice"):
        validate_structure(s)


def test_unknown_element(li2o):
    s = li2o.copy()
    s.replace(0, DummySpecies("X"))
    with pytest.raises(E.UnknownElementError, match="not a chemical element"):
        validate_structure(s)
    assert issubclass(E.UnknownElementError, E.InputError) and issubclass(E.UnknownElementError, E.StructureError)


def test_over_occupied_site(tmp_path, li2o):
    from pymatgen.core import Composition

    s = Structure(Lattice.cubic(4.0), [{"Li": 0.5, "Na": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    s[0]._species = Composition({"Li": 0.7, "Na": 0.6})  # as code that bypasses pymatgen's own check would
    with pytest.raises(E.OverOccupiedSiteError, match="sum to 1.3 > 1"):
        validate_structure(s)
    good = tmp_path / "Li2O.cif"
    CifWriter(li2o).write_file(good)
    lines = good.read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.strip().startswith("Li") and line.strip().endswith(" 1"))
    lines[i] = lines[i][:-1] + "1.3"
    bad = tmp_path / "over.cif"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(E.OverOccupiedSiteError, match=r"over.cif: site occupancies sum to more than 1 \(1.3\)"):
        read_validated(bad)


def test_oxidation_states_opt_in():
    s = Structure(Lattice.cubic(4.0), ["Li", "Na"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # two cations, no anion
    validate_structure(s)
    with pytest.raises(E.OxidationStateError, match="no charge-balanced oxidation states"):
        validate_structure(s, oxidation_states=True)


def test_read_validated_names_the_file(tmp_path, li2o):
    good = tmp_path / "Li2O.cif"
    CifWriter(li2o).write_file(good)
    assert len(read_validated(good, mobile_ion="Li")) == 3
    garbled = tmp_path / "garbled.cif"
    garbled.write_bytes(good.read_bytes()[:200])
    with pytest.raises(E.UnreadableFileError, match="garbled.cif"):
        read_validated(garbled)
    empty = tmp_path / "POSCAR_empty"
    empty.write_text("")
    with pytest.raises(E.InputError, match="POSCAR_empty"):
        read_validated(empty)
    na = tmp_path / "Na2O.vasp"
    s = li2o.copy()
    s.replace_species({"Li+": "Na+"})
    s.to(filename=str(na), fmt="poscar")
    with pytest.raises(E.NoMobileIonError, match="Na2O.vasp"):
        read_validated(na, mobile_ion="Li")
    row = check_structure_file(na, mobile_ion="Li")
    assert row["error_class"] == "NoMobileIonError" and "Na2O.vasp" in row["error"]
    assert check_structure_file(good)["error"] == ""


def test_validated_decorator(li2o):
    calls = []

    @validated(max_atoms=10)
    def n_mobile(structure, mobile_ion="Li"):
        calls.append(1)
        return {"n": structure.composition[mobile_ion]}

    assert n_mobile(li2o) == {"n": 2}
    with pytest.raises(E.NoMobileIonError):
        n_mobile(li2o, mobile_ion="Na")
    with pytest.raises(E.TooManyAtomsError):
        n_mobile(li2o * (2, 2, 2))
    assert len(calls) == 1
    assert n_mobile.__name__ == "n_mobile" and n_mobile.validation.max_atoms == 10


def test_checks_spec():
    assert StructureChecks.from_spec(False) is None
    assert StructureChecks.from_spec({"max_atoms": 7}).max_atoms == 7
    with pytest.raises(E.ParameterError, match="unknown validation option"):
        StructureChecks.from_spec({"max_atom": 7})
    with pytest.raises(E.ParameterError, match="min_distance=-1"):
        StructureChecks(min_distance=-1)
    with pytest.raises(E.ParameterError, match="mobile_ion='Lx'"):
        StructureChecks(mobile_ion="Lx")


def test_parameter_helpers(tmp_path):
    assert check_positive("radius", 1.5) == 1.5
    with pytest.raises(E.ParameterError, match=r"radius=-0.5 Å is out of range; allowed: \(0, inf\] Å"):
        check_positive("radius", -0.5, unit="Å")
    with pytest.raises(E.ParameterError, match="must be a finite number"):
        check_positive("radius", float("nan"))
    with pytest.raises(E.ParameterError, match="expected a number"):
        check_number("radius", "3")
    with pytest.raises(E.ParameterError, match=r"allowed: \[0, 1\]"):
        check_fraction("threshold", 1.2)
    with pytest.raises(E.ParameterError, match="whole number"):
        check_number("n", 2.5, integer=True)
    with pytest.raises(E.ParameterError, match="Did you mean 'm3gnet'"):
        check_choice("potential", "m3gent", ["m3gnet", "chgnet", "sevennet"])
    assert check_choice("potential", "chgnet", ["m3gnet", "chgnet"]) == "chgnet"
    with pytest.raises(E.ParameterError, match="not an element symbol"):
        check_element("mobile_ion", "Q")
    missing = tmp_path / "models" / "M3GNet-MP-2021.2.8-PES"
    with pytest.raises(E.ModelUnavailableError, match="M3GNet-MP-2021.2.8-PES.*SICNB_MATGL_MODELS"):
        check_model_path(missing, "M3GNet model", "Set SICNB_MATGL_MODELS to a folder holding the matgl model folders.")
    assert isinstance(E.ParameterError("x"), ValueError)
