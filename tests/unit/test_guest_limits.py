"""Guessing orders as a guest is slowed down in the database: by e-mail, by order number and by
client address across conversations, with a doubling wait and a ceiling for the whole shop;
signed-in customers are never held up."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from shop.access import Requester, check_guest, guest_wait, record_failure
from shop.errors import OrderAccessDenied, ReturnAccessDenied, TooManyAttempts
from shop.orders import cancel_order, get_order
from shop.returns import create_return, return_status, returnable_lines
from shop.store import session_scope
from shop.store.models import LookupFailure, utcnow
from support.shop_data import build_shop

ADA = "ada@example.com"
T0 = dt.datetime(2026, 12, 6, 12, 0, 0)


def fail(engine, requester: Requester, reference, at: dt.datetime) -> int | None:
    with session_scope(engine) as s:
        return record_failure(s, requester, reference, now=at)


def wait(engine, requester: Requester, reference, at: dt.datetime) -> int | None:
    with session_scope(engine) as s:
        return guest_wait(s, requester, reference, now=at)


def test_five_failures_per_email_are_free_then_the_wait_doubles(any_engine):
    guest = Requester(email="victim@example.com")
    lefts = [fail(any_engine, guest, 100000 + i, T0 + dt.timedelta(seconds=i)) for i in range(5)]
    assert lefts == [4, 3, 2, 1, 0]
    last = T0 + dt.timedelta(seconds=4)
    # 5 failures: one minute from the last one, for any order number, whatever the client.
    other_client = Requester(email="Victim@Example.com", client="203.0.113.9")
    assert wait(any_engine, other_client, 999999, last + dt.timedelta(seconds=1)) == 1
    assert wait(any_engine, other_client, 999999, last + dt.timedelta(seconds=61)) is None
    # Each further failure doubles it: 2, then 4 minutes.
    sixth = last + dt.timedelta(seconds=61)
    fail(any_engine, guest, 100006, sixth)
    assert wait(any_engine, guest, 100007, sixth + dt.timedelta(seconds=1)) == 2
    assert wait(any_engine, guest, 100007, sixth + dt.timedelta(seconds=121)) is None
    seventh = sixth + dt.timedelta(seconds=121)
    fail(any_engine, guest, 100008, seventh)
    assert wait(any_engine, guest, 100009, seventh + dt.timedelta(seconds=1)) == 4


def test_failures_count_by_client_address_and_by_order_number(any_engine):
    # One client trying many e-mails and orders.
    for i in range(5):
        fail(
            any_engine, Requester(email=f"g{i}@example.com", client="198.51.100.7"), 200000 + i, T0
        )
    assert wait(any_engine, Requester(email="new@example.com", client="198.51.100.7"), 1, T0) == 1
    assert (
        wait(any_engine, Requester(email="new@example.com", client="198.51.100.8"), 1, T0) is None
    )
    # Many clients and e-mails trying one order number.
    for i in range(5):
        fail(any_engine, Requester(email=f"h{i}@example.com", client=f"10.0.0.{i}"), 104233, T0)
    fresh = Requester(email="fresh@example.com", client="10.9.9.9")
    assert wait(any_engine, fresh, 104233, T0) == 1
    assert wait(any_engine, fresh, 104234, T0) is None


def test_a_ceiling_for_the_whole_shop_per_minute(any_engine, monkeypatch):
    monkeypatch.setenv("SHOPBOT_GUEST_LOOKUP_CEILING", "10")
    for i in range(10):
        at = T0 + dt.timedelta(seconds=i)
        fail(
            any_engine, Requester(email=f"b{i}@example.com", client=f"192.0.2.{i}"), 300000 + i, at
        )
    nobody_yet = Requester(email="innocent@example.com", client="192.0.2.200")
    assert wait(any_engine, nobody_yet, 104233, T0 + dt.timedelta(seconds=10)) == 1
    assert wait(any_engine, nobody_yet, 104233, T0 + dt.timedelta(seconds=61)) is None


def test_old_failures_stop_counting_and_are_deleted(any_engine):
    guest = Requester(email="old@example.com")
    for i in range(6):
        fail(any_engine, guest, 100000 + i, T0)
    tomorrow = T0 + dt.timedelta(days=1, minutes=1)
    assert wait(any_engine, guest, 1, tomorrow) is None
    fail(any_engine, Requester(email="someone@example.com"), 1, tomorrow)
    with session_scope(any_engine) as s:
        assert s.execute(select(func.count()).select_from(LookupFailure)).scalar_one() == 1


def test_the_table_holds_no_e_mails_or_addresses(engine):
    fail(engine, Requester(email="secret.person@example.com", client="192.0.2.55"), 104233, T0)
    with session_scope(engine) as s:
        row = s.execute(select(LookupFailure)).scalar_one()
    values = {row.email_key, row.order_key, row.client_key}
    assert all(v and len(v) == 32 for v in values)
    assert not any("secret" in v or "192.0.2" in v or "104233" in v for v in values)


def test_signed_in_customers_are_never_held_up(engine):
    ids = build_shop(engine)
    for i in range(5):  # someone guesses e-mails for Ada's order
        with pytest.raises(OrderAccessDenied), session_scope(engine) as s:
            get_order(s, 104233, Requester(email=f"x{i}@example.com"))
    with pytest.raises(TooManyAttempts), session_scope(engine) as s:
        get_order(s, 104233, Requester(email=ADA))  # even the right e-mail now waits
    with session_scope(engine) as s:
        assert guest_wait(s, Requester(customer_id=ids["ada"]), 104233) is None
        assert get_order(s, 104233, Requester(customer_id=ids["ada"])).order_number == 104233


def test_every_path_that_reveals_an_order_counts_and_waits(engine):
    """Status, cancellation, returnable lines, creating a return and return status by order or
    RMA: each failure counts against the same guest, and once waiting, each one refuses."""
    build_shop(engine)
    guest = Requester(email="mallory@example.com", client="203.0.113.66")
    attempts = [
        lambda s: get_order(s, 104233, guest),
        lambda s: cancel_order(s, 104300, guest),
        lambda s: returnable_lines(s, 104240, guest),
        lambda s: create_return(s, 104240, guest, sku="HOM-0007", reason="x"),
        lambda s: return_status(s, guest, order_number=104240),
    ]
    for attempt in attempts:
        with pytest.raises(OrderAccessDenied), session_scope(engine) as s:
            attempt(s)
    for attempt in [*attempts, lambda s: return_status(s, guest, rma_number="RMA-123456")]:
        with pytest.raises(TooManyAttempts), session_scope(engine) as s:
            attempt(s)


def test_rma_guesses_count_too(engine):
    build_shop(engine)
    guest = Requester(email="mallory@example.com")
    lefts = []
    for i in range(5):
        with pytest.raises(ReturnAccessDenied) as err, session_scope(engine) as s:
            return_status(s, guest, rma_number=f"RMA-{500000 + i}")
        lefts.append(err.value.left)
    assert lefts == [4, 3, 2, 1, 0]
    with pytest.raises(TooManyAttempts), session_scope(engine) as s:
        return_status(s, guest, rma_number="RMA-500009")


def test_a_counted_failure_survives_the_callers_rollback(engine):
    build_shop(engine)
    guest = Requester(email="mallory@example.com")
    with pytest.raises(OrderAccessDenied), session_scope(engine) as s:
        get_order(s, 104233, guest)  # session_scope rolls back on the error
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(LookupFailure)).scalar_one() == 1


def test_the_wait_is_said_in_minutes_and_hours():
    assert "try again in a minute" in str(TooManyAttempts(1))
    assert "try again in 16 minutes" in str(TooManyAttempts(16))
    assert "try again in 17 hours" in str(TooManyAttempts(1024))
    assert "sign in" in str(TooManyAttempts(1))


def test_check_guest_raises_with_the_wait(engine):
    guest = Requester(email="v@example.com")
    now = utcnow()
    for i in range(5):
        fail(engine, guest, i, now)
    with pytest.raises(TooManyAttempts) as err, session_scope(engine) as s:
        check_guest(s, guest, 7)
    assert err.value.minutes == 1
