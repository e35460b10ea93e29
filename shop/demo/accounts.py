"""The demo accounts and their fixed orders: the same whatever the seed, dated from end_date.

Chat tests and the storefront's demo sign-in rely on these. Times are given as (days before
end_date, "HH:MM" UTC on that day); "end_date" is the build's end date, whose midnight is the
moment the demo shop is "as of" (nothing happens later, except estimated deliveries).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.demo.people import ACCOUNT_GROUP, ACCOUNT_PROFILES
from shop.store.models import Customer

# Order number -> what that order is. Every order here also appears in DEMO_ACCOUNTS.
DEMO_ORDERS: dict[int, dict] = {
    104233: dict(
        email="ada@example.com", status="shipped",
        items=(("EL-1001", 1),),  # Wireless Earbuds Pro
        placed=(3, "20:41"), paid=(3, "20:42"), shipped=(2, "09:15"),
        carrier="DHL", tracking_number="JD0146104233001", estimated_delivery_days_after=2,
        shipment_status="in_transit", last_location="East Midlands hub",
    ),
    104234: dict(
        email="ada@example.com", status="delivered",
        items=(("CLO-0001", 1), ("HOM-0001", 1)),  # Slim Fit Linen Shirt, Blue Enamel Kettle
        placed=(8, "19:05"), paid=(8, "19:06"), shipped=(7, "11:40"), delivered=(5, "13:20"),
        carrier="DPD", tracking_number="15501042340001", estimated_delivery_days_after=-5,
        shipment_status="delivered", last_location="London",
    ),
    104235: dict(
        email="ada@example.com", status="paid",
        items=(("BEA-0001", 2),),  # Hydrating Rose Face Serum
        placed=(1, "09:30"), paid=(1, "09:33"),
    ),
    104236: dict(
        email="ada@example.com", status="delivered",
        items=(("CLO-0002", 1),),  # Navy Merino Wool Jumper
        placed=(64, "10:12"), paid=(64, "10:14"), shipped=(63, "15:05"), delivered=(60, "11:32"),
        carrier="Royal Mail", tracking_number="RM104236001GB", estimated_delivery_days_after=-60,
        shipment_status="delivered", last_location="London",
    ),
    104240: dict(
        email="grace@example.com", status="delivered",
        items=(("HOM-0001", 1), ("FOO-0001", 3)),  # Blue Enamel Kettle, Organic Dark Chocolate
        placed=(6, "12:10"), paid=(6, "12:11"), shipped=(5, "16:45"), delivered=(3, "10:05"),
        carrier="UPS", tracking_number="1ZX7R4E91042400001", estimated_delivery_days_after=-3,
        shipment_status="delivered", last_location="Edinburgh",
    ),
    104241: dict(
        email="grace@example.com", status="pending",
        items=(("EL-1001", 1),),  # Wireless Earbuds Pro
        placed=(1, "22:47"),
    ),
}  # fmt: skip

# The demo accounts: customer id (always 1 and 2), name, email, country and order number -> status.
DEMO_ACCOUNTS: list[dict] = [
    {
        "customer_id": i + 1,
        "name": p["name"],
        "email": p["email"],
        "country": p["country"],
        "orders": {num: o["status"] for num, o in DEMO_ORDERS.items() if o["email"] == p["email"]},
    }
    for i, p in enumerate(ACCOUNT_PROFILES)
]


def at(end_date: dt.date, when: tuple[int, str]) -> dt.datetime:
    """The moment ``when`` = (days before end_date, "HH:MM") as a naive UTC datetime."""
    days, hhmm = when
    hours, minutes = map(int, hhmm.split(":"))
    return dt.datetime.combine(end_date - dt.timedelta(days=days), dt.time(hours, minutes))


def demo_order_timeline(number: int, end_date: dt.date) -> dict:
    """placed/paid/shipped/delivered datetimes (None when not reached) and estimated delivery."""
    o = DEMO_ORDERS[number]
    out: dict[str, Any] = {
        k: at(end_date, o[k]) if k in o else None
        for k in ("placed", "paid", "shipped", "delivered")
    }
    days_after = o.get("estimated_delivery_days_after")
    out["estimated_delivery"] = (
        None if days_after is None else end_date + dt.timedelta(days=days_after)
    )
    return out


def fixed_orders(
    products: pd.DataFrame, customers: pd.DataFrame, end_date: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fixed orders as rows shaped like ``orders.generate_orders`` output (items by index)."""
    row_of_sku = dict(zip(products["sku"], range(len(products))))
    cust_of_email = dict(zip(customers["email"], range(len(customers))))
    price = products["price_cents"].to_numpy()
    nat_s, nat_d = np.datetime64("NaT", "s"), np.datetime64("NaT", "D")
    orders, items = [], []
    for i, (number, o) in enumerate(DEMO_ORDERS.items()):
        t = demo_order_timeline(number, end_date)
        total = 0
        for sku, qty in o["items"]:
            p = row_of_sku[sku]
            items.append({"order": i, "product": p, "quantity": qty, "unit_cents": int(price[p])})
            total += qty * int(price[p])
        stamp = lambda x: nat_s if x is None else np.datetime64(x, "s")  # noqa: E731
        orders.append(
            {
                "cust": cust_of_email[o["email"]],
                "placed_at": stamp(t["placed"]),
                "promo_code": None,
                "total_cents": total,
                "paid_at": stamp(t["paid"]),
                "shipped_at": stamp(t["shipped"]),
                "delivered_at": stamp(t["delivered"]),
                "cancelled_at": nat_s,
                "status": o["status"],
                "carrier": o.get("carrier"),
                "estimated_delivery": nat_d
                if t["estimated_delivery"] is None
                else np.datetime64(t["estimated_delivery"], "D"),
                "transit_end": stamp(t["delivered"]),
                "ship_status": o.get("shipment_status"),
                "last_location": o.get("last_location"),
                "tracking_number": o.get("tracking_number"),
                "fixed_number": number,
            }
        )
    return pd.DataFrame(orders), pd.DataFrame(items)


def demo_customers(session: Session, limit: int = 6) -> list[tuple[int, str]]:
    """(id, name) of the demo shop's own customers one may sign in as on the storefront page:
    the fixed demo accounts first, then other generated customers, by id. Only customers the
    demo builder made (``demo_group`` set, no ``external_id``): never an imported customer."""
    own = (Customer.demo_group.is_not(None), Customer.external_id.is_(None))
    rows = session.execute(
        select(Customer.id, Customer.name)
        .where(*own)
        .order_by((Customer.demo_group != ACCOUNT_GROUP), Customer.id)
        .limit(max(0, limit))
    ).all()
    return [(int(row.id), row.name or f"Customer {row.id}") for row in rows]


def is_demo_shop(session: Session) -> bool:
    """True when the database holds the demo shop (its fixed accounts exist)."""
    found = session.execute(
        select(Customer.id).where(Customer.demo_group == ACCOUNT_GROUP).limit(1)
    ).first()
    return found is not None
