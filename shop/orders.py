"""Orders: status, the customer's recent orders, and cancellation (exactly once).

Every function takes an SQLAlchemy session opened by the caller (``session_scope``) and leaves
committing to it. Orders are loaded through :func:`shop.access.load_order`, so nothing is
returned unless the requester proved the order is theirs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from shop.access import Requester, load_order
from shop.errors import CannotCancel
from shop.store.models import Order, OrderItem, Return, Shipment, utcnow
from shop.text import iso, long_date, money

# How long after delivery items can be returned.
RETURN_WINDOW_DAYS = 30
CANCELLABLE_STATUSES = ("pending", "paid")

# Public tracking pages by carrier (keys: lower case, no spaces or punctuation). ``{n}`` is the
# URL-quoted tracking number. Only used to build a link for the customer; never fetched.
TRACKING_URLS: dict[str, str] = {
    "dhl": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={n}",
    "ups": "https://www.ups.com/track?tracknum={n}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={n}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={n}",
    "royalmail": "https://www.royalmail.com/track-your-item#/tracking-results/{n}",
    "dpd": "https://track.dpd.co.uk/parcels/{n}",
    "gls": "https://gls-group.com/track/{n}",
    "postnl": "https://jouw.postnl.nl/track-and-trace/{n}",
    "evri": "https://www.evri.com/track/parcel/{n}",
    "hermes": "https://www.evri.com/track/parcel/{n}",
    "canadapost": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={n}",
}


@dataclass(frozen=True)
class OrderLine:
    item_id: int
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: Decimal
    return_rma: str | None = None

    def label(self) -> str:
        """A short line for lists shown to customers: "2 × Blue linen shirt (CLO-0042)"."""
        return f"{self.quantity} × {self.name} ({self.sku})"

    def to_dict(self) -> dict:
        """The line as JSON-friendly values (money as a string, e.g. "39.90")."""
        data = asdict(self)
        data["unit_price"] = money(self.unit_price)
        return data


@dataclass(frozen=True)
class OrderSummary:
    order_number: int
    status: str
    placed_at: dt.datetime
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipment_status: str | None
    estimated_delivery: dt.date | None
    total: Decimal
    lines: list[OrderLine] = field(default_factory=list)
    can_cancel: bool = False
    return_deadline: dt.date | None = None

    def describe(self) -> str:
        """A customer-facing sentence or two: status, carrier, tracking number, delivery date."""
        ref = f"Order #{self.order_number}"
        placed = long_date(self.placed_at)
        if self.status == "cancelled":
            when = f" on {long_date(self.cancelled_at)}" if self.cancelled_at else ""
            return f"{ref} (placed {placed}) was cancelled{when}."
        if self.status == "pending":
            return f"{ref} (placed {placed}) is waiting for payment. You can still cancel it."
        if self.status == "paid":
            return (
                f"{ref} (placed {placed}) is paid and being prepared for shipping. "
                "You can still cancel it."
            )
        parts = []
        if self.status == "delivered":
            when = f" on {long_date(self.delivered_at)}" if self.delivered_at else ""
            parts.append(f"{ref} was delivered{when}.")
        else:
            shipped = f" on {long_date(self.shipped_at)}" if self.shipped_at else ""
            progress = {
                "out_for_delivery": " and is out for delivery today",
                "exception": (
                    " but the carrier reported a delivery problem; if it hasn't arrived in two "
                    "days, ask me for a human"
                ),
            }.get(self.shipment_status or "", "")
            parts.append(f"{ref} was shipped{shipped}{progress}.")
        if self.carrier or self.tracking_number:
            carrier = self.carrier or "the carrier"
            number = f" with tracking number {self.tracking_number}" if self.tracking_number else ""
            link = f" (track it at {self.tracking_url})" if self.tracking_url else ""
            parts.append(f"It's with {carrier}{number}{link}.")
        if self.status == "shipped" and self.estimated_delivery:
            parts.append(f"Expected delivery: {long_date(self.estimated_delivery)}.")
        if self.status == "delivered" and self.return_deadline:
            parts.append(f"You can return items until {long_date(self.return_deadline)}.")
        return " ".join(parts)

    def cannot_cancel(self) -> CannotCancel | None:
        """Why this order can no longer be cancelled (the error to show), or None if it can."""
        return None if self.can_cancel else _cannot_cancel(self)

    def to_dict(self) -> dict:
        """The summary as JSON-friendly values (ISO dates, money as strings)."""
        return {
            "order_number": self.order_number,
            "status": self.status,
            "placed_at": iso(self.placed_at),
            "shipped_at": iso(self.shipped_at),
            "delivered_at": iso(self.delivered_at),
            "cancelled_at": iso(self.cancelled_at),
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "tracking_url": self.tracking_url,
            "shipment_status": self.shipment_status,
            "estimated_delivery": iso(self.estimated_delivery),
            "total": money(self.total),
            "lines": [line.to_dict() for line in self.lines],
            "can_cancel": self.can_cancel,
            "return_deadline": iso(self.return_deadline),
            "description": self.describe(),
        }


def tracking_url(carrier: str | None, tracking_number: str | None) -> str | None:
    """The carrier's public tracking page for ``tracking_number``, or None for unknown carriers."""
    if not carrier or not tracking_number:
        return None
    key = re.sub(r"[^a-z]", "", carrier.lower())
    template = TRACKING_URLS.get(key)
    return template.format(n=quote(tracking_number.strip(), safe="")) if template else None


def returns_by_item(session: Session, order_ids: Iterable[int]) -> dict[int, Return]:
    ids = list(order_ids)
    if not ids:
        return {}
    rows = session.execute(select(Return).where(Return.order_id.in_(ids))).scalars()
    return {r.order_item_id: r for r in rows}


def order_line(item: OrderItem, rma: str | None) -> OrderLine:
    product = item.product
    return OrderLine(
        item_id=item.id,
        sku=product.sku,
        name=product.name,
        category=product.category,
        quantity=item.quantity,
        unit_price=Decimal(str(item.unit_price)),
        return_rma=rma,
    )


def _latest_shipment(order: Order) -> Shipment | None:
    if not order.shipments:
        return None
    return max(order.shipments, key=lambda s: (s.shipped_at or dt.datetime.min, s.id or 0))


def return_deadline(order: Order) -> dt.date | None:
    if order.status != "delivered" or order.delivered_at is None:
        return None
    return order.delivered_at.date() + dt.timedelta(days=RETURN_WINDOW_DAYS)


def _summary(order: Order, returns: dict[int, Return]) -> OrderSummary:
    shipment = _latest_shipment(order)
    carrier = order.carrier or (shipment.carrier if shipment else None)
    number = order.tracking_number or (shipment.tracking_number if shipment else None)
    delivered_at = order.delivered_at or (shipment.delivered_at if shipment else None)
    lines = [
        order_line(item, returns[item.id].rma_number if item.id in returns else None)
        for item in sorted(order.items, key=lambda i: i.id)
    ]
    return OrderSummary(
        order_number=order.order_number,
        status=order.status,
        placed_at=order.placed_at,
        shipped_at=order.shipped_at or (shipment.shipped_at if shipment else None),
        delivered_at=delivered_at,
        cancelled_at=order.cancelled_at,
        carrier=carrier,
        tracking_number=number,
        tracking_url=tracking_url(carrier, number),
        shipment_status=shipment.status if shipment else None,
        estimated_delivery=shipment.estimated_delivery if shipment else None,
        total=Decimal(str(order.total)),
        lines=lines,
        can_cancel=order.status in CANCELLABLE_STATUSES,
        return_deadline=return_deadline(order),
    )


# ---- order status ------------------------------------------------------------------------------


def get_order(session: Session, order_number: int | str, requester: Requester) -> OrderSummary:
    """The requester's order; OrderAccessDenied if it doesn't exist or isn't theirs."""
    order = load_order(session, order_number, requester)
    return _summary(order, returns_by_item(session, [order.id]))


def list_recent_orders(session: Session, customer_id: int, limit: int = 5) -> list[OrderSummary]:
    """The signed-in customer's most recent orders, newest first (empty list if none)."""
    orders = (
        session.execute(
            select(Order)
            .where(Order.customer_id == customer_id)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(min(50, max(1, int(limit))))
            .options(
                selectinload(Order.items).joinedload(OrderItem.product),
                selectinload(Order.shipments),
            )
        )
        .scalars()
        .all()
    )
    returns = returns_by_item(session, [o.id for o in orders])
    return [_summary(o, returns) for o in orders]


# ---- cancellation ------------------------------------------------------------------------------


def _cannot_cancel(order: Order | OrderSummary) -> CannotCancel:
    """Why ``order`` can no longer be cancelled, as the error the customer is told."""
    ref = f"Order #{order.order_number}"
    if order.status == "cancelled":
        when = f" (on {long_date(order.cancelled_at)})" if order.cancelled_at else ""
        return CannotCancel(
            f"{ref} is already cancelled{when}; there's nothing more to do.", "cancelled"
        )
    if order.status == "delivered":
        deadline = order.return_deadline if isinstance(order, OrderSummary) else None
        deadline = deadline or (return_deadline(order) if isinstance(order, Order) else None)
        until = f" until {long_date(deadline)}" if deadline else ""
        return CannotCancel(
            f"{ref} has already been delivered, so it can't be cancelled any more. "
            f"You can return items{until} instead.",
            "delivered",
        )
    return CannotCancel(
        f"{ref} has already shipped, so it can't be cancelled any more. Once it arrives you can "
        f"return it within {RETURN_WINDOW_DAYS} days of delivery.",
        "shipped",
    )


def cancel_order(
    session: Session,
    order_number: int | str,
    requester: Requester,
    *,
    now: dt.datetime | None = None,
) -> OrderSummary:
    """The order after cancelling it; CannotCancel once shipped, delivered or already cancelled.

    The change is one conditional UPDATE (``WHERE id = :id AND status IN ('pending','paid')``), so
    a double confirmation or two concurrent requests cancel the order exactly once: whoever loses
    the race sees 0 rows changed and gets "already cancelled".
    """
    order = load_order(session, order_number, requester)
    if order.status not in CANCELLABLE_STATUSES:
        raise _cannot_cancel(order)
    result = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status.in_(CANCELLABLE_STATUSES))
        .values(status="cancelled", cancelled_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(order)
    if result.rowcount != 1:
        raise _cannot_cancel(order)
    return _summary(order, returns_by_item(session, [order.id]))
