"""Who may see an order: a customer verified by a signed session token, or a guest who gives
the order's e-mail address. Nothing about an order is returned before that is proven.

An order that does not exist and an order that belongs to someone else raise the same
:class:`~shop.errors.OrderAccessDenied` with the same message, so no answer tells which order
numbers exist.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shop.errors import InvalidOrderNumber, OrderAccessDenied, TooManyAttempts
from shop.store.models import Order, OrderItem
from shop.text import normalise_email, parse_order_number

# Failed order look-ups allowed per conversation before the bot stops trying (the actions count
# them in a slot). Limits guessing order numbers by brute force.
MAX_FAILED_LOOKUPS = 5


@dataclass(frozen=True)
class Requester:
    """Who asks: a customer verified by a signed token, or a guest with the order's email."""

    customer_id: int | None = None
    email: str | None = None

    @property
    def identified(self) -> bool:
        """True when there is something to check an order against (a customer or an e-mail)."""
        return self.customer_id is not None or bool(self.email)


def check_lookup_attempts(failed_lookups: int) -> None:
    """Nothing, or raise :class:`TooManyAttempts` once MAX_FAILED_LOOKUPS failures were counted."""
    if failed_lookups >= MAX_FAILED_LOOKUPS:
        raise TooManyAttempts()


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


def load_order(session: Session, order_number: int | str, requester: Requester) -> Order:
    """The requester's order with its lines, products and shipments, or OrderAccessDenied."""
    number = coerce_order_number(order_number)
    order = session.execute(
        select(Order)
        .where(Order.order_number == number)
        .options(
            selectinload(Order.items).joinedload(OrderItem.product),
            selectinload(Order.shipments),
        )
    ).scalar_one_or_none()
    if order is None or not owns(order, requester):
        raise OrderAccessDenied(number)
    return order
