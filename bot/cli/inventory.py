"""``shopbot evaluate inventory``: the reorder policy replayed on every series."""

from __future__ import annotations

from bot.cli.forecast import (
    _int_in,
    _pct,
    _service_level,
    add_freq_flags,
    parse_day,
    resolve_freq,
)
from bot.cli.main import add_json_flag, emit
from shop.store import get_engine


def register(sub, evaluate_sub) -> None:
    e = evaluate_sub.add_parser(
        "inventory",
        help="replay the reorder advice on each series: fill rate, stock-outs and stock held, "
        "against the same policy fed by seasonal naive",
        description="For every product with enough history, replay the last --weeks weeks: "
        "at each review (every --review-days) order up to the service-level quantile of the "
        "demand over lead time + review period, from shopbot's forecast (method chosen and "
        "intervals calibrated on the backtests before the replay) and, separately, from "
        "seasonal naive; orders arrive after the lead time; unmet demand is lost. Reports fill "
        "rate, cycle service level, stock-out days and average stock held. Nothing is stored.",
    )
    e.add_argument("--service-level", type=_service_level, default=0.95, metavar="P",
                   help="target chance of no stock-out in a review cycle (default 0.95)")  # fmt: skip
    e.add_argument("--weeks", type=_int_in("--weeks", 2, 104), default=12, metavar="N",
                   help="weeks replayed at the end of each series (default 12)")  # fmt: skip
    e.add_argument("--review-days", type=_int_in("--review-days", 1, 91), default=7,
                   metavar="DAYS", help="days between orders (default 7)")  # fmt: skip
    e.add_argument("--lead-days", type=_int_in("--lead-days", 0, 365), metavar="DAYS",
                   help="one lead time for every series (default: each product's; 7 days "
                   "where unknown, e.g. with --demand ratings)")  # fmt: skip
    e.add_argument("--min-units", type=float, default=0.0, metavar="N",
                   help="leave out series with less demand in the history window")  # fmt: skip
    e.add_argument("--until", type=parse_day, metavar="YYYY-MM-DD",
                   help="replay the weeks before this day, as if the data ended there")  # fmt: skip
    e.add_argument("--jobs", type=_int_in("--jobs", 1, 64), default=2, metavar="N")
    e.add_argument("--per-sku", action="store_true", help="also print one line per SKU")
    add_freq_flags(e)
    add_json_flag(e)
    e.set_defaults(handler=_evaluate)


def _row(name: str, r: dict) -> str:
    return (
        f"  {name:<16} {_pct(r['fill_rate']):>9} {_pct(r['cycle_service']):>13} "
        f"{r['stockout_steps']:>9} {r['avg_on_hand']:>11.1f} "
        f"{_pct(r['series_reaching_target_fill_rate']):>16}"
    )


def format_evaluation(result: dict, per_sku: bool = False) -> str:
    """The replay as a readable report."""
    rp = result["replay"]
    unit = "weeks" if result["freq"] == "W" else "days"
    lines = [
        f"Inventory replay ({result['source']} as demand): {result['series']} series, the "
        f"{rp['weeks']} weeks to {result['data_end'][:10]}, review every {rp['review_steps']} "
        f"{unit if rp['review_steps'] > 1 else unit[:-1]}, lead time "
        f"{rp['lead_days']}{' days' if isinstance(rp['lead_days'], int) else ''}, target "
        f"service level {result['service_level']:.0%} ({result['seconds']} s)",
        f"methods chosen: {result['methods']}",
    ]
    head = (
        f"  {'policy fed by':<16} {'fill rate':>9} {'cycle service':>13} {'stock-out':>9} "
        f"{'avg on hand':>11} {'series ≥ target':>16}"
    )
    for title, block in [("all series", result["overall"]), *result["by_kind"].items()]:
        c = block["comparison"]
        lines += [
            "",
            f"{title}:",
            head,
            _row("shopbot", block["shopbot"]),
            _row("seasonal naive", block["seasonal_naive"]),
            f"  shopbot holds {c['stock_ratio']:.2f}× the naive policy's stock; less stock on "
            f"{_pct(c['series_with_less_stock_than_naive'])} of series, at the target fill rate "
            f"with less stock on {_pct(c['series_at_target_with_less_stock_than_naive'])}",
        ]
    if per_sku:
        lines += ["", f"  {'SKU':<12} {'method':<15} fill shopbot / naive   stock shopbot / naive"]
        for s in result["per_sku"]:
            a, b = s["shopbot"], s["seasonal_naive"]
            lines.append(
                f"  {s['sku']:<12} {s['method']:<15} {_pct(a['fill_rate']):>5} / "
                f"{_pct(b['fill_rate']):<5}          {a['avg_on_hand']:>7.1f} / {b['avg_on_hand']:.1f}"
            )
    return "\n".join(lines)


def _evaluate(args) -> int:
    from analytics.inventory_evaluation import evaluate_inventory

    engine = get_engine()
    result = evaluate_inventory(
        engine,
        service_level=args.service_level,
        replay_weeks=args.weeks,
        review_days=args.review_days,
        lead_days=args.lead_days,
        freq=resolve_freq(engine, args),
        source=args.demand,
        min_units=args.min_units,
        n_jobs=args.jobs,
        until=args.until,
    )
    emit(args, result, format_evaluation(result, per_sku=args.per_sku))
    return 0
