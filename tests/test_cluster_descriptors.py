"""Table 2.1 descriptors: invariance suite, workers suite, transformers, failure rows."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sicnb.cluster import NOT_IMPLEMENTED, SOAPDescriptor, StructureDescriptor, descriptor_row
from sicnb.errors import ParameterError

CHEAP = [
    ("soap", "CAN", {"r_cut": 3.0, "n_max": 2, "l_max": 2}),
    ("soap", "none", {"r_cut": 3.0, "n_max": 2, "l_max": 2, "average": "inner"}),
    ("mxrd", "A-40", {"pattern_length": 101}),
    ("density", "CAMN", {}),
    ("rdf", "AM-40", {"cutoff": 6.0, "bin_size": 0.2}),
    ("sine_coulomb", "none", {}),
    ("ewald", "none", {}),
    ("valence_orbital", "CAN", {}),
    ("structural_complexity", "CAN", {}),
]


@pytest.mark.parametrize("descriptor,simplification,options", CHEAP, ids=[f"{d}-{s}" for d, s, _ in CHEAP])
def test_descriptor_invariance(descriptor_suite, lifepo4, descriptor, simplification, options):
    params = {"descriptor": descriptor, "simplification": simplification, **options}
    # rtol 1e-4: matminer's sine Coulomb matrix loses ~1e-5 relative precision under rotation
    ref = descriptor_suite(descriptor_row, lifepo4, params, rtol=1e-4, atol=1e-7)
    assert ref and all(np.isfinite(v) for v in ref.values())


def test_soap_columns_are_named_by_species_pair(li2o):
    row = descriptor_row(li2o, "soap", "CAMN", r_cut=3.0, n_max=2, l_max=1)
    assert {k.rsplit("_", 1)[0] for k in row} == {"soap_Li-Li", "soap_Li-S", "soap_S-S"}


def test_sine_coulomb_same_for_supercell_eigen_prefix(descriptor_suite, li2o):
    # Niggli-reduced primitive cell: the supercell gives the same eigenvalues
    descriptor_suite(descriptor_row, li2o, {"descriptor": "sine_coulomb", "simplification": "none"}, supercell=True, rtol=1e-6)


@pytest.mark.slow  # starts a local Dask cluster: ~30 s of wall time on a busy 2-core box
def test_descriptor_workers(workers_suite, embedded_small):
    structures = [r.structure for r in embedded_small[:4]]
    workers_suite(descriptor_row, structures, {"descriptor": "soap", "simplification": "CAN", "r_cut": 3.0, "n_max": 2, "l_max": 2})


def test_unknown_and_unimplemented_descriptors_and_charge_rules(li2o):
    with pytest.raises(ParameterError, match="not implemented"):
        descriptor_row(li2o, "cavd")
    assert set(NOT_IMPLEMENTED) == {"cavd", "jarvis"}
    with pytest.raises(ParameterError, match="'none' simplification only"):
        descriptor_row(li2o, "ewald", "CAN")
    with pytest.raises(ParameterError, match="does not take"):
        descriptor_row(li2o, "soap", "CAN", radius=3)


def test_transformer_fit_transform_pipeline(embedded_small, lgps):
    recs = {r.id: r.structure for r in embedded_small[:5]}
    soap = SOAPDescriptor(simplification="CAN", r_cut=3.0, n_max=2, l_max=2)
    X = soap.fit_transform(recs)
    assert X.shape == (5, soap.get_number_of_features()) == (5, len(soap.get_feature_names_out()))
    assert np.isfinite(X).all()
    assert clone(soap).get_params()["r_cut"] == 3.0
    assert any("Bart" in c for c in soap.citations())
    Z = make_pipeline(StructureDescriptor("density", "CAN"), StandardScaler()).fit_transform(recs)
    assert Z.shape == (5, 3)
    # disordered LGPS is described through its ordered approximant; CAN merges Ge/P into Al
    t = soap.transform_table({"lgps": lgps})
    assert t.loc["lgps", "error"] == "" and np.isfinite(t.drop(columns="error").to_numpy()).all()


def test_failures_are_rows_with_reasons(embedded_small):
    # structural heterogeneity fails for some simplified structures: an error row, never a silent NaN
    from sicnb.cluster import descriptor_table
    from pymatgen.core import Lattice, Structure

    lonely = Structure(Lattice.cubic(30.0), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    t = descriptor_table({"ok": embedded_small[0].structure, "lonely": lonely}, "ewald", "none")
    assert t.loc["ok", "error"] == ""
    assert t.loc["lonely", "error"] != "" and t.drop(columns="error").loc["lonely"].isna().all()
