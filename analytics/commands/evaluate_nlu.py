"""``shopbot evaluate nlu``: 5-fold cross-validation of the NLU model (runs Rasa as a process)."""

from __future__ import annotations

from analytics.cli import add_json_flag, emit


def register(_sub, evaluate_sub) -> None:
    p = evaluate_sub.add_parser(
        "nlu",
        help="cross-validate intents, FAQ answers and entities (takes several minutes)",
        description="Runs `rasa test nlu --cross-validation` on data/ with config.yml and "
        "reports intent macro-F1, FAQ response-selection accuracy and entity F1.",
    )
    p.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    p.add_argument("--out", help="folder for Rasa's full reports (default: a temp folder)")
    add_json_flag(p)
    p.set_defaults(handler=_evaluate)


def _evaluate(args) -> int:
    from bot.nlu_eval import cross_validate

    result = cross_validate(folds=args.folds, out_dir=args.out)
    lines = [
        f"{args.folds}-fold cross-validation ({result['seconds']} s)",
        f"  intent macro-F1:      {result['intent_macro_f1']:.3f}",
        f"  intent accuracy:      {result['intent_accuracy']}",
    ]
    if "faq_accuracy" in result:
        lines.append(f"  FAQ selection acc.:   {result['faq_accuracy']}")
    if result.get("entity_macro_f1") is not None:
        lines.append(f"  entity macro-F1:      {result['entity_macro_f1']:.3f}")
    worst = sorted(result["per_intent_f1"].items(), key=lambda kv: kv[1])[:5]
    lines.append("  weakest intents:      " + ", ".join(f"{k} {v:.2f}" for k, v in worst))
    lines.append(f"  full reports in {result['reports']}")
    emit(args, result, "\n".join(lines))
    return 0
