"""Who may see an order: a customer verified by a signed session token, or a guest who gives
the order's e-mail address. Nothing about an order is returned before that is proven.

An order that does not exist and an order that belongs to someone else raise the same
:class:`~shop.errors.OrderAccessDenied` with the same message, so no answer tells which order
numbers exist.

Guests could still guess (order numbers are nearly sequential), so every failed guest look-up is
counted in the database (table ``lookup_failures``) by e-mail, by order number and by client
address, whatever the conversation: each of them gets ``SHOPBOT_GUEST_LOOKUP_FAILURES`` failures
a day free, then every further failure doubles the wait before the next look-up (1, 2, 4 …
minutes, at most a day). Above ``SHOPBOT_GUEST_LOOKUP_CEILING`` failures a minute in the whole
shop, every guest waits for the minute to pass. A waiting guest gets
:class:`~shop.errors.TooManyAttempts` (try again in N minutes, or sign in) and nothing else.
Signed-in customers are never held up: their token proves who they are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, selectinload

from shop import settings
from shop.errors import InvalidOrderNumber, OrderAccessDenied, TooManyAttempts
from shop.store.models import LookupFailure, Order, OrderItem, utcnow
from shop.text import normalise_email, parse_order_number

# Failures older than this no longer count (and are deleted).
FAILURE_WINDOW = dt.timedelta(days=1)
LONGEST_WAIT = dt.timedelta(days=1)
CEILING_PERIOD = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Requester:
    """Who asks: a customer verified by a signed token, or a guest with the order's email.

    ``client`` is the client's address as the channel saw it (guests' failures count against
    it too)."""

    customer_id: int | None = None
    email: str | None = None
    client: str | None = None

    @property
    def identified(self) -> bool:
        """True when there is something to check an order against (a customer or an e-mail)."""
        return self.customer_id is not None or bool(self.email)

    @property
    def is_guest(self) -> bool:
        return self.customer_id is None


# ---- counting guests' failures -----------------------------------------------------------------


def _key(kind: str, value: object) -> str | None:
    """A short hash standing for ``value`` in ``lookup_failures`` (None for no value)."""
    if value is None or value == "":
        return None
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:32]


def _keys(requester: Requester, reference: object) -> dict[str, str | None]:
    """The columns a failure of ``requester`` looking up ``reference`` is counted under."""
    return {
        "email_key": _key("email", normalise_email(requester.email)),
        "order_key": _key("ref", str(reference).strip().upper() if reference else None),
        "client_key": _key("client", requester.client),
    }


def _minutes_until(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def guest_wait(
    session: Session, requester: Requester, reference: object, now: dt.datetime | None = None
) -> int | None:
    """Minutes a guest must wait before looking up ``reference`` (an order or RMA number), or
    None when they may look it up now. Always None for a signed-in customer."""
    if not requester.is_guest:
        return None
    now = now or utcnow()
    free = settings.GUEST_LOOKUP_FAILURES.number(1)
    waits = []
    matches = [
        getattr(LookupFailure, column) == key
        for column, key in _keys(requester, reference).items()
        if key is not None
    ]
    # One query: the count and latest time of this guest's failures under each of its keys.
    row = (
        ()
        if not matches
        else session.execute(
            select(
                *[func.count().filter(m) for m in matches],
                *[func.max(LookupFailure.at).filter(m) for m in matches],
            ).where(LookupFailure.at > now - FAILURE_WINDOW, or_(*matches))
        ).one()
    )
    for count, last in zip(row[: len(matches)], row[len(matches) :]):
        if count >= free and last is not None:
            wait = min(dt.timedelta(minutes=2 ** (count - free)), LONGEST_WAIT)
            if last + wait > now:
                waits.append(last + wait)
    ceiling = settings.GUEST_LOOKUP_CEILING.number(1)
    recent = (
        select(LookupFailure.at)
        .where(LookupFailure.at > now - CEILING_PERIOD)
        .order_by(LookupFailure.at.desc())
        .limit(ceiling)
    )
    times = session.execute(recent).scalars().all()
    if len(times) >= ceiling:
        waits.append(min(times) + CEILING_PERIOD)
    return _minutes_until(max(waits), now) if waits else None


def check_guest(
    session: Session, requester: Requester, reference: object, now: dt.datetime | None = None
) -> None:
    """Nothing, or :class:`TooManyAttempts` when this guest must wait before a look-up."""
    minutes = guest_wait(session, requester, reference, now)
    if minutes is not None:
        raise TooManyAttempts(minutes)


def record_failure(
    session: Session, requester: Requester, reference: object, now: dt.datetime | None = None
) -> int | None:
    """Counts a guest's failed look-up of ``reference`` (kept even if the caller's transaction
    rolls back); returns how many more failures this guest has before waiting starts (None for
    a signed-in customer, whose failures are not counted)."""
    if not requester.is_guest:
        return None
    now = now or utcnow()
    keys = _keys(requester, reference)
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    assert isinstance(engine, Engine)
    # Its own transaction: the caller's session rolls back on the error that follows.
    with engine.begin() as conn:
        conn.execute(insert(LookupFailure).values(at=now, **keys))
        conn.execute(delete(LookupFailure).where(LookupFailure.at < now - FAILURE_WINDOW))
        counted = [
            conn.execute(
                select(func.count()).where(
                    getattr(LookupFailure, column) == key, LookupFailure.at > now - FAILURE_WINDOW
                )
            ).scalar_one()
            for column, key in keys.items()
            if key is not None and column != "order_key"
        ]
    free = settings.GUEST_LOOKUP_FAILURES.number(1)
    return max(0, free - max(counted, default=0))


def purge_failures(session: Session, now: dt.datetime | None = None) -> int:
    """Deletes failures that no longer count; returns how many."""
    now = now or utcnow()
    result = session.execute(delete(LookupFailure).where(LookupFailure.at < now - FAILURE_WINDOW))
    return int(result.rowcount or 0)


# ---- orders ------------------------------------------------------------------------------------


def coerce_order_number(order_number: int | str) -> int:
    """``order_number`` as an int, or InvalidOrderNumber."""
    number = parse_order_number(order_number)
    if number is None:
        raise InvalidOrderNumber(order_number)
    return number


def owns(order: Order, requester: Requester) -> bool:
    """True when the requester has proven the order is theirs (token or the order's email)."""
    if requester.customer_id is not None and order.customer_id == requester.customer_id:
        return True
    email = normalise_email(requester.email)
    if email and order.email:
        # Constant-time comparison: the email is the guest's only secret.
        return hmac.compare_digest(email.encode(), order.email.strip().lower().encode())
    return False


def order_with_lines(session: Session, number: int) -> Order | None:
    """Order ``number`` with its lines, products and shipments, whoever asks (None if none)."""
    return session.execute(
        select(Order)
        .where(Order.order_number == number)
        .options(
            selectinload(Order.items).joinedload(OrderItem.product),
            selectinload(Order.shipments),
        )
    ).scalar_one_or_none()


def load_order(session: Session, order_number: int | str, requester: Requester) -> Order:
    """The requester's order with its lines, products and shipments.

    OrderAccessDenied (counted for a guest) when it doesn't exist or isn't theirs;
    TooManyAttempts when a guest must wait first."""
    number = coerce_order_number(order_number)
    check_guest(session, requester, number)
    order = order_with_lines(session, number)
    if order is None or not owns(order, requester):
        raise OrderAccessDenied(number, left=record_failure(session, requester, number))
    return order
