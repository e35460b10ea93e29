"""``shopbot setup-demo``: build the deterministic demo shop in the database."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from sqlalchemy.exc import OperationalError

from bot.cli.main import add_json_flag, emit
from shop.demo import (
    DEFAULT_CUSTOMERS,
    DEFAULT_DAYS,
    DEFAULT_PRODUCTS,
    DEFAULT_SEED,
    DEMO_ACCOUNTS,
    build_demo,
    shop_row_counts,
    utc_today,
)
from shop.errors import ShopbotError
from shop.store import get_engine, upgrade


def register(sub, _evaluate_sub) -> None:
    p = sub.add_parser(
        "setup-demo",
        help="build the demo shop (seeded: same options, same shop)",
        description="Fill the database (DATABASE_URL) with a realistic, deterministic demo shop: "
        "customers with planted groups, products in five categories, orders with weekly and "
        "yearly seasonality and promotions, shipments, returns, ratings, events and stock, plus "
        "the demo accounts ada@example.com and grace@example.com. Migrates the schema first. "
        "Refuses to touch a database that already holds a shop unless --force is given.",
    )
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    p.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS,
                   help=f"number of customers (default {DEFAULT_CUSTOMERS})")  # fmt: skip
    p.add_argument("--products", type=int, default=DEFAULT_PRODUCTS,
                   help=f"number of products (default {DEFAULT_PRODUCTS})")  # fmt: skip
    p.add_argument("--days", type=int, default=DEFAULT_DAYS,
                   help=f"days of order history before the end date (default {DEFAULT_DAYS})")  # fmt: skip
    p.add_argument("--end-date", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="the shop's 'today': history ends the day before (default: today, UTC)")  # fmt: skip
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true",
                      help="empty every shop table (orders, customers, imports, analytics "
                           "results) and rebuild, in one transaction")  # fmt: skip
    mode.add_argument("--if-missing", action="store_true",
                      help="do nothing (exit 0) when the database already has products")  # fmt: skip
    add_json_flag(p)
    p.set_defaults(handler=_setup_demo)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-25") from None


def _setup_demo(args) -> int:
    engine = get_engine()
    where = engine.url.render_as_string(hide_password=True)
    started = time.perf_counter()

    def say(message: str) -> None:
        # Progress goes to stderr so that --json output stays parseable.
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    say(f"database {where}: migrating the schema")
    try:
        upgrade(engine)
        counts = shop_row_counts(engine)
    except OperationalError as exc:
        raise ShopbotError(
            f"cannot use the database {where}: {exc.orig}. Check DATABASE_URL and that the "
            "database server is running."
        ) from None
    if args.if_missing and counts["products"]:
        message = (
            f"the database already has a shop ({counts['products']} products, "
            f"{counts['orders']} orders); nothing to do"
        )
        emit(args, {"skipped": True, "reason": message, "database": where, "counts": counts},
             f"setup-demo: {message}")  # fmt: skip
        return 0

    end_date = args.end_date or utc_today()
    say(
        f"building the demo shop: seed {args.seed}, {args.customers} customers, "
        f"{args.products} products, {args.days} days of history before {end_date}"
        + (" (replacing the current contents)" if args.force else "")
    )
    result = build_demo(
        engine,
        seed=args.seed,
        customers=args.customers,
        products=args.products,
        days=args.days,
        end_date=end_date,
        progress=say,
        force=args.force,
    )
    seconds = result.pop("seconds")
    lines = [f"demo shop built in {seconds:.1f} s ({where}, as of {end_date}):"]
    lines += [f"  {name:<16}{count:>10,}" for name, count in result.items()]
    lines.append("demo accounts:")
    for acc in DEMO_ACCOUNTS:
        orders = ", ".join(f"#{n} {s}" for n, s in acc["orders"].items())
        lines.append(f"  {acc['name']} <{acc['email']}> (customer {acc['customer_id']}): {orders}")
    if args.force:
        lines.append("analytics results were removed with the old shop: run `shopbot train`.")
    data = {
        "database": where,
        "seed": args.seed,
        "customers": args.customers,
        "products": args.products,
        "days": args.days,
        "end_date": end_date.isoformat(),
        "forced": bool(args.force),
        "counts": result,
        "seconds": seconds,
        "demo_accounts": DEMO_ACCOUNTS,
    }
    emit(args, data, "\n".join(lines))
    return 0
