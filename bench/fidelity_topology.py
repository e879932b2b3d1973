"""Bench: fidelity of sicnb's MTL topology (notebook 01) to the authors' published per-structure values.

Chen et al. (MTL paper) published, with their code (GitHub PKUsam2023/MTUL-LSIC, ``filter_data/``):
``avg_Li_connection_value.csv`` (r_connected, eq. 1), ``servive_ph1_value.csv`` (rho_cycles, eq. 2, column
``survive_h1``), ``affinity_clusters_result.csv`` (affinity-propagation labels) and ``target_339_feature.csv``
(the 22 clustering features of the structures in their target clusters). Their structures are ICSD entries;
OBELiX (training split, ``$SICNB_DATA_DIR``) shares ICSD numbers with some of them, so the comparison runs on
that overlap. The authors' files are not ours and are not in this repository: ``--authors-dir`` names a folder
holding them (any subset of rows works; only the overlap is used), else they are downloaded once from the
pinned commit below into ``$SICNB_CACHE_DIR/mtul_lsic``.

Halves: OBELiX structures whose ICSD number is EVEN are the calibration half, ODD the independent check;
every metric is reported for both. Nothing in sicnb is fitted to these numbers; the definitions were chosen
from the authors' code, and the even half was used only to compare candidate definitions (``--candidates``).

Reports
1. r_connected and rho_cycles (both sicnb readings) vs the authors' values (Spearman, median |delta|, agreement of the pass/fail at
   5 Å / 0.6; the authors' own list also drops rho = 0: ``list_filtered_by_servive_ph1_value.csv`` keeps
   0 < rho < 0.6); whether rho_auth * n (n = Li sites of the cell) is an integer.
2. The 22 features (MTL_FEATURE_NAMES, the authors' barcode2feature.py layout) vs ``target_339_feature.csv``:
   median relative difference per feature and per structure.
3. Funnel on all OBELiX training entries with a structure: fraction of sigma > 1e-4 S/cm entries passing both
   filters, fraction of the others removed (sicnb values; rho rule as in the paper and as in the authors' list).
4. Affinity propagation (sicnb.topology.affinity_clusters, unscaled as the authors' script) on the authors'
   published features and on sicnb's features of the overlap: adjusted Rand index against the authors' labels,
   and known-conductor enrichment per cluster (Fig. 2g).
5. ``--candidates``: other readings of eq. 2 computed from the same barcodes (Li-free / Li-only, R = 5 / 10 Å,
   per-site mean / first site, unit-cell framework), scored on both halves.

    SICNB_DATA_DIR=... SICNB_CACHE_DIR=... OMP_NUM_THREADS=1 python bench/fidelity_topology.py \
        --authors-dir <folder with the authors' CSVs> --workers 2 [--candidates]
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

#: the commit of PKUsam2023/MTUL-LSIC whose filter_data/ this bench was written against
MTUL_COMMIT = "2d20afca72524dfb351913aa9f8b6b6cd81afc66"
MTUL_URL = f"https://raw.githubusercontent.com/PKUsam2023/MTUL-LSIC/{MTUL_COMMIT}/filter_data/"
FILES = {
    "r_connected": "avg_Li_connection_value.csv",
    "rho": "servive_ph1_value.csv",
    "clusters": "affinity_clusters_result.csv",
    "features": "target_339_feature.csv",
}
SIGMA_KNOWN_S_CM = 1e-4


def authors_tables(folder: str | None) -> dict[str, pd.DataFrame]:
    """The authors' CSVs indexed by ICSD number (from ``folder`` if it holds them, else the pinned download)."""
    from sicnb.data.paths import cache_dir, download

    out = {}
    for key, name in FILES.items():
        path = Path(folder) / name if folder else None
        if path is None or not path.exists():
            path = download(MTUL_URL + name, cache_dir("mtul_lsic") / name)
        df = pd.read_csv(path)
        idcol = "cif_id" if "cif_id" in df.columns else df.columns[0]
        out[key] = df.set_index(df[idcol].astype(int)).drop(columns=[idcol])
    return out


def obelix_table(workers: int) -> tuple[pd.DataFrame, dict]:
    """sicnb topology features of every OBELiX training structure, with ICSD number, log10 sigma, n Li sites."""
    from sicnb.data import obelix
    from sicnb.parallel import pmap
    from sicnb.topology import topology_features

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = obelix("train").with_structures()
    t = pmap(topology_features, ds, {"radius_angstrom": 10.0}, n_workers=workers, progress=False)
    recs = {r.id: r for r in ds}
    t["icsd"] = [recs[i].labels.get("icsd_id") for i in t.index]
    t["log10_sigma"] = [recs[i].labels.get("log10_sigma") for i in t.index]
    t["n_li_cell"] = [sum(any(getattr(sp, "symbol", "") == "Li" for sp in s.species) for s in recs[i].structure) for i in t.index]
    return t, recs


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).correlation) if len(a) > 2 else float("nan")


def compare_values(ours: pd.Series, theirs: pd.Series, threshold: float, low: float | None = None) -> dict:
    """Spearman, median |delta| and pass agreement (value < threshold, and > low if given)."""
    ok = ours.notna() & theirs.notna()
    a, b = ours[ok].astype(float), theirs[ok].astype(float)
    pa = (a < threshold) & ((a > low) if low is not None else True)
    pb = (b < threshold) & ((b > low) if low is not None else True)
    return {"n": int(ok.sum()), "spearman": round(_spearman(a, b), 3), "median_abs_delta": round(float((a - b).abs().median()), 3),
            "pass_agreement": round(float((pa == pb).mean()), 3)}


def by_half(df: pd.DataFrame, fn) -> pd.DataFrame:
    rows = []
    for half, sel in (("even ICSD (calibration)", df["icsd"] % 2 == 0), ("odd ICSD (check)", df["icsd"] % 2 == 1)):
        rows.append({"half": half, **fn(df[sel])})
    return pd.DataFrame(rows)


def feature_agreement(t: pd.DataFrame, feats: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Median relative difference per feature (both halves) and per structure, sicnb vs the authors' 22 columns."""
    from sicnb.topology import MTL_FEATURE_NAMES

    ov = t[t["icsd"].isin(feats.index)]
    theirs = feats.loc[ov["icsd"].astype(int)].to_numpy(dtype=float)
    ours = ov[list(MTL_FEATURE_NAMES)].to_numpy(dtype=float)
    rel = np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-9)
    per_struct = pd.DataFrame({"icsd": ov["icsd"].astype(int).to_numpy(), "formula": ov["formula"].to_numpy(),
                               "median_rel_diff": np.median(rel, axis=1), "h0_count_ours": ours[:, 0], "h0_count_theirs": theirs[:, 0],
                               "h0_min_ours": ours[:, 1], "h0_min_theirs": theirs[:, 1]})
    even = (ov["icsd"] % 2 == 0).to_numpy()
    per_feat = pd.DataFrame({"feature": MTL_FEATURE_NAMES,
                             "even_median_rel_diff": np.median(rel[even], axis=0) if even.any() else np.nan,
                             "odd_median_rel_diff": np.median(rel[~even], axis=0) if (~even).any() else np.nan})
    return per_feat, per_struct.sort_values("median_rel_diff")


def _funnel_rows(d: pd.DataFrame, r: pd.Series, rho: pd.Series, label: str) -> list[dict]:
    known = d["log10_sigma"] > np.log10(SIGMA_KNOWN_S_CM)
    r_ok = r < 5.0
    rows = []
    for name, p in (("r_connected < 5 Å only", r_ok),
                    ("+ rho < 0.6 (paper)", r_ok & (rho < 0.6)),
                    ("+ 0 < rho < 0.6 (authors' list)", r_ok & (rho < 0.6) & (rho > 0))):
        rows.append({"values": label, "filters": name, "n_known": int(known.sum()), "known_pass": round(float(p[known].mean()), 3),
                     "n_other": int((~known).sum()), "others_removed": round(float(1 - p[~known].mean()), 3)})
    return rows


def funnel_fractions(t: pd.DataFrame, auth: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Known (sigma > 1e-4 S/cm) kept and others removed by r_connected < 5 Å and the rho rule (paper / authors' list):
    sicnb's values on every OBELiX training entry with a structure; the authors' published values on the entries
    whose ICSD number is in their r_connected table (rho missing there = removed by r_connected already)."""
    ok = t["error"].fillna("").eq("") if "error" in t else pd.Series(True, index=t.index)
    d = t[ok & t["log10_sigma"].notna()]
    rows = _funnel_rows(d, d["r_connected"], d["rho_cycles"], f"sicnb rho_cycles, all OBELiX ({len(d)})")
    rows += _funnel_rows(d, d["r_connected"], d["rho_cycles_lifree_sphere"], f"sicnb rho_cycles_lifree_sphere, all OBELiX ({len(d)})")
    ov = d[d["icsd"].isin(auth["r_connected"].index)]
    ic = ov["icsd"].astype(int)
    r_pub = pd.Series(auth["r_connected"]["avg_connect_v"].reindex(ic).to_numpy(), index=ov.index)
    rho_pub = pd.Series(auth["rho"]["survive_h1"].reindex(ic).to_numpy(), index=ov.index).fillna(np.inf)
    rows += _funnel_rows(ov, r_pub, rho_pub, f"authors' published, overlap ({len(ov)})")
    rows += _funnel_rows(ov, ov["r_connected"], ov["rho_cycles"], f"sicnb rho_cycles, same overlap ({len(ov)})")
    return pd.DataFrame(rows)


def ap_comparison(t: pd.DataFrame, auth: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """ARI of sicnb's affinity propagation against the authors' labels, on their features and on ours."""
    from sklearn.metrics import adjusted_rand_score

    from sicnb.topology import MTL_FEATURE_NAMES, affinity_clusters

    labels = auth["clusters"]["label"]
    rows = []
    feats = auth["features"].copy()
    feats.columns = list(MTL_FEATURE_NAMES)
    both = feats.index.intersection(labels.index)
    for std in (False, True):
        cl = affinity_clusters(feats.loc[both], MTL_FEATURE_NAMES, standardize=std)
        rows.append({"input": f"authors' features ({len(both)} rows of target_339_feature.csv)", "standardize": std,
                     "n": len(both), "n_clusters": int(cl.nunique()), "ARI_vs_authors": round(adjusted_rand_score(labels.loc[both], cl), 3)})
    ok = t["error"].fillna("").eq("") if "error" in t else pd.Series(True, index=t.index)
    ov = t[ok & t["icsd"].isin(labels.index)].drop_duplicates("icsd")
    for std in (False, True):
        cl = affinity_clusters(ov, MTL_FEATURE_NAMES, standardize=std)
        rows.append({"input": "sicnb features of the OBELiX overlap", "standardize": std, "n": len(ov),
                     "n_clusters": int(cl.nunique()), "ARI_vs_authors": round(adjusted_rand_score(labels.loc[ov["icsd"].astype(int)], cl), 3)})
    return pd.DataFrame(rows)


def enrichment_tables(t: pd.DataFrame, auth: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 2g on OBELiX: (a) sicnb's AP (unscaled, MTL features) on the entries passing r_connected < 5 Å and
    rho < 0.6 (sicnb values, paper rule); (b) the authors' own labels on the OBELiX entries they clustered."""
    from sicnb.topology import MTL_FEATURE_NAMES, affinity_clusters, cluster_enrichment

    ok = t["error"].fillna("").eq("") if "error" in t else pd.Series(True, index=t.index)
    d = t[ok & (t["r_connected"] < 5) & (t["rho_cycles"] < 0.6) & t["log10_sigma"].notna()]
    ours = cluster_enrichment(affinity_clusters(d, MTL_FEATURE_NAMES, standardize=False),
                              d["log10_sigma"] > np.log10(SIGMA_KNOWN_S_CM))
    labels = auth["clusters"]["label"]
    ov = t[ok & t["icsd"].isin(labels.index) & t["log10_sigma"].notna()]
    theirs = cluster_enrichment(pd.Series(labels.reindex(ov["icsd"].astype(int)).to_numpy(), index=ov.index, name="cluster"),
                                ov["log10_sigma"] > np.log10(SIGMA_KNOWN_S_CM))
    return ours, theirs


def candidate_numerators(recs: dict, ids: list[str], r_auth: dict[int, float]) -> pd.DataFrame:
    """Readings of eq. 2's numerator, from the same barcodes: the beta1 of which complex at which d."""
    from sicnb.topology.barcodes import betti_at, h0_deaths, rips_barcode, structure_clouds

    rows = []
    for rid in ids:
        s = recs[rid].structure
        icsd = int(recs[rid].labels["icsd_id"])
        li = [i for i, x in enumerate(s) if any(getattr(sp, "symbol", "") == "Li" for sp in x.species)]
        row = {"id": rid, "icsd": icsd, "n": len(li)}
        for R in (5.0, 10.0):
            clouds = structure_clouds(s, li, R)
            r_site = []
            fw, lo = [], []
            for c in clouds:
                d, nc = h0_deaths(c.mobile_points, R)
                r_site.append(float(d.max()) if (nc == 1 and len(d)) else R)
                fw.append(rips_barcode(c.framework_points, R, 1).dim(1))
                lo.append(rips_barcode(c.mobile_points, R, 1).dim(1))
            rc = float(np.mean(r_site))
            for name, d_val in (("own r_conn", rc), ("authors' r_conn", r_auth.get(icsd, np.nan))):
                row[f"Li-free R={R:g} mean, d={name}"] = np.mean([betti_at(b, d_val) for b in fw])
                row[f"Li-free R={R:g} first site, d={name}"] = betti_at(fw[0], d_val)
                row[f"Li-only R={R:g} mean, d={name}"] = np.mean([betti_at(b, d_val) for b in lo])
        for name, idx in (("Li-free", [i for i in range(len(s)) if i not in li]), ("Li-only", li)):
            bc = rips_barcode(np.mod(s.frac_coords[idx], 1.0) @ s.lattice.matrix, 10.0, 1).dim(1)
            row[f"{name} unit cell (no images), d=own r_conn"] = betti_at(bc, float(np.mean(r_site)))
            row[f"{name} unit cell (no images), d=authors' r_conn"] = betti_at(bc, r_auth.get(icsd, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def mtl_overhead(recs: dict, ids=("obelix:lpx", "obelix:zzr", "obelix:kbq")) -> pd.DataFrame:
    """Share of one topology_features call spent in the 22 MTL statistics (barcode_statistics) and in the cell
    Li-site complex of rho_cycles (cell_mobile_beta1), same run."""
    import time

    from sicnb.topology import barcode_statistics, cell_mobile_beta1, topology_features
    from sicnb.topology.features import structure_site_topologies

    rows = []
    for rid in ids:
        s = recs[rid].structure
        topology_features(s)  # warm-up
        t0 = time.perf_counter()
        res = topology_features(s)
        t_all = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(5):
            cell_mobile_beta1(s, res["r_connected"])
        t_cell = (time.perf_counter() - t0) / 5
        sites = structure_site_topologies(s, 10.0)
        t0 = time.perf_counter()
        for _ in range(20):
            [barcode_statistics(x.lifree_h0_deaths, x.lifree_h1, 10.0) for x in sites]
        t_stats = (time.perf_counter() - t0) / 20
        rows.append({"id": rid, "distinct Li sites": len(sites), "topology_features s": round(t_all, 3),
                     "MTL statistics ms": round(1e3 * t_stats, 2), "share %": round(100 * t_stats / t_all, 2),
                     "cell beta1 ms": round(1e3 * t_cell, 2), "cell share %": round(100 * t_cell / t_all, 2)})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--authors-dir", default=None, help="folder with the authors' CSVs (else: pinned download)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--candidates", action="store_true", help="also score other readings of eq. 2 (slow: Li-only H1)")
    ap.add_argument("--overhead", action="store_true", help="also time the MTL statistics against one topology_features call")
    args = ap.parse_args()
    pd.set_option("display.width", 220)
    auth = authors_tables(args.authors_dir)
    t, recs = obelix_table(args.workers)
    with_icsd = t[t["icsd"].notna()].copy()
    with_icsd["icsd"] = with_icsd["icsd"].astype(int)

    print("## 1. r_connected (eq. 1) and rho_cycles (eq. 2) against the authors' published values\n")
    rc = with_icsd[with_icsd["icsd"].isin(auth["r_connected"].index)].copy()
    rc["theirs"] = auth["r_connected"].loc[rc["icsd"], "avg_connect_v"].to_numpy()
    print("r_connected (pass: < 5 Å)")
    print(by_half(rc, lambda d: compare_values(d["r_connected"], d["theirs"], 5.0)).to_markdown(index=False))
    rho = with_icsd[with_icsd["icsd"].isin(auth["rho"].index)].copy()
    rho["theirs"] = auth["rho"].loc[rho["icsd"], "survive_h1"].to_numpy()
    num = rho["theirs"] * rho["n_li_cell"]
    print(f"\nrho_cycles: {len(rho)} overlaps; rho_auth x n(Li sites of the OBELiX cell) is an integer (|frac| < 1e-6) for "
          f"{int((np.abs(num - num.round()) < 1e-6).sum())} of them")
    for col, what in (("rho_cycles", "authors' reading: beta1 of the cell's Li sites at d = r_connected, / n"),
                      ("rho_cycles_lifree_sphere", "text reading: site-averaged Li-free beta1 at d = r_connected, / n")):
        print(f"\n{col} ({what})")
        print("pass = rho < 0.6 (paper)")
        print(by_half(rho, lambda d: compare_values(d[col], d["theirs"], 0.6)).to_markdown(index=False))
        print("pass = 0 < rho < 0.6 (authors' list)")
        print(by_half(rho, lambda d: compare_values(d[col], d["theirs"], 0.6, low=0.0)).to_markdown(index=False))
    ex = rho["beta1_li_cell_at_r_connected"] == (rho["theirs"] * rho["n_li_cell"]).round()
    print(f"\nexact numerator (beta1_li_cell_at_r_connected == rho_auth x n): even {int(ex[rho['icsd'] % 2 == 0].sum())}/"
          f"{int((rho['icsd'] % 2 == 0).sum())}, odd {int(ex[rho['icsd'] % 2 == 1].sum())}/{int((rho['icsd'] % 2 == 1).sum())}")
    print("beta1_at_r_connected (sicnb, site-averaged, cell-independent) vs rho_auth x n")
    rho["num_theirs"] = num
    print(by_half(rho, lambda d: compare_values(d["beta1_at_r_connected"], d["num_theirs"], np.inf)).to_markdown(index=False))

    print("\n## 2. The 22 clustering features (authors' barcode2feature.py layout) against target_339_feature.csv\n")
    per_feat, per_struct = feature_agreement(with_icsd, auth["features"])
    print(per_feat.round(3).to_markdown(index=False))
    print()
    print(per_struct.round(3).to_markdown(index=False))

    print("\n## 3. Funnel on OBELiX training entries (sicnb values)\n")
    print(funnel_fractions(t, auth).to_markdown(index=False))

    print("\n## 4. Affinity propagation against the authors' clusters\n")
    print(ap_comparison(with_icsd, auth).to_markdown(index=False))
    ours, theirs = enrichment_tables(t, auth)
    print("\nKnown-conductor (sigma > 1e-4 S/cm) enrichment per cluster, sicnb AP (unscaled, MTL features) on the OBELiX entries "
          f"passing both filters (sicnb values, rho < 0.6): {len(ours)} clusters, {int(ours['has_known'].sum())} with a known conductor")
    print(ours.round(3).to_markdown(index=False))
    print(f"\nThe authors' own clusters, on the OBELiX entries they clustered: {len(theirs)} clusters, "
          f"{int(theirs['has_known'].sum())} with a known conductor")
    print(theirs.round(3).to_markdown(index=False))

    if args.overhead:
        print("\n## Cost of the 22 MTL statistics inside topology_features (R = 10 Å, same run)\n")
        print(mtl_overhead(recs).to_markdown(index=False))

    if args.candidates:
        print("\n## 5. Other readings of eq. 2 (numerator = rho x n), scored on both halves\n")
        ids = list(rho.index)
        r_auth = auth["r_connected"]["avg_connect_v"].to_dict()
        cand = candidate_numerators(recs, ids, r_auth).set_index("id")
        cand["num_theirs"] = rho.loc[cand.index, "num_theirs"]
        rows = []
        for col in [c for c in cand.columns if c not in ("icsd", "n", "num_theirs")]:
            for half, sel in (("even", cand["icsd"] % 2 == 0), ("odd", cand["icsd"] % 2 == 1)):
                d = cand[sel]
                rows.append({"reading": col, "half": half, "n": len(d),
                             "spearman(rho)": round(_spearman(d[col] / d["n"], d["num_theirs"] / d["n"]), 3),
                             "exact numerator": int((np.abs(d[col] - d["num_theirs"]) < 1e-6).sum())})
        print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
