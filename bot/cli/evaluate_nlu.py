"""``shopbot evaluate nlu``: k-fold cross-validation of the NLU model (runs Rasa as processes), or
with ``--real`` the trained model on the real-wording set."""

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
    p.add_argument("--out", help="folder for the reports (default: a temp folder)")
    p.add_argument(
        "--real",
        action="store_true",
        help="instead: parse the real-wording set (tests/rasa/nlu_real_wording.yml) with the "
        "trained model and report right / fallback / confidently wrong / out-of-scope declined / "
        "FAQ accuracy for customers and staff",
    )
    p.add_argument(
        "--model",
        help="with --real: the trained model (.tar.gz) to use (default: the project's model, "
        "trained first if it is missing or stale)",
    )
    p.add_argument(
        "--set",
        dest="real_set",
        help="with --real: the Rasa NLU YAML file to score (default: the real-wording set)",
    )
    add_json_flag(p)
    p.set_defaults(handler=_evaluate)


def _evaluate(args) -> int:
    if args.real:
        return _evaluate_real(args)
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


def _evaluate_real(args) -> int:
    import json
    import tempfile
    from pathlib import Path

    from bot.nlu.real_wording import REAL_WORDING_SET, evaluate_real_wording
    from bot.server.rasa_model import ensure_model
    from shop.errors import ShopbotError

    model = Path(args.model) if args.model else ensure_model()[0]
    real_set = Path(args.real_set) if args.real_set else REAL_WORDING_SET
    for path, what in ((model, "model"), (real_set, "message set")):
        if not path.is_file():
            raise ShopbotError(f"no {what} at {path}")
    report, details = evaluate_real_wording(model, real_set)
    out = Path(args.out or tempfile.mkdtemp(prefix="shopbot-real-wording-"))
    out.mkdir(parents=True, exist_ok=True)
    report["report"] = str(out / "real_wording.json")
    (out / "real_wording.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    (out / "real_wording_messages.json").write_text(
        json.dumps(details, indent=2, ensure_ascii=False)
    )
    emit(args, report, _real_text(report))
    return 0


def _pct(value) -> str:
    return "  n/a" if value is None else f"{value:5.1%}"


def _real_text(report: dict) -> str:
    from pathlib import Path

    name = Path(report.get("real_wording_set") or "the set").name
    lines = [f"{report['messages']} messages of {name}, model {report['model']}"]
    for channel, r in report["channels"].items():
        lines += [
            f"{channel} ({r['messages']} messages, {r['in_scope']} in scope):",
            f"  right {_pct(r['right'])}   fallback {_pct(r['fallback'])}   "
            f"confidently wrong {_pct(r['confidently_wrong'])}",
        ]
        if r["out_of_scope"]:
            lines.append(
                f"  out of scope declined {_pct(r['out_of_scope_declined'])} "
                f"({r['out_of_scope']} messages)"
            )
        if r["faq"]:
            lines.append(f"  FAQ answered right {_pct(r['faq_accuracy'])} ({r['faq']} messages)")
        lines.append(
            "  intent                         n  right  fallback  wrong  (mostly wrong as)"
        )
        for intent, row in r["per_intent"].items():
            right = row.get("right", row.get("declined", 0))
            wrong_as = ", ".join(f"{k} {v}" for k, v in row["wrong_as"].items())
            lines.append(
                f"  {intent:<28} {row['n']:>3}  {right:>5}  {row.get('fallback', 0):>8}  "
                f"{row.get('wrong', 0):>5}  {wrong_as}"
            )
    lines.append(f"report: {report['report']} (per message: real_wording_messages.json)")
    return "\n".join(lines)
