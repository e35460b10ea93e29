"""Build the demo shop: generate every table in memory, then bulk-insert it in one transaction."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from sqlalchemy import Date, DateTime, column, func, insert, select, text
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Engine

from shop.demo.accounts import fixed_orders
from shop.demo.aftersales import build_events, build_inventory, build_ratings, build_returns
from shop.demo.calendar import build_calendar
from shop.demo.catalogue import build_catalogue
from shop.demo.orders import build_shipments, finalize, generate_orders
from shop.demo.people import build_people
from shop.errors import ShopbotError
from shop.store import session_scope
from shop.store.bulk import copy_rows, indexes_rebuilt, uses_copy
from shop.store.models import Base

DEFAULT_SEED = 42
DEFAULT_CUSTOMERS = 2000
DEFAULT_PRODUCTS = 300
DEFAULT_DAYS = 730
MIN_CUSTOMERS, MIN_PRODUCTS, MIN_DAYS = 50, 20, 200
CHUNK_ROWS = 10_000
SQLITE_CACHE_KIB = 256 * 1024

# The tables the demo fills, in insertion (foreign key) order; support_tickets stays empty.
DEMO_TABLES = (
    "products", "customers", "orders", "order_items", "shipments", "returns", "inventory",
    "ratings", "events",
)  # fmt: skip
COUNTED_TABLES = DEMO_TABLES + ("support_tickets",)

Progress = Callable[[str], None]


def utc_today() -> dt.date:
    """Today's date in UTC: the default end date of the demo."""
    return dt.datetime.now(dt.timezone.utc).date()


def _check_sizes(customers: int, products: int, days: int) -> None:
    for name, value, low in (("customers", customers, MIN_CUSTOMERS),
                             ("products", products, MIN_PRODUCTS), ("days", days, MIN_DAYS)):  # fmt: skip
        if value < low:
            raise ShopbotError(
                f"{value} {name} is too small for a demo shop: use at least {low} (--{name})"
            )


def _stack(top: pd.DataFrame, bottom: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``top`` then ``bottom`` (same columns), column by column.

    ``pd.concat`` spends seconds probing all-None object columns; numpy does not.
    """
    out = {}
    for col in top.columns:
        a, b = top[col].to_numpy(), bottom[col].to_numpy()
        if np.issubdtype(a.dtype, np.datetime64):
            a, b = a.astype("datetime64[s]"), b.astype("datetime64[s]")
        elif a.dtype == object or b.dtype == object:
            a, b = a.astype(object), b.astype(object)
        out[col] = np.concatenate([a, b])
    return pd.DataFrame(out)


def generate_shop(
    *,
    seed: int = DEFAULT_SEED,
    customers: int = DEFAULT_CUSTOMERS,
    products: int = DEFAULT_PRODUCTS,
    days: int = DEFAULT_DAYS,
    end_date: dt.date | None = None,
    progress: Progress | None = None,
) -> dict[str, pd.DataFrame]:
    """Every demo table as a frame with the store's column names, without touching a database.

    The window is the ``days`` days before ``end_date``; the shop is "as of" midnight starting
    ``end_date`` (UTC), so nothing in it lies in the future except estimated deliveries.
    """
    _check_sizes(customers, products, days)
    say = progress or (lambda _msg: None)
    end_date = end_date or utc_today()
    rng = np.random.default_rng(seed)
    as_of = np.datetime64(end_date, "s")

    say("calendar and catalogue")
    cal = build_calendar(end_date, days, rng)
    start = np.datetime64(cal.start, "s")
    cat = build_catalogue(products, days, start, rng)
    say("customers")
    ppl = build_people(customers, days, start, rng)
    say("orders and items")
    orders, items = generate_orders(cal, cat, ppl, rng)
    fixed, fixed_items = fixed_orders(cat.frame, ppl.frame, end_date)
    fixed_items["order"] += len(orders)
    orders, items = _stack(orders, fixed), _stack(items, fixed_items)
    orders, items = finalize(orders, items, rng)
    say("shipments, returns, ratings, events, inventory")
    shipments = build_shipments(orders, ppl, rng, as_of)
    returns = build_returns(orders, items, cat, rng, as_of)
    ratings = build_ratings(orders, items, returns, cat, ppl, rng, as_of)
    events = build_events(orders, items, cat, ppl, rng, as_of)
    inventory = build_inventory(orders, items, cat, rng, as_of)

    cust_id = ppl.frame["id"].to_numpy()
    prod_id = cat.frame["id"].to_numpy()
    p = cat.frame
    return {
        "products": pd.DataFrame({
            "id": prod_id, "sku": p["sku"], "name": p["name"], "category": p["category"],
            "brand": p["brand"], "price": p["price_cents"] / 100, "active": p["active"],
            "description": p["description"], "created_at": p["created_at"],
        }),
        "customers": ppl.frame[["id", "email", "name", "country", "created_at", "demo_group"]],
        "orders": pd.DataFrame({
            "id": orders["id"], "order_number": orders["order_number"],
            "customer_id": cust_id[orders["cust"].to_numpy()],
            "email": ppl.frame["email"].to_numpy()[orders["cust"].to_numpy()],
            "status": orders["status"], "placed_at": orders["placed_at"],
            "paid_at": orders["paid_at"], "shipped_at": orders["shipped_at"],
            "delivered_at": orders["delivered_at"], "cancelled_at": orders["cancelled_at"],
            "carrier": orders["carrier"], "tracking_number": orders["tracking_number"],
            "total": orders["total_cents"] / 100, "promo_code": orders["promo_code"],
            "source": "demo",
        }),
        "order_items": pd.DataFrame({
            "id": items["id"], "order_id": orders["id"].to_numpy()[items["order"].to_numpy()],
            "product_id": prod_id[items["product"].to_numpy()], "quantity": items["quantity"],
            "unit_price": items["unit_cents"] / 100,
        }),
        "shipments": shipments,
        "returns": returns,
        "inventory": inventory,
        "ratings": ratings,
        "events": events,
    }  # fmt: skip


def _plain(values: np.ndarray) -> list:
    """Python values for the DB driver: no numpy scalars, None for missing."""
    out = values.tolist()
    if values.dtype == object:
        out = [
            None if v is None or (isinstance(v, float) and v != v)
            else v.item() if isinstance(v, np.generic) else v
            for v in out
        ]  # fmt: skip
    return out


def _sqlite_text(values: np.ndarray, unit: str) -> list:
    """Timestamps (unit "us") or dates (unit "D") as SQLAlchemy stores them in SQLite.

    The same strings SQLAlchemy's SQLite DATETIME/DATE types write ("2026-11-25 10:12:00.000000",
    "2026-11-25"), made by numpy at once instead of one Python call per value.
    """
    stamps = values.astype(f"datetime64[{unit}]")
    out = pd.Series(np.datetime_as_string(stamps, unit=unit), dtype=object)  # type: ignore[call-overload]
    out = out.str.replace("T", " ", regex=False)
    return out.where(~np.isnat(stamps), None).tolist()


def _columns(table, frame: pd.DataFrame, dialect: str) -> tuple[list[str], list[list]]:
    """Column names of ``table`` present in ``frame`` and their values, ready for the driver."""
    columns, values = [], []
    for col in table.columns:
        if col.name not in frame.columns:
            continue
        arr = frame[col.name].to_numpy()
        if isinstance(col.type, (DateTime, Date)):
            unit = "us" if isinstance(col.type, DateTime) else "D"
            if dialect == "sqlite":
                vals = _sqlite_text(arr, unit)
            else:
                vals = arr.astype(f"datetime64[{unit}]").tolist()  # NaT -> None
        else:
            vals = _plain(arr)
        columns.append(col.name)
        values.append(vals)
    return columns, values


def _insert_frame(session, table, frame: pd.DataFrame, dialect: str) -> None:
    """Bulk-insert ``frame`` into ``table``: COPY on PostgreSQL, else in chunks (Core
    executemany).

    The statement targets an untyped ``table()`` clause: values are already in the driver's
    form, so SQLAlchemy's per-value type processing (the bulk of the time on SQLite) is skipped.
    """
    columns, values = _columns(table, frame, dialect)
    connection = session.connection()
    if uses_copy(connection):
        copy_rows(connection, table.name, columns, zip(*values))
        return
    target = sa_table(table.name, *[column(c) for c in columns])
    stmt = insert(target)
    for lo in range(0, len(frame), CHUNK_ROWS):
        chunk = [dict(zip(columns, row)) for row in zip(*(v[lo : lo + CHUNK_ROWS] for v in values))]
        session.execute(stmt, chunk)


def shop_row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table the demo fills (plus support_tickets)."""
    tables = Base.metadata.tables
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(tables[name])).scalar_one()
            for name in COUNTED_TABLES
        }


def has_shop_data(engine: Engine) -> bool:
    """Whether the database already holds customers, products or orders."""
    counts = shop_row_counts(engine)
    return any(counts[t] for t in ("customers", "products", "orders"))


def _refuse_existing_shop(session) -> None:
    tables = Base.metadata.tables
    existing = {
        name: session.execute(select(func.count()).select_from(tables[name])).scalar_one()
        for name in ("customers", "products", "orders")
    }
    if any(existing.values()):
        listed = ", ".join(f"{v} {k}" for k, v in existing.items() if v)
        raise ShopbotError(
            f"the database already holds a shop ({listed}); nothing was changed. Use --force to "
            "replace it with the demo shop, or point DATABASE_URL at another database."
        )


def _wipe(session) -> None:
    # Every table of the shop, children first: analytics results refer to customers and products.
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(table.delete())


def _reset_sequences(session) -> None:
    """PostgreSQL: move each id sequence past the ids inserted explicitly."""
    for name in DEMO_TABLES:
        table = Base.metadata.tables[name]
        if "id" not in table.c:
            continue
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
            )
        )


def build_demo(
    engine: Engine,
    *,
    seed: int = DEFAULT_SEED,
    customers: int = DEFAULT_CUSTOMERS,
    products: int = DEFAULT_PRODUCTS,
    days: int = DEFAULT_DAYS,
    end_date: dt.date | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> dict:
    """Rows inserted per table and ``seconds`` taken, after filling the database with the demo.

    The database must be migrated and hold no customers, products or orders, unless ``force``:
    then every shop table is emptied first, in the same transaction as the rebuild, so a failed
    rebuild leaves the old data in place. Same arguments (and end_date) give the same contents.
    """
    t0 = time.perf_counter()
    say = progress or (lambda _msg: None)
    end_date = end_date or utc_today()
    _check_sizes(customers, products, days)
    if not force:
        with session_scope(engine) as session:
            _refuse_existing_shop(session)  # early, before seconds of generating
    data = generate_shop(
        seed=seed, customers=customers, products=products, days=days, end_date=end_date,
        progress=say,
    )  # fmt: skip
    say(f"generated in {time.perf_counter() - t0:.1f} s; writing to the database")
    tables = Base.metadata.tables
    with session_scope(engine) as session:
        if force:
            say("emptying the shop's tables")
            _wipe(session)
        else:
            _refuse_existing_shop(session)  # again: another process may have filled it since
        dialect = engine.dialect.name
        if dialect == "sqlite":
            # A larger page cache for this connection: the random-key indexes (customer, time)
            # otherwise spill pages to the WAL over and over during the bulk load.
            cache = session.execute(text("PRAGMA cache_size")).scalar_one()
            session.execute(text(f"PRAGMA cache_size={-SQLITE_CACHE_KIB}"))
        # The tables are empty here (checked, or emptied above): PostgreSQL builds their
        # indexes once after the load rather than updating them row by row.
        with indexes_rebuilt(session.connection(), DEMO_TABLES):
            for name in DEMO_TABLES:
                say(f"inserting {len(data[name]):,} {name}")
                _insert_frame(session, tables[name], data[name], dialect)
        if dialect == "sqlite":
            session.execute(text(f"PRAGMA cache_size={int(cache)}"))
        if dialect == "postgresql":
            _reset_sequences(session)
    counts: dict[str, float] = {name: len(data[name]) for name in DEMO_TABLES}
    counts["support_tickets"] = 0
    counts["seconds"] = round(time.perf_counter() - t0, 2)
    return counts


__all__ = [
    "DEFAULT_CUSTOMERS",
    "DEFAULT_DAYS",
    "DEFAULT_PRODUCTS",
    "DEFAULT_SEED",
    "build_demo",
    "generate_shop",
    "has_shop_data",
    "shop_row_counts",
]
