"""Customer service: order status, cancellations, returns and support tickets (no Rasa here).

Every function takes an SQLAlchemy session opened by the caller (``session_scope``) and leaves
committing to it. Nothing about an order is returned unless the requester proves it is theirs:
a customer verified by a signed session token (``Requester(customer_id=...)``) or a guest who
gives the order's email (``Requester(email=...)``). An order that does not exist and an order that
belongs to someone else raise the same :class:`OrderAccessDenied` with the same message, so the
bot never reveals which order numbers exist.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from analytics.errors import NotFound, ShopbotError
from analytics.store.models import (
    TICKET_KINDS,
    Customer,
    Order,
    OrderItem,
    Return,
    Shipment,
    SupportTicket,
    utcnow,
)

RETURN_WINDOW_DAYS = 30
# Failed order look-ups allowed per conversation before the bot stops trying (the actions count
# them in a slot; see :func:`check_lookup_attempts`). Limits guessing order numbers by brute force.
MAX_FAILED_LOOKUPS = 5
# How long the customer has to send a parcel back once the RMA exists.
SEND_BACK_DAYS = 14
RECENT_RETURNS_LIMIT = 10
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

_NOT_FOUND_TEMPLATE = (
    "I couldn't find order #{number} with those details. Please check the number on your "
    "confirmation email and the email address you ordered with."
)
_RETURN_NOT_FOUND_TEMPLATE = (
    "I couldn't find return {rma} with those details. Please check the return number in your "
    "return email and the email address you ordered with."
)
TOO_MANY_ATTEMPTS_MESSAGE = (
    "I couldn't match those order details several times, so I'll stop checking for now. "
    "Please sign in to your account, or ask for a human and a colleague will help you."
)


# ---- errors ------------------------------------------------------------------------------------


class OrderAccessDenied(NotFound):
    """The order does not exist or is not the requester's (one message for both: no leak)."""

    def __init__(self, order_number: int | str | None):
        self.order_number = order_number
        super().__init__(_NOT_FOUND_TEMPLATE.format(number=order_number))


class ReturnAccessDenied(OrderAccessDenied):
    """The return does not exist or is not the requester's (one message for both: no leak)."""

    def __init__(self, rma_number: str):
        self.order_number = None
        self.rma_number = rma_number
        NotFound.__init__(self, _RETURN_NOT_FOUND_TEMPLATE.format(rma=rma_number))


class InvalidOrderNumber(ShopbotError):
    """The text given is not an order number (6 digits, e.g. #104233)."""

    def __init__(self, text: object):
        self.text = text
        super().__init__(
            "Order numbers have 6 digits, like #104233; you'll find yours in the confirmation "
            "email. Which order do you mean?"
        )


class TooManyAttempts(ShopbotError):
    """Too many failed order look-ups in this conversation."""

    def __init__(self) -> None:
        super().__init__(TOO_MANY_ATTEMPTS_MESSAGE)


class CannotCancel(ShopbotError):
    """The order can't be cancelled; ``reason`` is "shipped", "delivered" or "cancelled"."""

    def __init__(self, message: str, reason: str):
        self.reason = reason
        super().__init__(message)


class NotReturnable(ShopbotError):
    """Nothing can be returned; ``reason``: not_delivered, cancelled, window_closed, all_returned."""

    def __init__(self, message: str, reason: str):
        self.reason = reason
        super().__init__(message)


class ItemNotIdentified(ShopbotError):
    """Which line of the order is meant is unclear; ``lines`` are the candidates to offer."""

    def __init__(self, message: str, lines: Sequence[OrderLine], reason: str):
        self.lines = list(lines)
        self.reason = reason  # "ambiguous" | "not_in_order" | "not_specified"
        super().__init__(message)


class InvalidQuantity(ShopbotError):
    """The quantity to return is not between 1 and what was bought."""


class MissingDetails(ShopbotError):
    """The request lacks what is needed to look anything up."""


# ---- parsing -----------------------------------------------------------------------------------

# An RMA number must not be read as an order number ("RMA-104233").
_RMA_IN_TEXT = re.compile(r"\brma[\s#:\-]*\d+", re.IGNORECASE)
_ORDER_NUMBER = re.compile(r"(?<![A-Za-z0-9\-])#?\s?([1-9]\d{5})(?![\d])")
_EMAIL = re.compile(
    r"^[a-z0-9._%+\-']+@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)+$"
)
_RMA = re.compile(r"^\s*rma[\s#:\-]*(\d{6})\s*$", re.IGNORECASE)


def parse_order_number(text: object) -> int | None:
    """The 6-digit order number in ``text`` ("#104233", "order 104233", 104233), else None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if 100000 <= text <= 999999 else None
    if not isinstance(text, str) or len(text) > 1000:
        return None
    match = _ORDER_NUMBER.search(_RMA_IN_TEXT.sub(" ", text))
    return int(match.group(1)) if match else None


def normalise_email(text: object) -> str | None:
    """``text`` as a trimmed, lower-case email address, or None if it doesn't look like one."""
    if not isinstance(text, str):
        return None
    value = text.strip().strip("<>").strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :]
    # People end sentences with their address: "it's ada@example.com."
    value = value.rstrip(".,;:!?").lower()
    if len(value) > 254 or not _EMAIL.match(value) or ".." in value:
        return None
    return value


def parse_rma_number(text: object) -> str | None:
    """``text`` as a canonical RMA number ("rma 123456" → "RMA-123456"), or None."""
    if not isinstance(text, str):
        return None
    match = _RMA.match(text)
    return f"RMA-{match.group(1)}" if match else None


def check_lookup_attempts(failed_lookups: int) -> None:
    """Nothing, or raise :class:`TooManyAttempts` once MAX_FAILED_LOOKUPS failures were counted."""
    if failed_lookups >= MAX_FAILED_LOOKUPS:
        raise TooManyAttempts()


# ---- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requester:
    """Who asks: a customer verified by a signed token, or a guest with the order's email."""

    customer_id: int | None = None
    email: str | None = None


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
        data["unit_price"] = _money(self.unit_price)
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
        placed = _date(self.placed_at)
        if self.status == "cancelled":
            when = f" on {_date(self.cancelled_at)}" if self.cancelled_at else ""
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
            when = f" on {_date(self.delivered_at)}" if self.delivered_at else ""
            parts.append(f"{ref} was delivered{when}.")
        else:
            shipped = f" on {_date(self.shipped_at)}" if self.shipped_at else ""
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
            parts.append(f"Expected delivery: {_date(self.estimated_delivery)}.")
        if self.status == "delivered" and self.return_deadline:
            parts.append(f"You can return items until {_date(self.return_deadline)}.")
        return " ".join(parts)

    def to_dict(self) -> dict:
        """The summary as JSON-friendly values (ISO dates, money as strings)."""
        return {
            "order_number": self.order_number,
            "status": self.status,
            "placed_at": _iso(self.placed_at),
            "shipped_at": _iso(self.shipped_at),
            "delivered_at": _iso(self.delivered_at),
            "cancelled_at": _iso(self.cancelled_at),
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "tracking_url": self.tracking_url,
            "shipment_status": self.shipment_status,
            "estimated_delivery": _iso(self.estimated_delivery),
            "total": _money(self.total),
            "lines": [line.to_dict() for line in self.lines],
            "can_cancel": self.can_cancel,
            "return_deadline": _iso(self.return_deadline),
            "description": self.describe(),
        }


@dataclass(frozen=True)
class ReturnResult:
    rma_number: str
    status: str
    created: bool
    quantity: int
    line: OrderLine
    instructions: str

    def to_dict(self) -> dict:
        """The result as JSON-friendly values."""
        return {
            "rma_number": self.rma_number,
            "status": self.status,
            "created": self.created,
            "quantity": self.quantity,
            "line": self.line.to_dict(),
            "instructions": self.instructions,
        }


@dataclass(frozen=True)
class ReturnSummary:
    rma_number: str
    order_number: int
    item_name: str
    sku: str
    quantity: int
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    message: str

    def to_dict(self) -> dict:
        """The summary as JSON-friendly values."""
        data = asdict(self)
        data["created_at"] = _iso(self.created_at)
        data["updated_at"] = _iso(self.updated_at)
        return data


# ---- formatting helpers ------------------------------------------------------------------------


def _date(value: dt.date | dt.datetime | None) -> str:
    """ "5 November 2026" (no locale: the bot speaks English)."""
    if value is None:
        return ""
    months = (
        "January February March April May June July August September October November December"
    ).split()
    return f"{value.day} {months[value.month - 1]} {value.year}"


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value: Decimal | float | None) -> str | None:
    if value is None:
        return None
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def tracking_url(carrier: str | None, tracking_number: str | None) -> str | None:
    """The carrier's public tracking page for ``tracking_number``, or None for unknown carriers."""
    if not carrier or not tracking_number:
        return None
    key = re.sub(r"[^a-z]", "", carrier.lower())
    template = TRACKING_URLS.get(key)
    return template.format(n=quote(tracking_number.strip(), safe="")) if template else None


# ---- loading and authorisation -----------------------------------------------------------------


def _coerce_order_number(order_number: int | str) -> int:
    number = parse_order_number(order_number)
    if number is None:
        raise InvalidOrderNumber(order_number)
    return number


def _owns(order: Order, requester: Requester) -> bool:
    """True when the requester has proven the order is theirs (token or the order's email)."""
    if requester.customer_id is not None and order.customer_id == requester.customer_id:
        return True
    email = normalise_email(requester.email)
    if email and order.email:
        # Constant-time comparison: the email is the guest's only secret.
        return hmac.compare_digest(email.encode(), order.email.strip().lower().encode())
    return False


def _load_order(session: Session, order_number: int | str, requester: Requester) -> Order:
    """The requester's order with its lines, products and shipments, or OrderAccessDenied."""
    number = _coerce_order_number(order_number)
    order = session.execute(
        select(Order)
        .where(Order.order_number == number)
        .options(
            selectinload(Order.items).joinedload(OrderItem.product),
            selectinload(Order.shipments),
        )
    ).scalar_one_or_none()
    if order is None or not _owns(order, requester):
        raise OrderAccessDenied(number)
    return order


def _returns_by_item(session: Session, order_ids: Iterable[int]) -> dict[int, Return]:
    ids = list(order_ids)
    if not ids:
        return {}
    rows = session.execute(select(Return).where(Return.order_id.in_(ids))).scalars()
    return {r.order_item_id: r for r in rows}


def _line(item: OrderItem, rma: str | None) -> OrderLine:
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


def _return_deadline(order: Order) -> dt.date | None:
    if order.status != "delivered" or order.delivered_at is None:
        return None
    return order.delivered_at.date() + dt.timedelta(days=RETURN_WINDOW_DAYS)


def _summary(order: Order, returns: dict[int, Return]) -> OrderSummary:
    shipment = _latest_shipment(order)
    carrier = order.carrier or (shipment.carrier if shipment else None)
    number = order.tracking_number or (shipment.tracking_number if shipment else None)
    delivered_at = order.delivered_at or (shipment.delivered_at if shipment else None)
    lines = [
        _line(item, returns[item.id].rma_number if item.id in returns else None)
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
        return_deadline=_return_deadline(order),
    )


# ---- order status ------------------------------------------------------------------------------


def get_order(session: Session, order_number: int | str, requester: Requester) -> OrderSummary:
    """The requester's order; OrderAccessDenied if it doesn't exist or isn't theirs."""
    order = _load_order(session, order_number, requester)
    return _summary(order, _returns_by_item(session, [order.id]))


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
    returns = _returns_by_item(session, [o.id for o in orders])
    return [_summary(o, returns) for o in orders]


# ---- cancellation ------------------------------------------------------------------------------


def _cannot_cancel(order: Order) -> CannotCancel:
    ref = f"Order #{order.order_number}"
    if order.status == "cancelled":
        when = f" (on {_date(order.cancelled_at)})" if order.cancelled_at else ""
        return CannotCancel(
            f"{ref} is already cancelled{when}; there's nothing more to do.", "cancelled"
        )
    if order.status == "delivered":
        deadline = _return_deadline(order)
        until = f" until {_date(deadline)}" if deadline else ""
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
    order = _load_order(session, order_number, requester)
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
    return _summary(order, _returns_by_item(session, [order.id]))


# ---- returns -----------------------------------------------------------------------------------


def _order_not_returnable(order: Order, today: dt.date) -> NotReturnable | None:
    """Why nothing in the order can be returned today (window, delivery), or None."""
    ref = f"order #{order.order_number}"
    if order.status == "cancelled":
        return NotReturnable(
            f"Order #{order.order_number} was cancelled, so there's nothing to return.",
            "cancelled",
        )
    if order.status != "delivered" or order.delivered_at is None:
        return NotReturnable(
            f"Order #{order.order_number} hasn't been delivered yet, so it can't be returned yet. "
            f"Once it arrives you have {RETURN_WINDOW_DAYS} days to return it.",
            "not_delivered",
        )
    deadline = _return_deadline(order)
    if deadline is not None and today > deadline:
        return NotReturnable(
            f"The {RETURN_WINDOW_DAYS}-day return window for {ref} closed on {_date(deadline)}, "
            "so it can't be returned any more. If an item is faulty, ask about our warranty or "
            "ask for a human.",
            "window_closed",
        )
    return None


def returnable_lines(
    session: Session,
    order_number: int | str,
    requester: Requester,
    today: dt.date | None = None,
) -> list[OrderLine]:
    """The lines of the requester's order that can still be returned; NotReturnable if none."""
    order = _load_order(session, order_number, requester)
    problem = _order_not_returnable(order, today or utcnow().date())
    if problem is not None:
        raise problem
    returns = _returns_by_item(session, [order.id])
    lines = [_line(i, None) for i in sorted(order.items, key=lambda i: i.id) if i.id not in returns]
    if not lines:
        raise NotReturnable(
            f"Everything in order #{order.order_number} already has a return. Ask me for the "
            "return status to see where it is.",
            "all_returned",
        )
    return lines


_STOPWORDS = frozenset(
    "a an the my your our this that these those of for to and or with in on i want would like "
    "return returning send back please it its one ones item items product thing from order".split()
)


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS]


def _match_score(text_words: list[str], name: str) -> float:
    """How many of the customer's words appear in the name (a close typo counts 0.8)."""
    name_words = _words(name)
    hits = 0.0
    for word in text_words:
        if word in name_words:
            hits += 1
        elif len(word) >= 4 and difflib.get_close_matches(word, name_words, n=1, cutoff=0.8):
            hits += 0.8
    return hits


def _choose_line(
    order: Order,
    lines: list[OrderLine],
    *,
    sku: str | None,
    item_id: int | None,
    product_text: str | None,
) -> OrderLine:
    """The line the customer means, or ItemNotIdentified listing the candidates."""
    listing = "; ".join(line.label() for line in lines)
    ref = f"order #{order.order_number}"
    if item_id is not None:
        found = [line for line in lines if line.item_id == item_id]
        if found:
            return found[0]
        raise ItemNotIdentified(
            f"That item isn't part of {ref}. It contains: {listing}.", lines, "not_in_order"
        )
    if sku:
        wanted = sku.strip().upper()
        found = [line for line in lines if line.sku.upper() == wanted]
        if found:
            return found[0]
        raise ItemNotIdentified(
            f"{wanted} isn't part of {ref}. It contains: {listing}.", lines, "not_in_order"
        )
    if product_text and product_text.strip():
        text = product_text.strip().lower()
        exact = [line for line in lines if line.name.lower() == text or line.sku.lower() in text]
        if len(exact) == 1:
            return exact[0]
        words = _words(text)
        scored = [(_match_score(words, line.name), line) for line in (exact or lines)]
        best = max((s for s, _ in scored), default=0.0)
        if best < 0.3:
            raise ItemNotIdentified(
                f"I couldn't find \u201c{product_text.strip()}\u201d in {ref}. It contains: {listing}. "
                "Which one would you like to return?",
                lines,
                "not_in_order",
            )
        top = [line for s, line in scored if s >= best - 1e-9]
        if len(top) == 1:
            return top[0]
        options = "; ".join(line.label() for line in top)
        raise ItemNotIdentified(
            f"More than one item in {ref} matches \u201c{product_text.strip()}\u201d: {options}. "
            "Which one would you like to return?",
            top,
            "ambiguous",
        )
    if len(lines) == 1:
        return lines[0]
    raise ItemNotIdentified(
        f"Which item of {ref} would you like to return? It contains: {listing}.",
        lines,
        "not_specified",
    )


def _instructions(rma: str, line: OrderLine, quantity: int) -> str:
    return (
        f"Your return number is {rma}. Pack {quantity} × {line.name} (in its original packaging "
        f"if you can), write {rma} clearly on the parcel, and send it within {SEND_BACK_DAYS} days "
        "using the prepaid return label we email to the address on your order. We refund your "
        "original payment method within 5 business days of receiving the parcel."
    )


def _new_rma(session: Session) -> str:
    """An RMA number not used yet (random, so numbers don't reveal how many returns exist)."""
    for _ in range(20):
        candidate = f"RMA-{secrets.randbelow(1_000_000):06d}"
        exists = session.execute(select(Return.id).where(Return.rma_number == candidate)).first()
        if exists is None:
            return candidate
    raise ShopbotError("I couldn't create a return number just now. Please try again.")


def _existing_result(ret: Return, line: OrderLine) -> ReturnResult:
    line = OrderLine(**{**asdict(line), "return_rma": ret.rma_number})
    return ReturnResult(
        rma_number=ret.rma_number,
        status=ret.status,
        created=False,
        quantity=ret.quantity,
        line=line,
        instructions=_instructions(ret.rma_number, line, ret.quantity),
    )


def _ensure_transaction(session: Session) -> None:
    """Make sure a SAVEPOINT will be nested in a real write transaction (pysqlite quirks).

    pysqlite only emits BEGIN before a data-changing statement. A SAVEPOINT issued when only
    SELECTs ran so far starts its own transaction, and releasing it then commits at once, so a
    return would survive the caller's rollback. Starting the transaction explicitly avoids that.
    It is BEGIN IMMEDIATE, taking the write lock now (waiting up to the busy timeout): in WAL
    mode a deferred transaction that reads (the RMA number check) and then writes fails at once
    with "database is locked" when another writer committed in between, which is exactly what
    concurrent requests for the same return do.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    dbapi_conn = conn.connection.dbapi_connection
    if not dbapi_conn.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_return(
    session: Session,
    order_number: int | str,
    requester: Requester,
    *,
    sku: str | None = None,
    item_id: int | None = None,
    product_text: str | None = None,
    quantity: int | None = None,
    reason: str,
    today: dt.date | None = None,
) -> ReturnResult:
    """The return (RMA) for one line of the requester's order, created or the existing one.

    Idempotent: asking again for a line that already has a return gives that return back with
    ``created=False``. Concurrency-safe: the ``returns`` table allows one return per order line,
    and a request that loses the race re-reads the winner's RMA inside a SAVEPOINT, so the
    caller's session stays usable.
    """
    order = _load_order(session, order_number, requester)
    today = today or utcnow().date()
    returns = _returns_by_item(session, [order.id])
    lines = [
        _line(i, returns[i.id].rma_number if i.id in returns else None)
        for i in sorted(order.items, key=lambda i: i.id)
    ]
    problem = _order_not_returnable(order, today)
    try:
        line = _choose_line(order, lines, sku=sku, item_id=item_id, product_text=product_text)
    except ItemNotIdentified:
        # "Not delivered yet" is more useful than "which item?" when nothing can be returned.
        if problem is not None:
            raise problem from None
        raise
    if line.item_id in returns:
        return _existing_result(returns[line.item_id], line)
    if problem is not None:
        raise problem

    if quantity is None:
        quantity = line.quantity
    elif isinstance(quantity, str) and quantity.strip().isdigit():
        quantity = int(quantity.strip())
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidQuantity("How many would you like to return? Please give a whole number.")
    if quantity > line.quantity:
        raise InvalidQuantity(
            f"You bought {line.quantity} × {line.name} in order #{order.order_number}, so you can "
            f"return at most {line.quantity}."
        )
    reason_text = (reason or "").strip()[:500] or None

    _ensure_transaction(session)
    for _attempt in range(5):
        rma = _new_rma(session)
        now = utcnow()
        try:
            with session.begin_nested():
                session.add(
                    Return(
                        rma_number=rma,
                        order_id=order.id,
                        order_item_id=line.item_id,
                        quantity=quantity,
                        reason=reason_text,
                        status="requested",
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            # Either another request created the return for this line first (re-read it), or
            # the random RMA number was taken in the meantime (try another one).
            existing = session.execute(
                select(Return).where(Return.order_item_id == line.item_id)
            ).scalar_one_or_none()
            if existing is not None:
                return _existing_result(existing, line)
            continue
        created_line = OrderLine(**{**asdict(line), "return_rma": rma})
        return ReturnResult(
            rma_number=rma,
            status="requested",
            created=True,
            quantity=quantity,
            line=created_line,
            instructions=_instructions(rma, created_line, quantity),
        )
    raise ShopbotError("I couldn't register the return just now. Please try again in a minute.")


_RETURN_STATUS_SENTENCES = {
    "requested": "We've registered the return and are waiting for your parcel.",
    "approved": "The return is approved; please send the parcel with the prepaid label we emailed.",
    "received": (
        "We've received your parcel and are checking it; the refund follows within 5 business days."
    ),
    "refunded": "The refund has been issued{when}; it can take a few days to show on your statement.",
    "rejected": (
        "We couldn't accept this return; we've emailed you why. Reply to that email or ask me "
        "for a human if you disagree."
    ),
}


def _return_summary(ret: Return, order: Order, item: OrderItem) -> ReturnSummary:
    sentence = _RETURN_STATUS_SENTENCES.get(ret.status, f"Its status is {ret.status}.")
    when = f" on {_date(ret.updated_at)}" if ret.status == "refunded" and ret.updated_at else ""
    message = (
        f"Return {ret.rma_number} ({ret.quantity} × {item.product.name}, order "
        f"#{order.order_number}): " + sentence.format(when=when)
    )
    return ReturnSummary(
        rma_number=ret.rma_number,
        order_number=order.order_number,
        item_name=item.product.name,
        sku=item.product.sku,
        quantity=ret.quantity,
        status=ret.status,
        created_at=ret.created_at,
        updated_at=ret.updated_at,
        message=message,
    )


def return_status(
    session: Session,
    requester: Requester,
    *,
    rma_number: str | None = None,
    order_number: int | str | None = None,
) -> list[ReturnSummary]:
    """The requester's returns: one RMA, those of one order, or (signed in) the latest ones.

    An RMA or order that doesn't exist or isn't the requester's raises ReturnAccessDenied or
    OrderAccessDenied with the same message as a missing one. An order without returns gives [].
    """
    base = (
        select(Return, Order, OrderItem)
        .join(Order, Return.order_id == Order.id)
        .join(OrderItem, Return.order_item_id == OrderItem.id)
        .options(joinedload(OrderItem.product))
        .order_by(Return.created_at.desc(), Return.id.desc())
    )
    if rma_number is not None:
        rma = parse_rma_number(rma_number) or str(rma_number).strip().upper()[:20]
        row = session.execute(base.where(Return.rma_number == rma)).first()
        if row is None or not _owns(row[1], requester):
            raise ReturnAccessDenied(rma)
        if order_number is not None and parse_order_number(order_number) != row[1].order_number:
            raise ReturnAccessDenied(rma)
        return [_return_summary(*row)]
    if order_number is not None:
        order = _load_order(session, order_number, requester)
        rows = session.execute(base.where(Return.order_id == order.id)).all()
        return [_return_summary(*row) for row in rows]
    if requester.customer_id is not None:
        rows = session.execute(
            base.where(Order.customer_id == requester.customer_id).limit(RECENT_RETURNS_LIMIT)
        ).all()
        return [_return_summary(*row) for row in rows]
    raise MissingDetails(
        "Please give me your return number (like RMA-123456) or your order number, and the "
        "email address you ordered with."
    )


# ---- support tickets ---------------------------------------------------------------------------


def _transcript_text(transcript: str | Sequence) -> str:
    """The transcript as text: a string as is, or one line per turn ("user: …", "bot: …")."""
    if isinstance(transcript, str):
        return transcript
    lines = []
    for turn in transcript or []:
        if isinstance(turn, str):
            lines.append(turn)
        elif isinstance(turn, dict):
            who = turn.get("speaker") or turn.get("event") or turn.get("role") or "?"
            lines.append(f"{who}: {turn.get('text') or ''}")
        elif isinstance(turn, (tuple, list)) and len(turn) == 2:
            lines.append(f"{turn[0]}: {turn[1]}")
        else:
            lines.append(str(turn))
    return "\n".join(lines)


def open_ticket(
    session: Session,
    *,
    kind: str,
    conversation_id: str,
    channel: str | None = None,
    customer_id: int | None = None,
    order_number: int | str | None = None,
    subject: str,
    transcript: str | Sequence,
) -> int:
    """The id of a new support ticket (hand-off or complaint) with the conversation transcript.

    The order is linked only when it belongs to ``customer_id`` (a verified customer); otherwise
    its number is kept in the subject text, so a guest can't attach someone else's order.
    """
    if kind not in TICKET_KINDS:
        raise ValueError(f"kind must be one of {TICKET_KINDS}, got {kind!r}")
    subject_text = (subject or "").strip() or kind
    if customer_id is not None and session.get(Customer, customer_id) is None:
        # A token for a customer that no longer exists: keep the ticket, drop the dangling link.
        subject_text = f"{subject_text} (unknown customer {customer_id})"
        customer_id = None
    order_id = None
    number = parse_order_number(order_number) if order_number is not None else None
    if number is not None:
        if customer_id is not None:
            order_id = session.execute(
                select(Order.id).where(
                    Order.order_number == number, Order.customer_id == customer_id
                )
            ).scalar_one_or_none()
        if order_id is None and f"#{number}" not in subject_text:
            subject_text = f"{subject_text} (order #{number})"
    ticket = SupportTicket(
        kind=kind,
        customer_id=customer_id,
        order_id=order_id,
        conversation_id=str(conversation_id)[:200],
        channel=(channel or None) and str(channel)[:40],
        subject=subject_text[:300],
        transcript=_transcript_text(transcript),
        status="open",
        created_at=utcnow(),
    )
    session.add(ticket)
    session.flush()
    return ticket.id
