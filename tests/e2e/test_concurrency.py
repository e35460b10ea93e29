"""Many requests for the same thing at the same moment: exactly one of them changes the shop.

``create_return`` raced by 50 threads on SQLite and on PostgreSQL (one return row; every other
request gets the existing RMA back as "already being returned"), and the same race through the
real servers: 50 conversations of one signed-in customer, spread over two Rasa servers, confirming
the return of the same item at once (``pg_assistant`` in tests/support/servers.py; demo order 104234 is
this file's, see tests/e2e/test_faults.py for the others).
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shop.access import Requester
from shop.returns import ReturnResult, create_return
from shop.store import make_engine, session_scope
from shop.store.models import Customer, Order, OrderItem, Product, Return, utcnow
from support.conversation import Chat, buttons, is_apology, texts_of
from support.race import race

RACERS = 50
ADA = 1  # the demo account whose order 104234's shirt (CLO-0001) is raced for here


def _delivered_order(engine) -> dict:
    """One customer with one delivered order of two lines (delivered two days ago)."""
    delivered = utcnow() - dt.timedelta(days=2)
    with session_scope(engine) as s:
        customer = Customer(email="lin@example.com", name="Lin Racer")
        shirt = Product(sku="CLO-0900", name="Linen Shirt", category="clothing", price=Decimal(30))
        mug = Product(sku="HOM-0900", name="Enamel Mug", category="home", price=Decimal(9))
        s.add_all([customer, shirt, mug])
        s.flush()
        order = Order(
            order_number=555001,
            customer_id=customer.id,
            email=customer.email,
            status="delivered",
            placed_at=delivered - dt.timedelta(days=3),
            shipped_at=delivered - dt.timedelta(days=2),
            delivered_at=delivered,
            total=Decimal(48),
        )
        order.items.append(OrderItem(product_id=shirt.id, quantity=1, unit_price=Decimal(30)))
        order.items.append(OrderItem(product_id=mug.id, quantity=2, unit_price=Decimal(9)))
        s.add(order)
        s.flush()
        return {"customer": customer.id, "shirt_item": order.items[0].id}


def test_fifty_racing_returns_make_one_rma(any_engine):
    ids = _delivered_order(any_engine)
    who = Requester(customer_id=ids["customer"])

    def request_return(i: int) -> ReturnResult:
        with session_scope(any_engine) as s:
            return create_return(s, "#555001", who, sku="CLO-0900", reason=f"too big ({i})")

    results = race(RACERS, request_return)

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    created = [r for r in results if r.created]
    assert len(created) == 1
    winner = created[0]
    # Everyone else is told the item is already being returned, under the winner's RMA.
    others = [r for r in results if not r.created]
    assert len(others) == RACERS - 1
    assert {(r.rma_number, r.status, r.quantity) for r in others} == {
        (winner.rma_number, "requested", 1)
    }
    assert all(r.line.return_rma == winner.rma_number for r in results)
    with session_scope(any_engine) as s:
        rows = s.execute(select(Return)).scalars().all()
        assert [(r.rma_number, r.order_item_id, r.quantity, r.status) for r in rows] == [
            (winner.rma_number, ids["shirt_item"], 1, "requested")
        ]
        assert rows[0].reason == winner_reason(results)
        assert s.scalar(select(func.count()).select_from(Return)) == 1


def winner_reason(results: list) -> str:
    """The reason the winning request gave ("too big (i)" for its thread i)."""
    (i,) = [i for i, r in enumerate(results) if r.created]
    return f"too big ({i})"


def test_returns_of_other_lines_are_not_blocked_by_the_race(any_engine):
    """The race on one line leaves the order's other line returnable, once."""
    ids = _delivered_order(any_engine)
    who = Requester(customer_id=ids["customer"])

    def request_return(i: int) -> ReturnResult:
        sku = "CLO-0900" if i % 2 == 0 else "HOM-0900"
        with session_scope(any_engine) as s:
            return create_return(s, 555001, who, sku=sku, reason="changed my mind")

    results = race(20, request_return)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(r.line.sku for r in results if r.created) == ["CLO-0900", "HOM-0900"]
    by_sku = {r.line.sku: r.rma_number for r in results if r.created}
    assert all(r.rma_number == by_sku[r.line.sku] for r in results)
    with session_scope(any_engine) as s:
        assert s.scalar(select(func.count()).select_from(Return)) == 2


@pytest.mark.rasa
@pytest.mark.postgres
def test_fifty_conversations_confirming_one_return_at_once_make_one_rma(pg_assistant):
    a = pg_assistant
    chats = [Chat(a, ADA, server=i % 2) for i in range(RACERS)]
    all_asked = threading.Barrier(RACERS)

    def customer(chat: Chat) -> tuple[str, str]:
        """(what the confirmation question said, what the bot answered to "yes")."""
        try:
            replies = chat.say("I want to return an item from order #104234")
            shirt = [b["payload"] for b in buttons(replies) if "(CLO-0001)" in b["title"]]
            if shirt:  # both items can still be returned: the customer picks the shirt
                replies = chat.say(shirt[0])
            assert "reason" in texts_of(replies).lower(), replies
            question = texts_of(chat.say("too small"))
        except BaseException:
            all_asked.abort()
            raise
        all_asked.wait(timeout=600)  # everyone confirms at the same moment
        return question, texts_of(chat.say("yes"))

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(customer, chats))

    questions = {q for q, _ in outcomes}
    assert questions == {
        "Just to confirm: return 1 × Slim Fit Linen Shirt (CLO-0001) from order #104234, "
        "reason: \u201ctoo small\u201d. Shall I register the return?"
    }
    answers = [answer for _, answer in outcomes]
    created = [x for x in answers if x.startswith("Your return is registered. Your return number")]
    assert len(created) == 1, answers
    rma = created[0][created[0].index("RMA-") :][:10]
    # Everyone else is told, politely, that the item already has that return.
    already = f"That item already has a return: {rma} (status: requested)."
    assert sorted(x.startswith(already) for x in answers) == [False] + [True] * (RACERS - 1)
    assert not any(is_apology([{"text": x}]) for x in answers)
    engine = make_engine(a.db_url)
    try:
        with session_scope(engine) as s:
            rows = s.execute(
                select(Return.rma_number, Return.quantity, Return.reason)
                .join(Order, Return.order_id == Order.id)
                .where(Order.order_number == 104234)
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [(rma, 1, "too small")]


pytestmark = pytest.mark.slow
