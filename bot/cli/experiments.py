"""``shopbot experiment``: A/B tests of offers — create (with the sample size it needs), start,
stop, list, report (state, lift with its interval, guardrails; per segment), and a simulated
response on the demo shop with planted effects."""

from __future__ import annotations

import argparse

from sqlalchemy import func, select

from bot.cli.main import add_json_flag, emit
from bot.cli.promotions import when
from shop.errors import ShopbotError
from shop.experiments.registry import (
    GUARDRAILS,
    create_experiment,
    get_experiment,
    start_experiment,
    stop_experiment,
)
from shop.promotions.admin import get_promotion
from shop.store import session_scope
from shop.store.models import Order, utcnow
from shop.store.promotion_models import EXPERIMENT_METRICS, Experiment


def _arms(value: str) -> list[tuple[str, float]]:
    arms = []
    for part in value.split(","):
        name, _, weight = part.partition(":")
        try:
            arms.append((name.strip(), float(weight or 1)))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"write arms as name:weight pairs, e.g. control:50,offer:50; got {part!r}"
            ) from None
    return arms


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def register(sub, _evaluate_sub) -> None:
    p = sub.add_parser(
        "experiment",
        help="A/B tests: create, start, stop, list, report KEY, simulate (demo)",
        description="Experiments assign each exposed customer to an arm by a hash of the key and "
        "the customer id, and judge the primary metric with its guardrails at the planned "
        "sample size (fixed horizon; Holm across metrics; SRM check).",
    )
    esub = p.add_subparsers(dest="experiment_command", metavar="ACTION")
    esub.required = True

    c = esub.add_parser(
        "create",
        help="create an experiment; prints the sample size per arm it needs",
        description="The sample size per arm is computed for power 0.8 and α 0.05 (two-sided) "
        "from --baseline and --mde.",
    )
    c.add_argument("key", help="a unique key, e.g. kitchen")
    c.add_argument("--hypothesis", default="", help="what the change should do, in words")
    c.add_argument("--arms", type=_arms, default=[("control", 1.0), ("offer", 1.0)],
                   help="name:weight pairs, the first is control (default control:1,offer:1)")  # fmt: skip
    c.add_argument("--promotion", help="the promotion the non-control arms offer (its name)")
    c.add_argument("--metric", choices=EXPERIMENT_METRICS, default="conversion")
    c.add_argument("--guardrails", type=_csv, default=["returns", "complaints"],
                   help=f"comma-separated, from {', '.join(GUARDRAILS)} "
                   "(default returns,complaints)")  # fmt: skip
    c.add_argument(
        "--baseline",
        type=float,
        required=True,
        help="expected control rate (conversion, redemption) or the standard deviation of "
        "revenue per customer (revenue)",
    )
    c.add_argument("--mde", type=float, required=True,
                   help="smallest absolute change worth detecting, e.g. 0.03 (3 points)")  # fmt: skip
    c.add_argument("--min-days", type=int, default=7, help="minimum duration (>= 7: a week)")
    c.add_argument("--attribution-days", type=int, default=14,
                   help="days after a customer's first exposure that count (14)")  # fmt: skip
    c.add_argument("--start", action="store_true", help="start it at once")
    add_json_flag(c)
    c.set_defaults(handler=_create)

    for action, text in (("start", "start collecting"), ("stop", "stop the experiment")):
        s = esub.add_parser(action, help=text)
        s.add_argument("key")
        add_json_flag(s)
        s.set_defaults(handler=_start if action == "start" else _stop)

    ls = esub.add_parser("list", help="every experiment with its status")
    add_json_flag(ls)
    ls.set_defaults(handler=_list)

    r = esub.add_parser(
        "report",
        help="state, lift with its 95%% interval and the guardrails",
        description="States: collecting · not_enough_data · srm (sample-ratio mismatch, "
        "p < 0.001: verdict hidden) · no_difference · winner. No winner before the planned "
        "sample size per arm and the minimum duration.",
    )
    r.add_argument("key")
    r.add_argument("--as-of", type=when, help="report as of this time (default: now)")
    r.add_argument("--by-segment", action="store_true",
                   help="also a verdict per segment of the newest segmentation")  # fmt: skip
    add_json_flag(r)
    r.set_defaults(handler=_report)

    sim = esub.add_parser(
        "simulate",
        help="demo: simulate customers' response with a planted effect per segment",
        description="For the demo shop: exposes the customers of the first three segments "
        "(by number) and simulates their orders: +6 points of conversion with the offer in the "
        "first, no effect in the second, more returns with the offer in the third. The "
        "experiment must be running and its offer arm must have a live promotion with codes.",
    )
    sim.add_argument("key")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument(
        "--start",
        type=when,
        help="first exposure (default: the day after the shop's newest order, so that real "
        "orders do not count as responses)",
    )
    add_json_flag(sim)
    sim.set_defaults(handler=_simulate)


def _summary(e: Experiment) -> dict:
    return {
        "key": e.key,
        "status": e.status,
        "hypothesis": e.hypothesis,
        "arms": e.arms,
        "metric": e.metric,
        "guardrails": e.guardrails,
        "baseline": e.baseline,
        "mde": e.mde,
        "sample_size_per_arm": e.sample_size_per_arm,
        "min_days": e.min_days,
        "attribution_days": e.attribution_days,
        "started_at": e.started_at.isoformat() if e.started_at else None,
        "stopped_at": e.stopped_at.isoformat() if e.stopped_at else None,
    }


def _text(info: dict) -> str:
    arms = ", ".join(f"{a['name']} {a['weight']:.0%}" for a in info["arms"])
    return (
        f"{info['key']} [{info['status']}] {info['metric']} (MDE {info['mde']:g}, "
        f"{info['sample_size_per_arm']:,} per arm, ≥ {info['min_days']} days); arms {arms}"
    )


def _create(args) -> int:
    from analytics.experiments.design import sample_size_per_arm

    try:
        n = sample_size_per_arm(args.metric, args.baseline, args.mde)
    except ValueError as err:
        raise ShopbotError(str(err)) from None
    with session_scope() as session:
        promotion_id = get_promotion(session, args.promotion).id if args.promotion else None
        arms = [
            {"name": name, "weight": weight, "promotion_id": None if i == 0 else promotion_id}
            for i, (name, weight) in enumerate(args.arms)
        ]
        experiment = create_experiment(
            session, key=args.key, arms=arms, metric=args.metric, mde=args.mde,
            sample_size_per_arm=n, hypothesis=args.hypothesis, guardrails=args.guardrails,
            baseline=args.baseline, min_days=args.min_days,
            attribution_days=args.attribution_days,
        )  # fmt: skip
        if args.start:
            start_experiment(session, args.key)
        info = _summary(experiment)
    emit(args, info, f"created: {_text(info)}")
    return 0


def _start(args) -> int:
    with session_scope() as session:
        info = _summary(start_experiment(session, args.key))
    emit(args, info, _text(info))
    return 0


def _stop(args) -> int:
    with session_scope() as session:
        info = _summary(stop_experiment(session, args.key))
    emit(args, info, _text(info))
    return 0


def _list(args) -> int:
    with session_scope() as session:
        infos = [
            _summary(e)
            for e in session.execute(select(Experiment).order_by(Experiment.id.desc())).scalars()
        ]
    emit(args, infos, "\n".join(_text(i) for i in infos) or "no experiments yet")
    return 0


def _report(args) -> int:
    from analytics.experiments.report import experiment_report, format_report

    with session_scope() as session:
        report = experiment_report(session, args.key, now=args.as_of, by_segment=args.by_segment)
    emit(args, report, format_report(report))
    return 0


def _simulate(args) -> int:
    import datetime as dt

    from shop.demo.offer_response import DEMO_EFFECTS, simulate_offer_response
    from shop.promotions.targeting import segment_labels

    with session_scope() as session:
        experiment = get_experiment(session, args.key)
        newest = session.execute(select(func.max(Order.placed_at))).scalar() or utcnow()
        start = args.start or dt.datetime.combine(newest.date() + dt.timedelta(days=1), dt.time())
        until = start + dt.timedelta(days=14 + experiment.attribution_days)
        labels = [label for _, label in sorted(segment_labels(session).items())]
        if len(labels) < 3:
            raise ShopbotError("the simulation needs a segmentation with at least 3 segments: "
                               "run `shopbot segments` first")  # fmt: skip
        effects = dict(zip(labels, DEMO_EFFECTS, strict=False))
        counts = simulate_offer_response(session, args.key, effects, start=start, seed=args.seed)
    planted = {
        label: {"conversion_uplift": e.uplift, "return_uplift": e.return_uplift}
        for label, e in effects.items()
    }
    emit(
        args,
        {
            "planted": planted,
            "start": start.isoformat(),
            "report_as_of": until.isoformat(),
            **counts,
        },  # fmt: skip
        "planted: "
        + "; ".join(
            f"{label}: conversion {e['conversion_uplift'] * 100:+.0f} points, returns "
            f"{e['return_uplift'] * 100:+.0f} points among buyers"
            for label, e in planted.items()
        )
        + f"\nsimulated {counts['exposures']:,} exposures, {counts['orders']:,} orders, "
        f"{counts['redemptions']:,} redemptions, {counts['returns']:,} returns — now run "
        f"`shopbot experiment report {args.key} --by-segment --as-of {until:%Y-%m-%d}`",
    )
    return 0
