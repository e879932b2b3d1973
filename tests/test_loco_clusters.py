"""``loco_clusters`` (Methods 4.2: ElMD → UMAP → DBSCAN) on a known answer (issue 18). UMAP's numba compilation is
paid once per process, by whichever LOCO test runs first (tests/test_classify_selection.py has another)."""
from __future__ import annotations

import numpy as np
import pytest

from sicnb.classify.validation import loco_clusters

HALIDES = ["LiCl", "LiBr", "LiI", "Li2ClBr", "Li2BrI", "Li2ClI", "Li3ClBrI", "Li4Cl3Br"]
METAL_OXIDES = ["LiNbO3", "LiTaO3", "LiVO3", "LiSbO3", "LiBiO3", "LiAsO3", "LiPO3", "Li2NbTaO6"]


def test_loco_clusters_separate_chemical_families():
    """Methods 4.2 pipeline (ElMD → UMAP → DBSCAN) on two families far apart on the modified Pettifor scale: eight
    Li halides (ElMD ≤ 1 among them) and eight LiMO3-type oxides (ElMD ≤ 8 among them, ≥ 17.5 from every halide).
    The halides must form one cluster that no oxide shares; a wrong distance (e.g. on element order instead of the
    Pettifor scale) or scrambled labels break it. Noise points, if any, take the cluster of their nearest clustered
    neighbour in the UMAP plane (recomputed here)."""
    from ElMD import ElMD

    from sicnb.classify.validation import elmd_distance_matrix

    comps = HALIDES + METAL_OXIDES
    d = elmd_distance_matrix(comps)
    np.testing.assert_allclose(d, d.T)
    assert np.all(np.diag(d) == 0)
    for i, j in [(0, 1), (0, 8), (3, 12), (9, 15)]:  # the ElMD package's own distance
        assert d[i, j] == pytest.approx(ElMD(comps[i], metric="mod_petti").elmd(comps[j]), abs=1e-9)
    assert d[:8, :8].max() <= 1.0 + 1e-9 and d[:8, 8:].min() >= 17.5 - 1e-9
    df = loco_clusters(comps, n_neighbors=5, min_samples=3, eps=4.0)
    assert list(df["composition"]) == comps
    cl = df["cluster"].to_numpy()
    assert len(set(cl[:8].tolist())) == 1 and cl[0] >= 0
    assert cl[0] not in set(cl[8:].tolist())
    lab = df["dbscan_label"].to_numpy()
    emb = df[["umap_x", "umap_y"]].to_numpy()
    good = np.flatnonzero(lab >= 0)
    for i in np.flatnonzero(lab < 0):
        assert cl[i] == lab[good[np.argmin(np.linalg.norm(emb[good] - emb[i], axis=1))]]
    assert (cl[lab >= 0] == lab[lab >= 0]).all()
