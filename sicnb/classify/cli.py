"""``sicnb classify train`` and ``sicnb classify predict``."""
from __future__ import annotations

import json
import shlex
import sys

__all__ = ["register"]


def _train_tabular(args) -> int:
    from sicnb.classify.tabular import train_tabular
    from sicnb.cli_common import cache_arg
    from sicnb.data import load_many

    ds = load_many(args.data, mobile_ion=args.mobile_ion, data_dir=args.data_dir)
    print(f"sicnb: {ds!r}", file=sys.stderr)
    model, card = train_tabular(ds, blocks=args.blocks, n_estimators=args.trees, min_samples_leaf=args.min_samples_leaf,
                               random_state=args.seed, source="+".join(args.data), cache_dir=cache_arg(args),
                               n_workers=args.workers, classifier=args.classifier, regressor=args.regressor, C=args.C)
    _save_with_card(args, model, card)
    print(f"sicnb: saved {args.classifier}/{args.regressor} model ({'+'.join(args.blocks)}) on {card['n_train']} entries to {args.out}", file=sys.stderr)
    return 0


def _save_with_card(args, model, card: dict) -> None:
    """Complete the model card (command, sicnb version, ``--validation`` JSON) and save the model to ``--out``."""
    from pathlib import Path

    from sicnb import __version__

    card["command"] = _command()
    card["sicnb_version"] = __version__
    if args.validation:
        card["validation"] = json.loads(Path(args.validation).read_text())
    model.save(args.out, card=card)


def _train_full(args) -> int:
    from pathlib import Path

    from sicnb.classify.full import card_markdown, train_full

    model, card = train_full(args.data_dir, blocks=args.blocks, classifier=args.classifier, regressor=args.regressor,
                             n_estimators=args.trees, min_samples_leaf=args.min_samples_leaf, C=args.C, random_state=args.seed)
    _save_with_card(args, model, card)
    (Path(args.out) / "README.md").write_text(card_markdown(card))
    print(f"sicnb: saved the full {args.classifier}/{args.regressor} composition model ({'+'.join(args.blocks)}) on "
          f"{card['n_train']} compositions to {args.out}", file=sys.stderr)
    return 0


def _command() -> str:
    """The ``sicnb classify train ...`` command line as run (for the model card)."""
    return "sicnb classify " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("train"):]) if "train" in sys.argv else ""


def _train(args) -> int:
    if args.kind == "full":
        return _train_full(args)
    if not args.data:
        print("sicnb: --data is required for --kind tabular/atomsets (e.g. --data obelix:train)", file=sys.stderr)
        return 2
    if args.kind == "tabular":
        return _train_tabular(args)
    from sicnb import __version__
    from sicnb.classify.screening import train_ensemble
    from sicnb.classify.validation import cross_validate, kfold_splits, summarize_cv
    from sicnb.classify.atomsets import AtomSetsClassifier
    from sicnb.cli_common import cache_arg
    from sicnb.data import load_many

    ds = load_many(args.data, mobile_ion=args.mobile_ion, data_dir=args.data_dir)
    print(f"sicnb: {ds!r}", file=sys.stderr)
    cfg = {"hidden": tuple(args.hidden), "dense": tuple(args.dense), "dropout": args.dropout, "l2": args.l2,
           "lr": args.lr, "epochs": args.epochs, "batch_size": args.batch_size, "set2set_steps": args.set2set_steps}
    ens, fs, labels = train_ensemble(ds, level=args.level, representation=args.representation, n_models=args.n_models,
                                     configs=[cfg], random_state=args.seed, mobile_ion=args.mobile_ion,
                                     n_workers=args.workers, cache_dir=cache_arg(args))
    ids = fs.ids
    card = {
        "command": _command(),
        "data": list(args.data), "n_train": len(ids), "positive_fraction": float(labels.loc[ids, "y"].mean()),
        "label": "superionic = sigma_exp >= 1e-4 S/cm (log10_sigma >= -4)", "sicnb_version": __version__,
        "config": cfg, "n_models": args.n_models, "seed": args.seed,
        "training_ids_sha": __import__("hashlib").sha256("\n".join(sorted(ids)).encode()).hexdigest(),
    }
    if args.cv_folds:
        X, y = fs.X(ids), labels.loc[ids, "y"].to_numpy()
        cv = cross_validate(X, y, lambda: AtomSetsClassifier(**cfg, random_state=args.seed), kfold_splits(len(y), args.cv_folds, args.seed))
        card["kfold_cv"] = json.loads(summarize_cv(cv).to_json(orient="records"))
    ens.save(args.out, card=card)
    print(f"sicnb: saved {len(ens.members_)}-member ensemble to {args.out}", file=sys.stderr)
    return 0


def _predict(args) -> int:
    from sicnb.classify.screening import predict
    from sicnb.cli_common import cache_arg, load_inputs, write_table

    import warnings

    from sicnb.classify.full import FULL_MODEL_WARNING, TrainingOverlapWarning

    if args.model == "full":
        print(FULL_MODEL_WARNING, file=sys.stderr)
    ds = load_inputs(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingOverlapWarning)  # said once above, on one line
        table = predict(ds, model=args.model, n_workers=args.workers, cache_dir=cache_arg(args))
    write_table(table[["formula", "p_si", "p_si_std", "d_training", "in_training", "log10_sigma_pred", "log10_sigma_lo",
                       "log10_sigma_hi", "is_disordered", "error"]], args.out)
    return 0


def register(subparsers) -> None:
    from sicnb.cli_common import add_input_args

    p = subparsers.add_parser("classify", help="superionic classifier + log10 sigma (McHaffie et al. 2025; LOCO-selected default): train / predict")
    sub = p.add_subparsers(dest="classify_command", metavar="ACTION")
    sub.required = True

    t = sub.add_parser("train", help="train an ensemble on labelled data (e.g. obelix:train) and save a model folder")
    t.add_argument("--data", action="append", default=None, help="labelled source(s), e.g. obelix:train (not for --kind full)")
    t.add_argument("--out", "-o", required=True, help="model folder to write")
    t.add_argument("--kind", default="tabular", choices=["tabular", "atomsets", "full"],
                   help="tabular: P_SI classifier + log10 sigma regressor (the LOCO-selected default: logistic regression on "
                        "the Sendek features + random-forest log10 sigma); "
                        "atomsets: the paper's AtomSets ensemble; full: composition model on every open label (OBELiX train + "
                        "LASKOWSKI2023 + Liverpool Ionics, deduplicated by reduced composition; never for benchmarks)")
    t.add_argument("--blocks", nargs="+", default=["sendek"], help="feature blocks (sendek, site_pool, magpie, comp_pool)")
    t.add_argument("--trees", type=int, default=300, help="tabular rf: trees per forest")
    t.add_argument("--min-samples-leaf", type=int, default=1, help="tabular rf: min samples per leaf")
    t.add_argument("--classifier", default="logistic", choices=["logistic", "rf"], help="tabular: P_SI model")
    t.add_argument("--regressor", default="rf", choices=["rf", "ridge"], help="tabular: log10 sigma model")
    t.add_argument("--C", type=float, default=1.0, help="logistic regularisation strength")
    t.add_argument("--validation", default=None, help="tabular: JSON of validation metrics (bench_classify.py ship --out) to store in the card")
    t.add_argument("--n-models", type=int, default=10, help="atomsets: ensemble members (paper: 100)")
    t.add_argument("--level", type=int, default=0, choices=[0, 1, 2, 3], help="atom features V0..V3")
    t.add_argument("--representation", default="CAMN", choices=["CAMN", "CAN", "CAMNS", "CANS"])
    t.add_argument("--hidden", type=int, nargs="+", default=[32, 32])
    t.add_argument("--dense", type=int, nargs="+", default=[32])
    t.add_argument("--set2set-steps", type=int, default=3)
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--l2", type=float, default=1e-4)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--epochs", type=int, default=100)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--cv-folds", type=int, default=0, help="also record k-fold CV metrics of one member config in the card")
    t.add_argument("--mobile-ion", default="Li")
    t.add_argument("--workers", type=int, default=1)
    t.add_argument("--cache-dir", default=None)
    t.add_argument("--data-dir", default=None)
    t.set_defaults(func=_train)

    q = sub.add_parser("predict", help="P_SI (± std), log10 sigma with interval, d_training and in_training for every input structure")
    add_input_args(q)
    q.add_argument("--model", default=None, help="'default' (shipped, LOCO-selected; OBELiX train only), 'atomsets' "
                                                 "(the paper's AtomSets ensemble), 'full' (composition model on every open "
                                                 "label: more data, never for benchmark claims) or a model folder")
    q.set_defaults(func=_predict)
