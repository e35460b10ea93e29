"""``shopbot forecast``, ``shopbot reorder`` and ``shopbot evaluate forecast``."""

from __future__ import annotations

import argparse
import datetime as dt
import math

from bot.cli.main import add_json_flag, emit
from shop.store import get_engine


def _int_in(name: str, low: int, high: int):
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a whole number, got {value!r}"
            ) from None
        if not low <= n <= high:
            raise argparse.ArgumentTypeError(f"{name} must be between {low} and {high}, got {n}")
        return n

    return parse


def _service_level(value: str) -> float:
    try:
        level = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--service-level must be a number, got {value!r}"
        ) from None
    if not 0.5 <= level < 1.0:
        raise argparse.ArgumentTypeError(
            f"--service-level must be at least 0.5 and below 1 (e.g. 0.95), got {value}"
        )
    return level


def register(sub, evaluate_sub) -> None:
    p = sub.add_parser(
        "forecast",
        help="forecast daily demand for one SKU, with intervals and backtest errors",
        description="Forecast daily demand for one product from its order history. SARIMA "
        "(weekly seasonality, orders by AIC) and, with a year and more of history, the yearly "
        "analog (the same weeks a year ago x growth), or, for sparse sales, TSB/ADIDA are "
        "backtested against the seasonal-naive baseline (3 rolling origins x 28 days) and the "
        "best one is used. "
        "Prints the method, the backtest errors and the forecast with 80%% and 95%% intervals.",
    )
    p.add_argument("sku", metavar="SKU", help="product code, e.g. CLO-0042")
    p.add_argument(
        "--horizon",
        type=_int_in("--horizon", 1, 366),
        default=28,
        metavar="DAYS",
        help="days to forecast (default: 28)",
    )
    p.add_argument(
        "--weekly",
        action="store_true",
        help="show weekly totals (with the interval of each week's total) instead of days",
    )
    add_freq_flags(p)
    add_json_flag(p)
    p.set_defaults(handler=_forecast)

    r = sub.add_parser(
        "reorder",
        help="reorder advice from the latest forecasts, most urgent first",
        description="Compute reorder points (lead-time demand + safety stock for the service "
        "level), order quantities, days of cover and expected stock-out dates from the latest "
        "stored forecasts and the current stock; store them as a reorder run and list what to "
        "reorder now, most urgent first. Needs forecasts: run `shopbot train` first.",
    )
    r.add_argument(
        "--service-level",
        type=_service_level,
        default=0.95,
        metavar="P",
        help="chance of not running out during a lead time (default: 0.95)",
    )
    r.add_argument(
        "--review-days",
        type=_int_in("--review-days", 0, 365),
        default=7,
        metavar="DAYS",
        help="days until the next order review; orders cover lead time + this (default: 7)",
    )
    r.add_argument("--all", action="store_true", help="list every product, not only reorders")
    add_json_flag(r)
    r.set_defaults(handler=_reorder)

    e = evaluate_sub.add_parser(
        "forecast",
        help="backtest SARIMA, TSB and seasonal naive on every SKU",
        description="Rolling-origin backtests on every active product with sales (nothing is "
        "stored): MASE, RMSSE, scaled pinball loss, sMAPE and 80%%/95%% interval coverage per "
        "method, how often the model beats the seasonal-naive baseline, and the coverage of "
        "daily, weekly and whole-window totals before and after calibration (levels learned "
        "on the older origins, coverage measured on the newest), beside the old practice of "
        "adding daily bounds up.",
    )
    e.add_argument("--origins", type=_int_in("--origins", 1, 12), default=3, metavar="N")
    e.add_argument(
        "--test-days",
        type=_int_in("--test-days", 1, 91),
        metavar="STEPS",
        help="days (weeks with --freq W) per origin (default 28 days, 4 weeks)",
    )
    e.add_argument(
        "--min-units",
        type=float,
        default=0.0,
        metavar="N",
        help="leave out series with less demand than this in the history window",
    )
    e.add_argument("--until", type=parse_day, metavar="YYYY-MM-DD",
                   help="backtest as if the data ended on this day")  # fmt: skip
    add_freq_flags(e, auto=False)
    e.add_argument("--jobs", type=_int_in("--jobs", 1, 64), default=2, metavar="N")
    e.add_argument(
        "--candidates-only",
        action="store_true",
        help="backtest only each series' two candidates, as a forecast run does (faster)",
    )
    e.add_argument("--per-sku", action="store_true", help="also print one line per SKU")
    add_json_flag(e)
    e.set_defaults(handler=_evaluate)


def add_freq_flags(parser, auto: bool = True) -> None:
    """--freq and --demand, shared by the forecasting and inventory commands."""
    parser.add_argument(
        "--freq",
        choices=("auto", "D", "W") if auto else ("D", "W"),
        default="auto" if auto else "D",
        help="daily (D) or weekly (W) steps"
        + ("; auto: weekly when the shop's data is (detected)" if auto else " (default D)"),
    )
    parser.add_argument(
        "--demand",
        choices=("orders", "ratings"),
        default="orders",
        help="what counts as demand: order lines (default) or ratings per product (a proxy "
        "for data sets without sales, e.g. MovieLens)",
    )


def parse_day(value: str) -> dt.datetime:
    """A YYYY-MM-DD argument as the start of that day."""
    try:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-09-01, got {value!r}"
        ) from None


def resolve_freq(engine, args) -> str:
    from analytics.forecasting.demand import frequency_of

    return frequency_of(engine, args.demand) if args.freq == "auto" else args.freq


# ---- forecast -----------------------------------------------------------------------------------


def _num(v, fmt="{:.3f}") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _backtest_lines(backtest: dict, chosen: str) -> list[str]:
    lines = [f"  {'method':<16} {'MASE':>6} {'sMAPE':>7} {'cover80':>8} {'cover95':>8}"]
    for name, m in backtest.items():
        mark = "*" if name == chosen else " "
        if m is None:
            lines.append(f"{mark} {name:<16} {'(history too short to backtest)':>31}")
            continue
        lines.append(
            f"{mark} {name:<16} {_num(m['mase']):>6} {_num(m['smape'], '{:.1f}%'):>7} "
            f"{_pct(m['coverage80']):>8} {_pct(m['coverage95']):>8}"
        )
    return lines


def _test_days(backtest: dict) -> int:
    m = next((m for m in backtest.values() if m), None)
    return m["points"] // m["origins"] if m else 0


def format_forecast(fc, weekly: bool = False) -> str:
    """The human-readable forecast of a :class:`~analytics.forecasting.SkuForecast`."""
    f = fc.forecast
    hist = fc.history
    step, steps = ("week", "weeks") if fc.freq == "W" else ("day", "days")
    recent = hist.iloc[-8:] if fc.freq == "W" else hist.iloc[-56:]
    year = hist.iloc[-52:] if fc.freq == "W" else hist.iloc[-365:]
    sold_share = float((year > 0).mean()) if len(hist) else 0.0
    origins = next((m["origins"] for m in fc.backtest.values() if m), 0)
    lines = [
        f"{fc.sku}  {fc.name}",
        f"forecast for {len(f)} {steps} from {f.index[0].date()} "
        f"(data up to {fc.data_end:%Y-%m-%d %H:%M})",
        f"method: {fc.method} — {fc.detail}",
        f"  why: {fc.reason}",
        f"series: {fc.kind} (a sale in {100 * sold_share:.0f}% of {steps}); {len(hist)} {steps} "
        f"of history, last {len(recent)} {steps} {recent.mean():.2f} units/{step}",
        "",
        f"backtest ({origins} origins × {_test_days(fc.backtest)} {steps}; * = used):"
        if origins
        else "backtest:",
        *_backtest_lines(fc.backtest, fc.method),
        "",
    ]
    lines += [f"note: {n}" for n in fc.notes]
    if weekly or fc.freq == "W":
        w = fc.weekly_forecast()
        lines.append(
            f"  {'from':<10} {'days':>4} {'units':>8}   {'80% interval':<15} {'95% interval':<15}"
        )
        for row in w.itertuples(index=False):
            lines.append(
                f"  {row.start.date()!s:<10} {row.days:>4} {row.mean:>8.1f}   "
                f"{f'[{row.lo80:.0f}, {row.hi80:.0f}]':<15} {f'[{row.lo95:.0f}, {row.hi95:.0f}]':<15}"
            )
        lines.append(
            "  (intervals of each week's total from the joint forecast paths"
            + (", calibrated on backtests)" if fc.calibrated else ", not calibrated yet)")
        )
    else:
        lines.append(
            f"  {'day':<10} {'':<3} {'mean':>6}   {'80% interval':<15} {'95% interval':<15}"
        )
        for day, row in f.iterrows():
            lines.append(
                f"  {day.date()!s:<10} {day:%a} {row['mean']:>6.2f}   "
                f"{f'[{row.lo80:.1f}, {row.hi80:.1f}]':<15} {f'[{row.lo95:.1f}, {row.hi95:.1f}]':<15}"
            )
    unit = "weeks" if fc.freq == "W" else "days"
    lines.append(f"total over {len(f)} {unit}: {f['mean'].sum():.1f} units")
    return "\n".join(line.rstrip() for line in lines)


def _forecast(args) -> int:
    from analytics.forecasting import forecast_sku
    from analytics.forecasting.selection import weekly_config

    engine = get_engine()
    freq = resolve_freq(engine, args)
    config = weekly_config(horizon_weeks=math.ceil(args.horizon / 7)) if freq == "W" else None
    horizon = config.horizon if config else args.horizon
    fc = forecast_sku(engine, args.sku, horizon=horizon, config=config, source=args.demand)
    emit(args, fc.to_dict(), format_forecast(fc, weekly=args.weekly))
    return 0


# ---- reorder ------------------------------------------------------------------------------------


def format_reorder(report, all_items: bool = False) -> str:
    """The human-readable reorder list of a :class:`~analytics.inventory.ReorderReport`."""
    items = report.items if all_items else report.to_reorder
    lines = [
        f"Reorder advice — run {report.run_id} from forecast run {report.forecast_run_id} "
        f"(forecasts from {report.first_day}), service level {100 * report.service_level:g}%, "
        f"review every {report.review_days} days",
        f"{len(report.to_reorder)} of {len(report.items)} products to reorder now"
        + (f"; {sum(a.out_of_stock for a in report.items)} out of stock" if report.items else ""),
    ]
    if not items:
        return "\n".join(lines)
    lines += [
        "",
        f"  {'SKU':<10} {'product':<28} {'on hand':>7} {'on order':>8} {'cover d':>7} "
        f"{'stock-out':<10} {'ROP':>7} {'order':>6}",
    ]
    for a in items:
        flag = "!" if a.out_of_stock else ("*" if a.reorder_now else " ")
        lines.append(
            f"{flag} {a.sku:<10} {a.name[:28]:<28} {a.on_hand:>7} {a.on_order:>8} "
            f"{_num(a.days_of_cover, '{:.1f}'):>7} {str(a.stockout_date or '-'):<10} "
            f"{a.reorder_point:>7.1f} {a.order_quantity:>6}"
        )
    lines.append("")
    lines.append("! out of stock   * reorder now   cover d = days the stock on hand lasts")
    return "\n".join(lines)


def _reorder(args) -> int:
    from analytics.inventory import run_reorder

    report = run_reorder(
        get_engine(), service_level=args.service_level, review_days=args.review_days
    )
    emit(args, report.to_dict(all_items=args.all), format_reorder(report, all_items=args.all))
    return 0


# ---- evaluate forecast ----------------------------------------------------------------------------


def format_evaluation(result: dict, per_sku: bool = False) -> str:
    """The human-readable summary of :func:`~analytics.forecasting.evaluate_forecast`."""
    cfg = result["config"]
    unit = "weeks" if cfg.get("freq") == "W" else "days"
    lines = [
        f"Forecast backtests ({result.get('source', 'orders')} as demand): {result['skus']} "
        f"SKUs, {cfg['origins']} origins × {cfg['test_days']} {unit}, data up to "
        f"{result['data_end'][:16]} ({result['seconds']} s)",
        f"series: {result['kinds']}   chosen: {result['methods']}",
        "",
        f"  {'method':<16} {'SKUs':>5} {'MASE mean':>9} {'median':>7} {'RMSSE':>6} "
        f"{'SPL':>6} {'sMAPE':>7} {'cover80':>8} {'cover95':>8}",
    ]
    rows = [*result["candidates"].items(), ("chosen", result["chosen"])]
    for name, b in rows:
        lines.append(
            f"  {name:<16} {b['skus']:>5} {_num(b['mase']['mean']):>9} "
            f"{_num(b['mase']['median']):>7} {_num(b['rmsse']['mean']):>6} "
            f"{_num(b['spl']['mean']):>6} {_num(b['smape']['mean'], '{:.1f}%'):>7} "
            f"{_pct(b['coverage80']):>8} {_pct(b['coverage95']):>8}"
        )
    beats = result["model_beats_baseline"]
    sm, im = beats["smooth"], beats["intermittent"]
    lines += [
        "",
        "model beats seasonal naive: "
        f"SARIMA on {_pct(sm.get('mase'))} of {sm['skus']} smooth SKUs (MASE); the better "
        f"intermittent method on {_pct(im.get('rmsse'))} of {im['skus']} intermittent SKUs by "
        f"RMSSE, {_pct(im.get('spl'))} by scaled pinball loss, {_pct(im.get('mase'))} by MASE",
    ]
    if result.get("intervals"):
        lines += ["", *format_coverage(result["intervals"]["coverage"])]
        rolling = result["intervals"].get("rolling") or {}
        if rolling.get("test_origins", 0) > 1:
            lines += [
                "",
                *format_coverage(
                    rolling["coverage"],
                    f"on each of the {rolling['test_origins']} newest origins, calibrated on "
                    "the origins before it",
                ),
            ]
    if per_sku:
        lines += ["", f"  {'SKU':<10} {'kind':<12} {'chosen':<15} MASE by method"]
        for s in result["per_sku"]:
            scores = "  ".join(
                f"{k}={_num(v['mase'] if v else None)}" for k, v in s["backtest"].items()
            )
            lines.append(f"  {s['sku']:<10} {s['kind']:<12} {s['chosen']:<15} {scores}")
    return "\n".join(lines)


def format_coverage(coverage: dict, where: str = "on the newest origin") -> list[str]:
    """Coverage of the intervals of totals before/after calibration, per kind and window."""
    lines = [
        f"interval coverage {where} (nominal 80% / 95%): path quantiles before and "
        "after calibration; summed = adding the daily bounds up",
        f"  {'kind':<13} {'window':<6} {'n':>6} {'before':>13} {'after':>13} {'summed':>13}",
    ]
    for kind, windows in coverage.items():
        for window, row in windows.items():
            if not row["records"]:
                continue

            def pair(key: str, row=row) -> str:
                if row.get(f"{key}80") is None:
                    return "-"
                return f"{_pct(row[f'{key}80'])} / {_pct(row[f'{key}95'])}"

            lines.append(
                f"  {kind:<13} {window:<6} {row['records']:>6} {pair('before'):>13} "
                f"{pair('after'):>13} {pair('summed_daily'):>13}"
            )
    return lines


def _evaluate(args) -> int:
    from analytics.forecasting import evaluate_forecast

    result = evaluate_forecast(
        get_engine(),
        origins=args.origins,
        test_days=args.test_days,
        n_jobs=args.jobs,
        compare_all=not args.candidates_only,
        freq=args.freq,
        source=args.demand,
        min_units=args.min_units,
        until=args.until,
    )
    emit(args, result, format_evaluation(result, per_sku=args.per_sku))
    return 0
