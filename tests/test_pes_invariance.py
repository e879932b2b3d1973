"""``pes_descriptors`` through the shared invariance suite and the 1-vs-N-workers suite (issue 18).

ML potentials cost ~50 ms a cell here, far too much for five scans per test, so these tests drive the real scan code
with :class:`sicnb.testing.PairPotential` (ASE's Lennard-Jones calculator behind the Potential interface, ~1 ms a
cell): a genuine, frame-independent potential, so every frame dependence they find is the scan's own.
"""
from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sicnb.pes import pes_descriptors
from sicnb.pes.grid import grid_shape, space_group_ops, standard_origin, translations_fit_grid
from sicnb.testing import PairPotential, assert_same_result, transformed_copies

#: diagnostics that describe the input frame or the cost, not the crystal: ``symmetrize_max_shift_A`` is how far the
#: input's atoms moved when cell and positions were made exactly symmetric, which depends on where the origin sits
#: (a strained lattice moves far atoms more); ``seconds`` is wall time
FRAME_KEYS = ("symmetrize_max_shift_A", "seconds")


def _descriptor_keys(result: dict, also_exclude: tuple[str, ...] = ()) -> list[str]:
    return [k for k, v in result.items() if not isinstance(v, str) and k not in FRAME_KEYS + also_exclude]


def _li3n() -> Structure:
    """α-Li3N (P6/mmm, a 3.648, c 3.875 Å): N 1a, Li 1b and 2c — two symmetry-distinct Li sites."""
    return Structure(Lattice.hexagonal(3.648, 3.875), ["N", "Li", "Li", "Li"],
                     [[0, 0, 0], [0, 0, 0.5], [1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0]])


def test_pes_descriptors_invariant_under_rotation_translation_permutation(descriptor_suite, li2o):
    """Rotation and site order leave the fractional grid as it was; a translation is undone by
    :func:`standard_origin` (the space group's own origin), so all three give the same grid points, the same energies
    and the same descriptors to rounding (1e-9). Before the origin was standardised, the translated copy asked for a
    27720³ grid (the lcm of arbitrary translation denominators) and died allocating 19 TiB. (An input whose own origin
    fits the grid but is not the standard one keeps it, so its translated copies agree only to the grid scale.)"""
    pot = PairPotential()
    params = {"potential": pot, "step": 0.5}
    ref = pes_descriptors(li2o, **params)
    keys = _descriptor_keys(ref)
    assert {"MPE", "FV_connected_0.5", "FV_disconnected_0.5", "Xi", "n_potential_calls", "n_grid_points"} <= set(keys)
    assert np.isfinite(ref["MPE"]) and 0 < ref["FV_connected_0.5"] <= ref["FV_disconnected_0.5"] < 1
    descriptor_suite(pes_descriptors, li2o, params, rtol=1e-9, atol=1e-9, keys=keys, cell_choice=False)


def test_standard_origin_makes_translations_grid_compatible(li2o):
    """A Li2O copy shifted by an arbitrary vector gets back a space group whose translations are multiples of 1/2..1/6,
    hence the same grid as the original (7x7x7 at 0.5 Å). ``pes_scan`` moves only inputs whose translations do not fit
    a grid (in the embedded pool, 7 of the first 300 ordered cells, e.g. LiZr2N3 mbdiel-0768, whose grid at 0.25 Å
    shrinks from 27x27x154 to 27x27x18); inputs in a crystallographic setting keep their origin and their results."""
    shifted = li2o.copy()
    shifted.translate_sites(list(range(len(shifted))), [0.137, -0.291, 0.443], frac_coords=True, to_unit_cell=True)
    assert translations_fit_grid(space_group_ops(li2o)) and not translations_fit_grid(space_group_ops(shifted))
    back, shift = standard_origin(shifted)
    assert np.abs(shift).max() > 0.1  # it did move the structure
    assert translations_fit_grid(space_group_ops(back))
    for _, t in space_group_ops(back):
        assert np.allclose(t * 12, np.round(t * 12), atol=1e-6), t
    assert grid_shape(back.lattice, 0.5, space_group_ops(back)) == grid_shape(li2o.lattice, 0.5, space_group_ops(li2o)) == (7, 7, 7)


def test_pes_descriptors_other_cell_choice_within_grid_discretisation(li2o):
    """Another basis of the same fcc cell, (a1, a2, a3 - a1): its axes keep their 3.29 Å lengths, so the grid is the
    same point set (10x10x10 at 0.35 Å) and the energies on it are the same. What changes is which grid points are
    index neighbours (the 26-neighbour rule steps along other Cartesian vectors) and the shape of the 2x2x2 supercell
    in which percolation is judged, so paths and connected volumes may differ by grid-scale amounts.

    Tolerances, from the grid: MPE within 0.1 eV — the discretisation error of the MPE itself at this step is larger
    (this potential's Li2O MPE is 1.10 eV on the 0.35 Å grid and 0.83 eV on the 0.25 Å grid; measured 0.055 eV
    difference between the two bases); FV within 5e-3 of the cell, i.e. 5 points of the 10³ grid (measured 2.5e-3);
    Xi within 0.01 (measured 4e-5). The default cell choice (a1 + a2, a2, a3) lengthens an axis to 5.7 Å, which gives
    another grid altogether (MPE 0.42 eV apart at 0.35 Å): the descriptors are basis-dependent at the grid scale, as
    any grid scan is; compare structures in the same (reduced) basis."""
    pot = PairPotential()
    ref = pes_descriptors(li2o, pot, step=0.35)
    other = transformed_copies(li2o, cell_choice_matrix=[[1, 0, 0], [0, 1, 0], [-1, 0, 1]])["cell_choice"]
    assert not np.allclose(other.lattice.angles, li2o.lattice.angles, atol=1.0)  # really another basis
    res = pes_descriptors(other, pot, step=0.35)
    assert res["grid_shape"] == ref["grid_shape"] == "10x10x10"
    assert_same_result(ref, res, rtol=0.0, atol=0.1, keys=["MPE"], label="cell choice")
    fv = [k for k in _descriptor_keys(ref) if k.startswith("FV_")]
    assert len(fv) == 20
    assert_same_result(ref, res, rtol=0.0, atol=5e-3, keys=fv, label="cell choice")
    assert_same_result(ref, res, rtol=0.0, atol=0.01, keys=["Xi"], label="cell choice")


def test_pes_descriptors_same_for_1_and_2_workers(workers_suite, li2o):
    pot = PairPotential()
    li3n = _li3n()
    params = {"potential": pot, "step": 0.5}
    keys = _descriptor_keys(pes_descriptors(li3n, **params))
    workers_suite(pes_descriptors, [li2o, li3n], params, n_workers=2, keys=keys)


def test_pair_potential_is_a_real_frame_independent_potential(li2o):
    """The test potential itself: energies equal ASE's Lennard-Jones on the same atoms, unchanged by rotation,
    translation and site order, and different for a compressed cell (so it can tell structures apart)."""
    from ase.calculators.lj import LennardJones
    from pymatgen.io.ase import AseAtomsAdaptor

    pot = PairPotential()
    atoms = AseAtomsAdaptor.get_atoms(li2o)
    atoms.calc = LennardJones(sigma=2.0, epsilon=0.05, rc=6.0, smooth=True)
    e = pot.energies([li2o])[0]
    assert e == pytest.approx(atoms.get_potential_energy(), abs=1e-12)
    copies = transformed_copies(li2o)
    np.testing.assert_allclose(pot.energies(list(copies.values())), e, atol=1e-9)
    squeezed = li2o.copy()
    squeezed.scale_lattice(0.8 * li2o.volume)
    assert abs(pot.energies([squeezed])[0] - e) > 0.1
