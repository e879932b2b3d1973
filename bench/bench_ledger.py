"""Ledger evidence on the OBELiX training split (issue 22): every method's repeated-LOCO AUC-PR / ROC-AUC, the
equal-weight consensus and the learned (stacked) consensus, evaluated nested on the same folds.

    python bench/bench_ledger.py evidence --seeds 0 1 2 --n-boot 1000           # the comparison (prints tables)
    python bench/bench_ledger.py ship --seeds 0 1 2 --n-boot 1000               # + writes sicnb/ledger/learned_consensus/
    python bench/bench_ledger.py pes-cost --n 4                                 # PES seconds per structure (<= 24 sites)
    python bench/bench_ledger.py subsets                                        # post-hoc method subsets (not evidence)

Label-free methods (topology, bvse, htvs, optionally pes) run through the ledger's adapters (`build_ledger`, cached
in $SICNB_CACHE_DIR); supervised methods (classify, cluster) are refitted per LOCO fold (sicnb.ledger.oof).
Set SICNB_DATA_DIR (OBELiX) and SICNB_MATGL_MODELS (HTVS/PES potentials).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path


def _data(args):
    from sicnb.ledger.labels import known_conductor_labels
    from sicnb.ledger.oof import labelled_training_set, loco_folds

    ds, labels = labelled_training_set("obelix:train")
    cache = os.environ.get("SICNB_CACHE_DIR")
    folds = loco_folds(labels["composition"], args.seeds, cache_path=Path(cache) / "ledger_loco_folds.json" if cache else None)
    ledger_labels = known_conductor_labels(ds, reference=None, use_known_table=False)
    return ds, labels, folds, ledger_labels, cache


def _unsupervised(ds, ledger_labels, cache, methods, workers, pes_all: bool, timeout: float | None = None,
                  cache_only: tuple = ()):
    """The label-free methods through build_ledger; methods in ``cache_only`` are read from the pmap cache (structures
    not in it get the reason "NotCached: ...") instead of being computed — for runs cut short by a time budget."""
    from sicnb.ledger import build_ledger, get_method
    from sicnb.ledger.methods import cached_rows

    params = {"pes": {"top": 100000, "max_atoms": 24}} if pes_all else {}  # every structure with <= 24 sites
    tables = {}
    for m in cache_only:
        if m == "pes":
            params.setdefault("pes", {})["cache_only"] = True
        elif m == "bvse":
            from sicnb.bvse import bvse_barriers

            tab = cached_rows(bvse_barriers, ds.with_structures(), dict(get_method("bvse").defaults), cache)
            tab["error"] = tab["error"].where(~tab["error"].str.startswith("NotCached"),
                                              "NotCached: BVSE not computed within this run's time budget (cells processed smallest first)")
            tables["bvse"] = tab
        else:
            raise SystemExit(f"--cache-only supports bvse and pes, not {m}")
    led = build_ledger(ds, methods=methods, params={k: v for k, v in params.items() if k in methods}, labels=ledger_labels,
                       tables=tables, cache_dir=cache, n_workers=workers, timeout=timeout, progress=False, consensus="equal")
    return led


def _evidence(args, ship: bool) -> int:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    from sicnb.ledger.consensus import LEARNED_CONSENSUS_DIR, LearnedConsensus, _supervised_columns, loco_evidence
    from sicnb.ledger.oof import ClassifyScorer, ClusterScorer

    t = time.perf_counter()
    ds, labels, folds, ledger_labels, cache = _data(args)
    y = labels["y"].astype(int)
    print(f"OBELiX train: {len(y)} labelled structures, prevalence {y.mean():.3f}; LOCO clusters per seed "
          f"{ {s: int(f.nunique()) for s, f in folds.items()} } [{time.perf_counter() - t:.0f} s]", flush=True)
    evidence_only = [m for m in args.evidence_only if m not in args.unsupervised]
    label_free = [*args.unsupervised, *evidence_only]
    led = _unsupervised(ds, ledger_labels, cache, label_free, args.workers, "pes" in label_free, args.timeout,
                        tuple(args.cache_only))
    unsup = led.scores(methods=label_free).reindex(y.index)
    for m in label_free:
        err = led.table[f"{m}.error"]
        print(f"  {m}: {int(unsup[m].notna().sum())}/{len(y)} scored; reasons: "
              f"{err[err.ne('')].str.slice(0, 70).value_counts().head(4).to_dict()}", flush=True)
    print(f"label-free methods [{time.perf_counter() - t:.0f} s]", flush=True)
    sup = {"classify": ClassifyScorer(ds, labels, cache_dir=cache), "cluster": ClusterScorer(ds, labels, cache_dir=cache)}
    print(f"supervised scorers ready (cluster depth {sup['cluster'].depth}) [{time.perf_counter() - t:.0f} s]", flush=True)
    n_feat = 2 * (len(args.unsupervised) + len(sup))
    mono = lambda: HistGradientBoostingClassifier(max_depth=2, max_iter=100, learning_rate=0.05, min_samples_leaf=10,  # noqa: E731
                                                  monotonic_cst=[1 if i % 2 == 0 else 0 for i in range(n_feat)], random_state=0)
    ev = loco_evidence(unsup, sup, y, folds, methods=[*args.unsupervised, *sup], C=args.C, n_boot=args.n_boot, inputs=args.inputs,
                       also_inputs=tuple(args.also_inputs), extra_learners={"monotone GB": mono} if args.gb else None,
                       log=lambda s: print(f"  {s} [{time.perf_counter() - t:.0f} s]", flush=True))
    cov = ev.coverage.groupby("method").agg(n_scored=("n_scored", "mean"), n=("n", "first"))
    m = ev.metrics.sort_values("auc_pr", ascending=False)
    singles = m[m["model"].str.startswith("single: ")]
    best = singles.iloc[0]["model"]
    from sicnb.ledger.consensus import evidence_table

    m = evidence_table(ev.oof, n_boot=args.n_boot, reference=best).sort_values("auc_pr", ascending=False)
    pd.set_option("display.width", 200)
    print(f"\nrepeated LOCO, seeds {args.seeds}: pooled out-of-fold metrics (mean over seeds [95 % bootstrap CI over "
          f"structures]); prevalence {y.mean():.3f}")
    fmt = lambda r, k: f"{r[k]:.3f} [{r[k + '_lo']:.3f}, {r[k + '_hi']:.3f}]"  # noqa: E731
    table = pd.DataFrame({"model": m["model"], "AUC-PR": [fmt(r, "auc_pr") for _, r in m.iterrows()],
                          "ROC-AUC": [fmt(r, "roc_auc") for _, r in m.iterrows()],
                          f"AUC-PR − {best}": [("" if not np.isfinite(r.get(f"auc_pr_minus_{best}", np.nan)) else
                                                 f"{r[f'auc_pr_minus_{best}']:+.3f} [{r[f'auc_pr_minus_{best}_lo']:+.3f}, "
                                                 f"{r[f'auc_pr_minus_{best}_hi']:+.3f}]") for _, r in m.iterrows()],
                          "no better than chance": m["no_better_than_chance"]})
    print(table.to_markdown(index=False))
    print("\ncoverage (structures scored, mean over seeds for the supervised ones):")
    print(cov.to_markdown())
    w = ev.weights.groupby("feature")["coef"].agg(["mean", "std"])
    print("\nlearned weights across outer folds (mean ± std):")
    print(w.round(3).to_markdown())
    gates = Counter(", ".join(g["methods"]) or "(none: every method)" for g in ev.settings["gated_methods_per_fold"])
    print("\nevidence gate (methods better than chance on each outer fold's training clusters): folds per kept set")
    for kept, n in gates.most_common():
        print(f"  {n:>3} folds: {kept}")
    learned = m.set_index("model").loc["learned consensus (logistic)"]
    target = m.set_index("model").loc[best, "auc_pr"] + 0.05
    print(f"\nacceptance: learned {learned['auc_pr']:.3f} vs best single ({best}) + 0.05 = {target:.3f} → "
          f"{'MET' if learned['auc_pr'] >= target else 'NOT met'}")
    for name, r in m.set_index("model").iterrows():
        if name.startswith("learned consensus (") and name != "learned consensus (logistic)":
            print(f"  {name}: {r['auc_pr']:.3f} → {'meets' if r['auc_pr'] >= target else 'does not meet'} the target")
    if args.out:
        ev.oof.to_csv(args.out, index=False)
    if ship:
        # final weights: fitted on every labelled structure, supervised inputs out-of-fold on the seed-0 LOCO folds
        s0 = sorted(folds)[0]
        supcols, _ = _supervised_columns(sup, folds[s0].reindex(y.index))
        S = pd.concat([unsup, supcols], axis=1)
        model = LearnedConsensus([*args.unsupervised, *sup], C=args.C, inputs=args.inputs).fit(S, y)
        model.card = {
            "data": f"OBELiX training split, {len(y)} labelled structures with a CIF containing Li (sicnb.classify.training_set); "
                    f"label y = sigma > 1e-4 S/cm; prevalence {y.mean():.3f}; the OBELiX test split is never used",
            "inputs": _INPUT_TEXT[args.inputs]
                      + " and a missingness indicator; classify and cluster inputs are out-of-fold (LOCO seed "
                      f"{s0}: model fitted without the structure's cluster)",
            "folds": f"repeated leave-one-cluster-out, LOCO clusters of sicnb.classify.validation.loco_clusters (ElMD → UMAP "
                     f"random_state=seed → DBSCAN), seeds {list(folds)}, clusters per seed "
                     f"{ {int(s): int(f.nunique()) for s, f in folds.items()} }; the stacker's evaluation is nested",
            "metrics": json.loads(m.round(4).to_json(orient="records")),
            "best_single_method": best,
            "evidence_only": evidence_only,
            "evidence_gate_folds": dict(gates.most_common()),
            "acceptance_target_met": bool(learned["auc_pr"] >= target),
            "command": "python bench/bench_ledger.py " + " ".join(sys.argv[1:]),
            "method_params": {r["name"]: json.loads(r["params"]) for _, r in led.methods.iterrows()}
                             | {"classify": sup["classify"].params, "cluster": sup["cluster"].params},
        }
        d = LEARNED_CONSENSUS_DIR
        model.save(d / "weights.json")
        m.round(4).to_csv(d / "evidence.csv", index=False)
        wide = ev.oof.pivot_table(index=["seed", "id", "y"], columns="model", values="score").reset_index()
        wide.round(4).to_csv(d / "oof_scores.csv", index=False)
        ev.coverage.to_csv(d / "coverage.csv", index=False)
        _write_card(d, model, m, cov, best, target, learned)
        print(f"wrote {d}/weights.json, evidence.csv, oof_scores.csv, coverage.csv, README.md")
    print(f"\nwall time {time.perf_counter() - t:.0f} s")
    return 0


_INPUT_TEXT = {
    "zscore": "per method: oriented score standardised with the training mean/std (0 when missing)",
    "percentile": "per method: percentile rank in the pool among the structures it scored (0.5 when missing)",
    "logit": "classify: log-odds of its out-of-fold P_SI minus the training mean log-odds; every other method: oriented "
             "score standardised with the training mean/std (0 when missing)",
    "logit_offset": "classify: log-odds of its out-of-fold P_SI minus the training mean log-odds, entering at coefficient 1 (an "
                    "offset, not fitted); every other method: oriented score standardised with the training mean/std (0 when "
                    "missing), weights learned with L2",
}


def _write_card(d: Path, model, m, cov, best: str, target: float, learned) -> None:
    c = model.card
    value = {"zscore": "oriented score standardised with the training mean/std (`center`/`scale` in weights.json)",
             "logit_offset": "value feature (classify: log-odds of P_SI minus the training mean log-odds, coefficient fixed "
                             "to 1; the others: oriented score standardised with the training mean/std; `center`/`scale` in "
                             "weights.json)",
             "logit": "value feature (classify: log-odds of P_SI minus the training mean log-odds; the others: oriented "
                      "score standardised with the training mean/std; `center`/`scale` in weights.json)",
             "percentile": "percentile rank in the pool"}[model.inputs]
    lines = ["# Learned consensus of the candidate ledger (model card)", "",
             "Logistic regression (L2, C = %g) on each method's %s (missing: %s) and a missingness "
             "indicator per method; `consensus` = P(σ > 1e-4 S/cm). Used by `build_ledger(..., consensus=\"learned\")`; "
             "the default, `consensus=\"equal\"`, is the equal-weight mean percentile (normalised Borda)." % (
                 model.C, value, "0.5" if model.inputs == "percentile" else "0"), "",
             f"- **Data**: {c['data']}", f"- **Inputs**: {c['inputs']}", f"- **Folds**: {c['folds']}",
             f"- **Command**: `{c['command']}`",
             *([f"- **Evidence only**: {', '.join(c['evidence_only'])} — scored as single methods below (their rows are the "
                "ledger's evidence for them) but not inputs of the stacker or of the equal-weight consensus row; the row "
                "`equal-weight consensus (every method)` averages them too, as the ledger's default consensus does"]
               if c.get("evidence_only") else []),
             *([f"- **Evidence gate** (row `learned consensus (evidence-gated equal weights)`: per outer fold, the "
                "methods better than chance on the training clusters, averaged with equal weights): folds per kept set "
                + "; ".join(f"{k}: {v}" for k, v in c["evidence_gate_folds"].items())] if c.get("evidence_gate_folds") else []),
             "", "## Weights (log-odds per unit)", "",
             model.weights().round(3).to_markdown(index=False), f"\nintercept {model.intercept:.3f}", "",
             "## Repeated-LOCO evidence (pooled out-of-fold, mean over seeds, 95 % bootstrap CI)", "",
             m[["model", "auc_pr", "auc_pr_lo", "auc_pr_hi", "roc_auc", "roc_auc_lo", "roc_auc_hi", "prevalence",
                "no_better_than_chance"]].round(3).to_markdown(index=False), "",
             f"Acceptance (learned ≥ best single method `{best}` + 0.05 = {target:.3f}): learned {learned['auc_pr']:.3f} → "
             f"**{'met' if learned['auc_pr'] >= target else 'not met'}**.", "", "## Coverage on the training split", "",
             cov.to_markdown(), "",
             "Caveats: OBELiX training structures only (no independent test here); the classifier's shipped model was trained "
             "on all of them, so on this split only its out-of-fold scores are meaningful; methods scoring few structures "
             "act mostly through their missingness indicator, which encodes which structures a method *can* score "
             "(size, order), not their conductivity."]
    (d / "README.md").write_text("\n".join(lines) + "\n")


def _pes_cost(args) -> int:
    from sicnb.ledger.methods import PES_NOTEBOOK_PARAMS
    from sicnb.ledger.oof import labelled_training_set
    from sicnb.parallel import pmap
    from sicnb.pes import pes_descriptors

    ds, _ = labelled_training_set("obelix:train")
    small = sorted([r for r in ds if len(r.structure) <= args.max_atoms], key=lambda r: (len(r.structure), r.id))
    print(f"{len(small)} labelled structures with <= {args.max_atoms} sites ({sum(r.structure.is_ordered for r in small)} ordered)")
    pick = small[:: max(1, len(small) // args.n)][: args.n]
    for r in pick:
        t, c = time.perf_counter(), time.process_time()
        row = pmap(pes_descriptors, [r], dict(PES_NOTEBOOK_PARAMS), cache_dir=False, progress=False, timeout=args.timeout).iloc[0]
        print(f"{r.id} {len(r.structure)} sites ordered={r.structure.is_ordered}: wall {time.perf_counter() - t:.1f} s, "
              f"cpu {time.process_time() - c:.1f} s, Xi {row.get('Xi')}, error {str(row.get('error'))[:120]!r}", flush=True)
    return 0


def _subsets(args) -> int:
    """Equal-weight mean percentile of every subset of single methods, scored on the shipped out-of-fold table. The
    subset is chosen on the folds it is scored on, so the best row is selection, not evidence (the nested version is the
    evidence table's ``learned consensus (evidence-gated equal weights)`` row)."""
    import itertools

    import numpy as np

    from sicnb.ledger.consensus import _metrics, shipped_oof_scores

    oof = shipped_oof_scores()
    singles = [c for c in oof.columns if c.startswith("single: ")]
    rows = []
    for k in range(1, args.max_size + 1):
        for subset in itertools.combinations(singles, k):
            per_seed = [_metrics(g["y"].to_numpy(int), g[list(subset)].rank(pct=True).mean(axis=1).to_numpy(float))
                        for _, g in oof.groupby("seed")]
            rows.append((np.mean([m["auc_pr"] for m in per_seed]), np.mean([m["roc_auc"] for m in per_seed]),
                         " + ".join(c.removeprefix("single: ") for c in subset)))
    print("equal-weight mean percentile of method subsets on the shipped LOCO out-of-fold scores (mean over seeds);\n"
          "chosen on the folds they are scored on: selection, not evidence")
    for auc_pr, roc, name in sorted(rows, reverse=True)[: args.top]:
        print(f"  AUC-PR {auc_pr:.3f}  ROC-AUC {roc:.3f}  {name}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("evidence", "ship"):
        p = sub.add_parser(name)
        p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
        p.add_argument("--n-boot", type=int, default=1000)
        p.add_argument("--C", type=float, default=1.0, help="L2 strength of the logistic stacker (fixed a priori)")
        p.add_argument("--unsupervised", nargs="+", default=["topology", "bvse", "htvs"],
                       help="label-free methods that enter the stackers and the equal-weight consensus")
        p.add_argument("--evidence-only", nargs="*", default=[],
                       help="label-free methods scored as single methods only (their LOCO evidence row), kept out of the "
                            "stackers and the equal-weight consensus row (the 'every method' row averages them too)")
        p.add_argument("--workers", type=int, default=1)
        p.add_argument("--inputs", choices=("percentile", "zscore", "logit", "logit_offset"), default="percentile",
                       help="stacker inputs: pool percentile ranks, oriented scores standardised on the training rows, "
                            "logit (classify's P_SI as log-odds, the other methods standardised), or logit_offset (the same, "
                            "classify's log-odds at coefficient 1, only the others' weights learned)")
        p.add_argument("--also-inputs", nargs="*", default=[], choices=("percentile", "zscore", "logit", "logit_offset"),
                       help="further input choices of the logistic stacker evaluated on the same nested folds (reported only)")
        p.add_argument("--timeout", type=float, default=None,
                       help="per-structure time limit (s) of the label-free methods; a structure over it is recorded as not scored")
        p.add_argument("--cache-only", nargs="*", default=[], help="read these label-free methods (bvse, pes) from the cache only")
        p.add_argument("--gb", action="store_true", help="also evaluate monotone gradient boosting as a stacker")
        p.add_argument("--out", default=None, help="write the long out-of-fold table to this CSV")
    p = sub.add_parser("pes-cost")
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--max-atoms", type=int, default=24)
    p.add_argument("--timeout", type=float, default=600.0)
    p = sub.add_parser("subsets")
    p.add_argument("--max-size", type=int, default=3)
    p.add_argument("--top", type=int, default=10)
    args = ap.parse_args(argv)
    if args.cmd == "subsets":
        return _subsets(args)
    if args.cmd == "pes-cost":
        return _pes_cost(args)
    return _evidence(args, ship=args.cmd == "ship")


if __name__ == "__main__":
    sys.exit(main())
