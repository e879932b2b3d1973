"""``sicnb cluster`` end to end on a small real pool with a label CSV."""
from __future__ import annotations

import numpy as np
import pandas as pd

from sicnb.cli import main


def test_cluster_cli_writes_one_row_per_depth(tmp_path, embedded_small):
    ids = [r.id for r in embedded_small]
    from sicnb.data import embedded

    pool_ids = embedded().ids[:12]
    labels = pd.DataFrame({"id": pool_ids[:6], "log10_sigma": [-3.0, -4.0, -9.0, -6.5, -2.5, -8.0]})
    lab_csv = tmp_path / "labels.csv"
    labels.to_csv(lab_csv, index=False)
    out = tmp_path / "wsigma.csv"
    rc = main(["cluster", "--input", "embedded", "--limit", "12", "--labels", str(lab_csv), "--descriptor", "soap",
               "--simplification", "CAN", "--option", "r_cut", "3", "--option", "n_max", "2", "--option", "l_max", "2",
               "--max-depth", "10", "--n-control", "10", "--out", str(out)])
    assert rc == 0 and len(ids) == 10
    df = pd.read_csv(out)
    assert list(df["depth"]) == list(range(2, 11))
    assert {"W_sigma", "W_sigma_control_mean", "W_sigma_control_std", "n_labels"} <= set(df.columns)
    assert (df["n_labels"] == 6).all()
    # W_σ (frozen-state, App. A.1) never exceeds the depth-1 value Σ(y − ȳ)² = 37 (ȳ = −5.5) and never grows with depth
    w = df["W_sigma"].to_numpy()
    assert 0 < w[0] <= 37.0 + 1e-9 and (np.diff(w) <= 1e-9).all()
    # and it is the library's W_σ for the same tree (the CLI adds no step of its own)
    from sicnb.cluster.transformers import descriptor_table
    from sicnb.cluster.ward import cluster_assignments, frozen_ward_variance, ward_tree

    pool = embedded()[:12].with_structures()
    table = descriptor_table(pool, "soap", "CAN", {"r_cut": 3, "n_max": 2, "l_max": 2}, "Li", cache_dir=False, progress=False)
    assignments = cluster_assignments(ward_tree(table), range(2, 11))
    y = labels.set_index("id")["log10_sigma"]
    expected = frozen_ward_variance(assignments.loc[y.index].to_numpy(), y.to_numpy(dtype=float))
    np.testing.assert_allclose(w, expected, rtol=1e-9)


def test_cluster_screen_saves_every_combination_and_ranks_by_ratio(tmp_path):
    from sicnb.data import embedded

    pool_ids = embedded().ids[:14]
    labels = pd.DataFrame({"id": pool_ids[:7], "log10_sigma": [-3.0, -4.0, -9.0, -6.5, -2.5, -8.0, -5.0]})
    lab_csv = tmp_path / "labels.csv"
    labels.to_csv(lab_csv, index=False)
    out = tmp_path / "screen.csv"
    rc = main(["cluster", "screen", "--input", "embedded", "--limit", "14", "--labels", str(lab_csv),
               "--descriptors", "density,band_center", "--simplifications", "none,CAN,CAN-40", "--restrict", "density=none,CAN-40",
               "--max-unlabelled", "3", "--max-depth", "8", "--n-control", "10", "--out", str(out)])
    assert rc == 0
    df = pd.read_csv(out)
    # density on its two allowed forms; band_center (compositional) skips CAN-40, which would duplicate CAN
    assert sorted(df["combination"].unique()) == ["band_center-CAN", "band_center-none", "density-CAN-40", "density-none"]
    assert all(list(d) == list(range(2, 9)) for _, d in df.groupby("combination")["depth"])
    assert (df["n_structures"] == 10).all() and (df["n_labels"] == 7).all()
    rank = pd.read_csv(tmp_path / "screen_ranking.csv")
    assert list(rank["mean_ratio_to_control"]) == sorted(rank["mean_ratio_to_control"])
    means = df.groupby("combination")["ratio_to_control"].mean()
    assert abs(rank["mean_ratio_to_control"].iloc[0] - means.min()) < 1e-12
