"""Percolation barriers of a BVSE grid: bvlain's algorithm, same numbers, without its quadratic loops.

``bvlain.Lain.percolation_barriers`` bisects, per dimensionality, the energy at which the
sub-threshold region of the BVSE grid (tiled 2×2×2, 26-connected, faces joined by its own
sequential relabelling) contains a component that reaches 2 / 4 / 8 images of one voxel
(1D / 2D / 3D). It rewrites the whole labelled array once per joined pair of labels and scans
the whole array once per component; on a 256-site garnet that is 25 of the 38 s of a BVSE
call. The functions below take the same steps on a label map instead of the array, look up each
component's first voxel once, and share the probes the three bisections have in common. They
return bvlain's numbers exactly (checked against bvlain on real structures in
``tests/test_bvse.py``; ``bench/bench_bvse.py`` measures the ratio).
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage

__all__ = ["percolation_barriers", "percolation_dimension"]

#: bvlain's dimensionality codes: images of a voxel reached by one component (1D, 2D, 3D)
_DIMENSION_IMAGES = {"E_1D": 2, "E_2D": 4, "E_3D": 8}
#: bvlain stops bisecting when the bracket is this narrow (eV)
_BISECTION_WIDTH_EV = 0.01
_IMAGES = np.array(list(itertools.product([0, 1], [0, 1], [0, 1])))


def _join_faces(labels: np.ndarray) -> np.ndarray:
    """bvlain's ``_apply_pbc``: for each face pair in turn, every label ``s`` on the last slice
    (in the order of ``np.unique`` at the start of that face) absorbs the labels it touches on the
    first slice. Done on a label map (``label_map[original] = current``) instead of the array."""
    label_map = np.arange(int(labels.max()) + 1, dtype=labels.dtype)
    for axis in range(3):
        last = np.take(labels, -1, axis=axis).ravel()
        first = np.take(labels, 0, axis=axis).ravel()
        pairs = np.unique(np.stack([last, first], axis=1), axis=0)  # the face, as distinct (last, first) pairs
        for s in np.unique(label_map[last]):
            if s == 0:
                continue
            touching = np.unique(label_map[pairs[label_map[pairs[:, 0]] == s, 1]])
            for c in touching:
                if c != 0:
                    label_map[label_map == c] = s
    return label_map[labels]


def percolation_dimension(region: np.ndarray) -> int:
    """Largest number of 2×2×2 images of its own first voxel that one 26-connected component of
    ``region`` (a boolean grid of one unit cell) reaches: 2 = 1D, 4 = 2D, 8 = 3D percolation
    (bvlain ``_connected_components`` + ``_percolation_dimension``); 0 when ``region`` is empty."""
    superdata = np.tile(region, (2, 2, 2))
    labels, _ = ndimage.label(superdata, structure=ndimage.generate_binary_structure(3, 3))
    labels = _join_faces(labels)
    features, first = np.unique(labels.ravel(), return_index=True)  # first voxel of each component, C order
    half = np.array(labels.shape) // 2
    best = 0
    for feature, index in zip(features, first):
        if feature == 0:
            continue
        voxel = np.array(np.unravel_index(index, labels.shape))
        images = voxel + (_IMAGES - voxel // half) * half
        best = max(best, int(np.count_nonzero(labels[tuple(images.T)] == feature)))
    return best


def percolation_barriers(energy_grid_eV: np.ndarray, encut_eV: float = 10.0) -> dict[str, float]:
    """Lowest energies (eV, above the grid minimum, rounded to 4 decimals as bvlain does) at which
    the BVSE landscape percolates in 1, 2 and 3 dimensions — ``{"E_1D", "E_2D", "E_3D"}``, ``inf``
    where it does not below ``encut_eV``. Same bisection as ``bvlain.Lain.percolation_barriers``
    (thesis App. A.2), probes shared between the three dimensionalities."""
    data = np.asarray(energy_grid_eV, dtype=float)
    data = data - data.min()
    dimension_at: dict[float, int] = {}
    out: dict[str, float] = {}
    for key, images in _DIMENSION_IMAGES.items():
        e_min, e_max = float(data.min()), float(data.min()) + encut_eV
        barrier = float("inf")
        while (e_max - e_min) > _BISECTION_WIDTH_EV:
            probe = (e_min + e_max) / 2
            if probe not in dimension_at:
                dimension_at[probe] = percolation_dimension(data < probe)
            if dimension_at[probe] >= images:
                e_max = probe
                barrier = round(e_max, 4)
            else:
                e_min = probe
        out[key] = barrier
    return out
