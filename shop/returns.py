"""Returns: which lines of an order can go back, one RMA per line (exactly once), and where
a customer's returns stand.

Every function takes an SQLAlchemy session opened by the caller (``session_scope``) and leaves
committing to it; orders are loaded through :func:`shop.access.load_order`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from shop.access import Requester, check_guest, load_order, owns, record_failure
from shop.errors import (
    InvalidQuantity,
    ItemNotIdentified,
    MissingDetails,
    NotReturnable,
    ReturnAccessDenied,
    ShopbotError,
)
from shop.orders import RETURN_WINDOW_DAYS, OrderLine, order_line, return_deadline, returns_by_item
from shop.store.db import begin_write
from shop.store.models import Order, OrderItem, Return, utcnow
from shop.text import iso, long_date, match_names, parse_order_number, parse_rma_number

# How long the customer has to send a parcel back once the RMA exists.
SEND_BACK_DAYS = 14
RECENT_RETURNS_LIMIT = 10


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
        data["created_at"] = iso(self.created_at)
        data["updated_at"] = iso(self.updated_at)
        return data


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
    deadline = return_deadline(order)
    if deadline is not None and today > deadline:
        return NotReturnable(
            f"The {RETURN_WINDOW_DAYS}-day return window for {ref} closed on {long_date(deadline)}, "
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
    order = load_order(session, order_number, requester)
    problem = _order_not_returnable(order, today or utcnow().date())
    if problem is not None:
        raise problem
    returns = returns_by_item(session, [order.id])
    lines = [
        order_line(i, None) for i in sorted(order.items, key=lambda i: i.id) if i.id not in returns
    ]
    if not lines:
        raise NotReturnable(
            f"Everything in order #{order.order_number} already has a return. Ask me for the "
            "return status to see where it is.",
            "all_returned",
        )
    return lines


def named_lines(text: str, lines: list[OrderLine]) -> list[OrderLine]:
    """The lines ``text`` names: by SKU or full name if it gives them, else the best matches of
    the product matcher (several when they tie; none when nothing matches)."""
    wanted = text.strip().lower()
    exact = [line for line in lines if line.name.lower() == wanted or line.sku.lower() in wanted]
    if len(exact) == 1:
        return exact
    candidates = exact or lines
    return [candidates[i] for i in match_names(text, [line.name for line in candidates])]


def find_line(text: object, lines: list[OrderLine]) -> OrderLine | None:
    """The one line ``text`` names, or None when it names none or several (ask again)."""
    found = named_lines(str(text or ""), lines)
    return found[0] if len(found) == 1 else None


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
        top = named_lines(product_text, lines)
        if not top:
            raise ItemNotIdentified(
                f"I couldn't find \u201c{product_text.strip()}\u201d in {ref}. It contains: {listing}. "
                "Which one would you like to return?",
                lines,
                "not_in_order",
            )
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
    order = load_order(session, order_number, requester)
    today = today or utcnow().date()
    returns = returns_by_item(session, [order.id])
    lines = [
        order_line(i, returns[i.id].rma_number if i.id in returns else None)
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

    begin_write(session)
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
    when = f" on {long_date(ret.updated_at)}" if ret.status == "refunded" and ret.updated_at else ""
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
        check_guest(session, requester, rma)
        row = session.execute(base.where(Return.rma_number == rma)).first()
        if (
            row is None
            or not owns(row[1], requester)
            or (
                order_number is not None and parse_order_number(order_number) != row[1].order_number
            )
        ):
            raise ReturnAccessDenied(rma, left=record_failure(session, requester, rma))
        return [_return_summary(*row)]
    if order_number is not None:
        order = load_order(session, order_number, requester)
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
