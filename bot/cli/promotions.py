"""``shopbot promotion``: create offers for segments (or an RFM rule), move them through
draft → active ⇄ paused → ended, and issue each eligible customer's code."""

from __future__ import annotations

import argparse
import datetime as dt

from sqlalchemy import select

from bot.cli.main import add_json_flag, emit
from shop.errors import ShopbotError
from shop.promotions.admin import create_promotion, describe, get_promotion, list_promotions
from shop.promotions.admin import set_status as change_status
from shop.promotions.codes import issue_codes
from shop.store import session_scope
from shop.store.models import Customer, utcnow
from shop.store.promotion_models import PromotionCode

STATUS_COMMANDS = {
    "activate": ("active", "go live (a draft)"),
    "pause": ("paused", "stop offering and accepting its codes for now"),
    "resume": ("active", "go live again after a pause"),
    "end": ("ended", "end it for good"),
}


def when(value: str) -> dt.datetime:
    """A date (YYYY-MM-DD) or date and time (ISO 8601), naive UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date; write it like 2026-12-24 or 2026-12-24T18:00"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _rule(value: str) -> dict[str, float]:
    rule: dict[str, float] = {}
    for part in value.split(","):
        key, sep, number = part.partition("=")
        try:
            rule[key.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep:
            raise argparse.ArgumentTypeError(
                f"write the rule as key=number pairs, e.g. recency_days_min=90,orders_min=2; "
                f"got {part!r}"
            )
    return rule


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def register(sub, _evaluate_sub) -> None:
    p = sub.add_parser(
        "promotion",
        help="offers for customer segments: create, list, activate, pause, resume, end, codes",
        description="Promotions target segments of the newest segmentation (`shopbot segments`) "
        "or a rule on RFM features, give a percentage or a fixed amount off (optionally only on "
        "some categories), run in a validity window, and are capped overall, per customer and "
        "by a discount budget. A new promotion is a draft: `activate` puts it live.",
    )
    psub = p.add_subparsers(dest="promotion_command", metavar="ACTION")
    psub.required = True

    c = psub.add_parser("create", help="create a promotion (as a draft)")
    c.add_argument("name", help="a unique name, e.g. kitchen-10")
    target = c.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--segments", type=_csv, help="comma-separated segment labels (or parts, or numbers)"
    )
    target.add_argument(
        "--rule",
        type=_rule,
        help="RFM rule over the last year, e.g. recency_days_min=90,orders_min=2 (keys: "
        "recency_days_min/max, orders_min/max, spend_min/max)",
    )
    reward = c.add_mutually_exclusive_group(required=True)
    reward.add_argument("--percent", type=float, help="percentage off, e.g. 10")
    reward.add_argument("--fixed", type=float, help="amount off, e.g. 5")
    c.add_argument("--categories", type=_csv, help="only on these categories, e.g. home")
    c.add_argument("--starts", type=when, help="start (default: now)")
    window = c.add_mutually_exclusive_group(required=True)
    window.add_argument("--days", type=int, help="runs this many days from the start")
    window.add_argument("--ends", type=when, help="end (exclusive)")
    c.add_argument("--global-cap", type=int, help="redemptions over all customers")
    c.add_argument("--per-customer-cap", type=int, default=1, help="uses per customer (1)")
    c.add_argument("--budget", type=float, help="total discount that may be given")
    add_json_flag(c)
    c.set_defaults(handler=_create)

    ls = psub.add_parser("list", help="every promotion with its status, codes and redemptions")
    add_json_flag(ls)
    ls.set_defaults(handler=_list)

    for action, (status, text) in STATUS_COMMANDS.items():
        s = psub.add_parser(action, help=text)
        s.add_argument("name", help="the promotion's name (or id)")
        add_json_flag(s)
        s.set_defaults(handler=_set_status, status=status)

    k = psub.add_parser(
        "codes",
        help="issue a code to every eligible customer without one, and list the codes",
        description="Issues an unguessable code to each customer the promotion targets who has "
        "none yet (customers who asked for no more offers get none), then lists the codes.",
    )
    k.add_argument("name", help="the promotion's name (or id)")
    k.add_argument("--limit", type=int, default=20, help="codes to print (0: all; JSON: all)")
    add_json_flag(k)
    k.set_defaults(handler=_codes)

    o = psub.add_parser(
        "consent",
        help="record a customer's choice about offers (the consent ledger)",
        description="Writes a row to the consent ledger: opt-out stops every offer at once, "
        "opt-in allows offers again (e.g. when a customer asks support). The newest choice "
        "counts; every choice is kept with its reason and date.",
    )
    o.add_argument("customer", help="customer id, e-mail or imported id")
    o.add_argument("choice", choices=("opt-in", "opt-out"))
    o.add_argument("--reason", default="", help="why (e.g. the customer's words)")
    add_json_flag(o)
    o.set_defaults(handler=_consent)


def _line(info: dict) -> str:
    reward = info["reward"]
    off = f"{reward['value']:g}%" if reward["kind"] == "percent" else f"{reward['value']:.2f} off"
    cats = f" on {', '.join(reward['categories'])}" if reward["categories"] else ""
    target = info["target"].get("segments") or info["target"].get("rule")
    caps = f"cap {info['global_cap']}" if info["global_cap"] else "no cap"
    return (
        f"{info['name']} [{info['status']}] {off}{cats} for {target}; "
        f"{info['starts_at'][:16]} → {info['ends_at'][:16]}; {caps}, "
        f"{info['per_customer_cap']}/customer; codes {info['codes']}, redeemed "
        f"{info['redemptions']}, spent {info['spent']:.2f}"
        + (f" of {info['budget']:.2f}" if info["budget"] is not None else "")
    )


def _create(args) -> int:
    starts = args.starts or utcnow().replace(microsecond=0)
    ends = args.ends or starts + dt.timedelta(days=args.days)
    with session_scope() as session:
        promotion = create_promotion(
            session,
            name=args.name,
            target={"segments": args.segments} if args.segments else {"rule": args.rule},
            reward_kind="percent" if args.percent is not None else "fixed",
            reward_value=args.percent if args.percent is not None else args.fixed,
            categories=args.categories,
            starts_at=starts,
            ends_at=ends,
            global_cap=args.global_cap,
            per_customer_cap=args.per_customer_cap,
            budget=args.budget,
        )
        info = describe(session, promotion)
    emit(args, info, f"created (draft): {_line(info)}\nput it live: shopbot promotion activate "
         f"{info['name']}")  # fmt: skip
    return 0


def _list(args) -> int:
    with session_scope() as session:
        infos = [describe(session, p) for p in list_promotions(session)]
    emit(args, infos, "\n".join(_line(i) for i in infos) or "no promotions yet")
    return 0


def _set_status(args) -> int:
    with session_scope() as session:
        info = describe(session, change_status(session, args.name, args.status))
    emit(args, info, _line(info))
    return 0


def _codes(args) -> int:
    if args.limit < 0:
        raise ShopbotError("--limit must be 0 (all) or more")
    with session_scope() as session:
        promotion = get_promotion(session, args.name)
        if promotion.status == "ended":
            raise ShopbotError(f"{promotion.name!r} has ended; its codes can no longer be used")
        issued = issue_codes(session, promotion)
        rows = session.execute(
            select(
                PromotionCode.customer_id, Customer.email, PromotionCode.code, PromotionCode.uses
            )
            .join(Customer, PromotionCode.customer_id == Customer.id)
            .where(PromotionCode.promotion_id == promotion.id)
            .order_by(PromotionCode.customer_id)
        ).all()
        name = promotion.name
    codes = [
        {"customer_id": c, "email": e, "code": code, "uses": uses} for c, e, code, uses in rows
    ]
    shown = codes if args.limit == 0 else codes[: args.limit]
    text = "\n".join(
        [f"{name}: issued {issued} new code(s); {len(codes)} in total"]
        + [f"  {c['customer_id']:>6}  {c['email'] or '':<32} {c['code']}  used {c['uses']}"
           for c in shown]
        + ([f"  … {len(codes) - len(shown)} more (--limit 0 shows all)"]
           if len(shown) < len(codes) else [])
    )  # fmt: skip
    emit(args, {"promotion": name, "issued": issued, "codes": codes}, text)
    return 0


def _consent(args) -> int:
    from shop.customers import find_customer
    from shop.promotions.consent import record_choice
    from shop.store import get_engine

    customer = find_customer(get_engine(), args.customer)
    with session_scope() as session:
        row = record_choice(session, customer["id"], args.choice.replace("-", "_"),
                            reason=args.reason, source="cli")  # fmt: skip
        info = {"customer_id": customer["id"], "choice": row.choice, "reason": row.reason,
                "at": row.at.isoformat()}  # fmt: skip
    emit(args, info, f"customer {customer['id']}: {args.choice} recorded at {info['at'][:16]}")
    return 0
