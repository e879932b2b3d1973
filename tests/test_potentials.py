"""sicnb.potentials: energies of a known compound, and the M3GNet-MP-2021.2.8 compound-energy problem."""
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


def test_m3gnet_mp_2021_warns_and_is_documented():
    from conftest import MATGL_MODELS

    if MATGL_MODELS is None:
        pytest.skip("needs local matgl models (set SICNB_MATGL_MODELS)")
    with pytest.warns(UserWarning, match="implausible energies"):
        pot = load_potential("m3gnet")
    e = float(pot.energies([_li2o(4.61)])[0]) / 12
    # the measured (wrong) value documented in sicnb.potentials; if this fails, matgl changed: re-check the default
    assert e == pytest.approx(-1.374, abs=0.02)


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
