"""sicnb.potentials: energies of known compounds, the aggregation convention of DGL-era matgl checkpoints, and the
load-time self-test of every pretrained model."""
from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sicnb.potentials import load_potential


def _li2o(a: float) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Li", "O"], [[0.25, 0.25, 0.25], [0, 0, 0]])


def test_chgnet_li2o_energy_and_lattice_constant():
    pot = load_potential("chgnet")
    scales = np.linspace(0.94, 1.06, 5)
    e = pot.energies([_li2o(4.61 * x) for x in scales]) / 12
    assert -5.3 < e[2] < -4.5  # MP GGA(+corrections) about -4.8 eV/atom
    c = np.polyfit(4.61 * scales, e, 2)
    assert abs(-c[1] / (2 * c[0]) - 4.61) / 4.61 < 0.04


def _needs_matgl():
    from conftest import MATGL_MODELS

    if MATGL_MODELS is None:
        pytest.skip("needs local matgl models (set SICNB_MATGL_MODELS)")


def _mgo(a: float = 4.212) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_m3gnet_mgo_li2o_energies_match_pbe():
    """The paper's potential through the public API: MgO -5.95 ± 0.05 eV/atom (MP PBE, mp-1265); Li2O about -4.76."""
    _needs_matgl()
    pot = load_potential("m3gnet")
    assert pot.model == "M3GNet-MP-2021.2.8-PES" and "destination aggregation" in pot.source
    e = pot.energies([_mgo(), _li2o(4.619)]) / np.array([8, 12])
    assert e[0] == pytest.approx(-5.95, abs=0.05)
    assert e[1] == pytest.approx(-4.76, abs=0.06)


@pytest.mark.parametrize("model", ["M3GNet-MP-2021.2.8-PES", "MEGNet-MP-2018.6.1-Eform"])
def test_wrong_aggregation_convention_fails_the_self_test(model):
    """Forcing matgl 4's source aggregation on a DGL-era checkpoint must raise, naming model, structure and values."""
    from sicnb.errors import ModelIntegrityError
    from sicnb.potentials import load_matgl_model

    _needs_matgl()
    with pytest.raises(ModelIntegrityError, match=model) as info:
        load_matgl_model(model, aggregation="source")
    msg = str(info.value)
    assert "MgO" in msg and "expected" in msg and "obtained" in msg


def test_convention_is_scoped_to_the_loaded_model():
    """No global patch: matgl's class is unchanged, and another copy of the same checkpoint keeps matgl's code."""
    import matgl
    import torch
    from matgl.data.transformer import Normalizer
    from matgl.layers._graph_convolution import MEGNetGraphConv

    from sicnb.potentials import load_matgl_model, matgl_model_path
    from sicnb.potentials.convention import model_convention

    _needs_matgl()
    before = MEGNetGraphConv.node_update_
    ours = load_matgl_model("MEGNet-MP-2018.6.1-Eform")
    with torch.serialization.safe_globals([Normalizer]):
        theirs = matgl.load_model(str(matgl_model_path("MEGNet-MP-2018.6.1-Eform")))
    assert model_convention(ours) == "destination" and model_convention(theirs) == "source"
    assert MEGNetGraphConv.node_update_ is before
    assert ours.sicnb_provenance["aggregation"] == "destination"
    import pickle

    again = pickle.loads(pickle.dumps(ours))  # what a worker process receives keeps the convention
    assert model_convention(again) == "destination"


@pytest.mark.parametrize("name,model", [("m3gnet", None), ("m3gnet", "M3GNet-MatPES-PBE-v2025.1-PES"), ("chgnet", None),
                                        ("sevennet", None)])
def test_every_potential_passes_its_self_test(name, model):
    from sicnb.potentials import selftest

    if name == "m3gnet":
        _needs_matgl()
    pot = load_potential(name, model=model)
    rows = [r for r in selftest.self_test_report() if pot.model in r["model"]]
    assert {r["structure"] for r in rows} >= {"MgO", "Li2O", "LiF", "LiCl"}
    assert all(r["passed"] for r in rows)


@pytest.mark.parametrize("model,quantity", [("MEGNet-MP-2018.6.1-Eform", "formation energy"),
                                            ("MEGNet-MP-2019.4.1-BandGap-mfi", "PBE band gap")])
def test_megnet_models_pass_their_self_test(model, quantity):
    from sicnb.potentials import load_matgl_model, selftest

    _needs_matgl()
    load_matgl_model(model)
    rows = [r for r in selftest.self_test_report() if r["model"] == model]
    assert rows and all(r["passed"] and quantity in r["quantity"] for r in rows)


def test_self_test_runs_once_per_key_and_is_cached_on_disk(tmp_path):
    from sicnb.errors import ModelIntegrityError
    from sicnb.potentials import selftest

    calls = []

    def run():
        calls.append(1)
        return [selftest.CheckResult("toy", "MgO", "x", 1.0, 1.01, 0.1, True)]

    selftest.run_self_test("toy-key", "toy", run)
    selftest.run_self_test("toy-key", "toy", run)
    assert len(calls) == 1
    selftest._PASSED.clear()  # a new process: the pass is read from the cache file
    selftest.run_self_test("toy-key", "toy", run)
    assert len(calls) == 1

    def bad():
        return [selftest.CheckResult("toy", "LiF", "E_f (eV/atom)", -3.19, -2.88, 0.15, False)]

    with pytest.raises(ModelIntegrityError, match=r"toy.*LiF.*expected -3\.190.*obtained -2\.880"):
        selftest.run_self_test("toy-bad", "toy", bad)


def test_matgl_names_resolve_per_version():
    from sicnb.potentials import resolve_matgl_name

    assert resolve_matgl_name("MEGNet-MP-2018.6.1-Eform", "4.1.2")[0] == "MEGNet-Eform-MP-2018.6.1"
    assert resolve_matgl_name("MEGNet-MP-2019.4.1-BandGap-mfi", "4.0.0")[0] == "MEGNet-BandGap-mfi-MP-2019.4.1"
    target, note = resolve_matgl_name("M3GNet-MP-2021.2.8-PES", "4.1.2")
    assert target == "M3GNet-PES-MatPES-PBE-2025.2" and "not served" in note
    assert resolve_matgl_name("M3GNet-MP-2021.2.8-PES", "1.2.1") == ("M3GNet-MP-2021.2.8-PES", "")


def test_online_path_with_a_fake_matgl_cache(tmp_path, monkeypatch):
    """No local folder: sicnb asks matgl for the matgl-4 name; the DGL-era weights served under it are recognised by
    their fingerprint and pass the self-test. A name matgl 4 does not hold fails with the resolved name."""
    import matgl

    from sicnb.errors import ModelUnavailableError
    from sicnb.potentials import load_matgl_model, matgl_model_path

    _needs_matgl()
    src = matgl_model_path("MEGNet-MP-2018.6.1-Eform")
    cache = tmp_path / "hub"
    (cache / "MEGNet-Eform-MP-2018.6.1").mkdir(parents=True)
    for f in ("model.json", "model.pt", "state.pt"):
        (cache / "MEGNet-Eform-MP-2018.6.1" / f).symlink_to(src / f)
    real = matgl.load_model
    asked = []

    def fake_load_model(name, **kw):
        asked.append(str(name))
        folder = cache / str(name)
        if not folder.exists():
            raise ValueError(f"No valid model found locally or at Hugging Face repo 'materialyze/{name}'")
        return real(str(folder))

    monkeypatch.delenv("SICNB_MATGL_MODELS", raising=False)
    monkeypatch.setattr(matgl, "load_model", fake_load_model)
    load_matgl_model.cache_clear()
    try:
        if int(matgl.__version__.split(".")[0]) >= 4:
            m = load_matgl_model("MEGNet-MP-2018.6.1-Eform")
            assert asked[-1] == "MEGNet-Eform-MP-2018.6.1"
            assert m.sicnb_provenance["aggregation"] == "destination"
            with pytest.raises(ModelUnavailableError, match="M3GNet-PES-MatPES-PBE-2025.2"):
                load_matgl_model("M3GNet-MP-2021.2.8-PES")
    finally:
        load_matgl_model.cache_clear()


def test_chgnet_energies_run_without_autograd_and_match():
    """Energy-only calls must not build an autograd graph (a dense 57-atom cell took > 14 GB with one);
    the energies equal CHGNet's own predict_structure with autograd on."""
    import torch

    pot = load_potential("chgnet")
    cells = [_li2o(4.61 * x) for x in (0.98, 1.0, 1.02)]
    seen: list[bool] = []
    forward = pot._impl.forward  # CHGNet.predict_graph calls self.forward directly (module hooks do not fire)

    def spy(*args, **kwargs):
        seen.append(torch.is_grad_enabled())
        return forward(*args, **kwargs)

    pot._impl.forward = spy
    try:
        e = pot.energies(cells, batch_size=2)
    finally:
        del pot._impl.forward
    assert seen and not any(seen)
    ref = pot._impl.predict_structure(cells, task="e", batch_size=2)
    np.testing.assert_allclose(e, [float(p["e"]) * len(s) for p, s in zip(ref, cells)], rtol=0, atol=1e-5)


def test_first_available_potential_skips_only_unavailable_models(monkeypatch):
    """Offline without local matgl models the PES notebook falls back to CHGNet and says why; a model that loads but
    fails its self-test is never skipped."""
    import sicnb.potentials as P
    from sicnb.errors import ModelIntegrityError, ModelUnavailableError

    def fake(name, model=None):
        if name == "m3gnet":
            raise ModelUnavailableError("Could not load matgl model 'M3GNet-MP-2021.2.8-PES' (needs the network)")
        if name == "sevennet":
            raise ModelIntegrityError("SevenNet-0: MgO -2.1 eV/atom, expected -5.95 +/- 0.1")
        return object()

    monkeypatch.setattr(P, "as_potential", fake)
    monkeypatch.setattr(P, "_UNAVAILABLE", {})
    assert P.first_available_potential(["chgnet", "m3gnet"]) == ("chgnet", "")
    name, note = P.first_available_potential(["m3gnet", "chgnet"])
    assert name == "chgnet" and "m3gnet" in note and "needs the network" in note
    with pytest.raises(ModelIntegrityError):
        P.first_available_potential(["sevennet", "chgnet"])
    with pytest.raises(ModelUnavailableError, match="none of the potentials"):
        P.first_available_potential(["m3gnet"])
    assert "needs the network" in P._UNAVAILABLE["m3gnet"]  # remembered: not tried again in this process


def test_band_gap_fidelity_is_named_or_indexed_the_same_everywhere():
    from sicnb.errors import ParameterError
    from sicnb.potentials.bandgap import FIDELITIES, fidelity_index

    assert [fidelity_index(n) for n in FIDELITIES] == [0, 1, 2, 3] == [fidelity_index(i) for i in range(4)]
    for bad in ("pbe", 4, 1.5, True):
        with pytest.raises(ParameterError, match="fidelity"):
            fidelity_index(bad)
