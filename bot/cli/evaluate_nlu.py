"""``shopbot evaluate nlu``: k-fold cross-validation of the NLU model (runs Rasa as processes)."""

from __future__ import annotations

from bot.cli.main import add_json_flag, emit


def register(_sub, evaluate_sub) -> None:
    p = evaluate_sub.add_parser(
        "nlu",
        help="cross-validate intents, FAQ answers and entities (takes several minutes)",
        description="Splits data/ into stratified folds from a fixed seed, trains and tests each "
        "fold with `rasa train nlu` / `rasa test nlu` (several at a time) and reports intent "
        "macro-F1, FAQ response-selection accuracy and entity F1 over all folds.",
    )
    p.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    p.add_argument(
        "--jobs", type=int, default=2, help="folds trained at once, sharing the cores (default 2)"
    )
    p.add_argument("--seed", type=int, default=42, help="seed of the fold split (default 42)")
    p.add_argument("--config", default="config.yml", help="Rasa config (default config.yml)")
    p.add_argument("--out", help="folder for Rasa's full reports (default: a temp folder)")
    add_json_flag(p)
    p.set_defaults(handler=_evaluate)


def _evaluate(args) -> int:
    from bot.nlu.evaluation import cross_validate

    result = cross_validate(
        folds=args.folds, out_dir=args.out, jobs=args.jobs, seed=args.seed, config=args.config
    )
    lines = [
        f"{args.folds}-fold cross-validation, seed {args.seed}, {result['examples']} examples "
        f"({result['seconds']} s)",
        f"  intent macro-F1:      {result['intent_macro_f1']:.3f}",
        f"  intent accuracy:      {result['intent_accuracy']:.3f}",
    ]
    if "wrong_and_confident" in result:
        lines.append(
            f"  above the fallback threshold {result['fallback_threshold']}: "
            f"{result['wrong_and_confident']:.1%} of messages get a wrong intent; "
            f"below it: {result['right_but_unsure']:.1%} with the right one"
        )
    if "faq_accuracy" in result:
        lines.append(f"  FAQ selection acc.:   {result['faq_accuracy']:.3f}")
    if "entity_macro_f1_mean_of_folds" in result:
        lines.append(
            f"  entity macro-F1:      {result['entity_macro_f1_mean_of_folds']:.3f} (mean of folds)"
        )
    worst = sorted(result["per_intent_f1"].items(), key=lambda kv: kv[1])[:5]
    lines.append("  weakest intents:      " + ", ".join(f"{k} {v:.2f}" for k, v in worst))
    top = ", ".join(f"{t} -> {g} {n}" for t, g, n in result["confusions"][:5])
    lines.append(f"  main confusions:      {top}")
    lines.append(f"  full reports in {result['reports']}")
    emit(args, result, "\n".join(lines))
    return 0
