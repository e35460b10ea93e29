"""Customer service on a real database: who may see, cancel and return which order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shop.access import Requester
from shop.errors import (
    CannotCancel,
    InvalidOrderNumber,
    InvalidQuantity,
    ItemNotIdentified,
    MissingDetails,
    NotFound,
    NotReturnable,
    OrderAccessDenied,
    ReturnAccessDenied,
    ShopbotError,
)
from shop.orders import cancel_order, get_order, list_recent_orders
from shop.returns import create_return, return_status, returnable_lines
from shop.store import session_scope
from shop.store.models import (
    Order,
    Return,
    SupportTicket,
)
from shop.text import normalise_email, parse_order_number
from shop.tickets import open_ticket
from support.race import race
from support.shop_data import ADA, BOB, build_shop

TODAY = dt.date(2026, 11, 20)
DENIED = (
    "I couldn't find order #{n} with those details. Please check the number on your "
    "confirmation email and the email address you ordered with."
)


@pytest.fixture
def shop(engine):
    return build_shop(engine)


# ---- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("#104233", 104233),
        ("order 104233", 104233),
        ("where is my order #104233?", 104233),
        ("Order # 104233 please", 104233),
        (104233, 104233),
        ("10423", None),
        ("1042334", None),
        ("tracking JD0146000012345", None),
        ("RMA-104233", None),
        ("no number here", None),
        ("", None),
        (None, None),
        (True, None),
        (42, None),
    ],
)
def test_parse_order_number(text, expected):
    assert parse_order_number(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("it's <ada@example.com>.", None),
        ("<ada@example.com>", "ada@example.com"),
        ("ada@example.com.", "ada@example.com"),
        ("mailto:ada@example.com", "ada@example.com"),
        ("ada@example", None),
        ("ada example.com", None),
        ("a@@example.com", None),
        ("ada@exa..mple.com", None),
        (None, None),
        ("x" * 300 + "@example.com", None),
    ],
)
def test_normalise_email(text, expected):
    assert normalise_email(text) == expected


# ---- order status ------------------------------------------------------------------------------


def test_owner_sees_order_with_tracking(any_engine):
    ids = build_shop(any_engine)
    with session_scope(any_engine) as s:
        summary = get_order(s, "#104233", Requester(customer_id=ids["ada"]))
    assert summary.order_number == 104233
    assert summary.status == "shipped"
    assert summary.carrier == "DHL"
    assert summary.tracking_number == "JD0146000012345"
    assert summary.tracking_url == (
        "https://www.dhl.com/global-en/home/tracking.html?tracking-id=JD0146000012345"
    )
    assert summary.estimated_delivery == dt.date(2026, 11, 5)
    assert summary.shipment_status == "in_transit"
    assert summary.total == Decimal("79.80")
    assert summary.can_cancel is False
    assert [(line.sku, line.quantity, line.unit_price) for line in summary.lines] == [
        ("CLO-0042", 2, Decimal("39.90"))
    ]
    assert summary.describe() == (
        "Order #104233 was shipped on 2 November 2026. It's with DHL with tracking number "
        "JD0146000012345 (track it at "
        "https://www.dhl.com/global-en/home/tracking.html?tracking-id=JD0146000012345). "
        "Expected delivery: 5 November 2026."
    )
    data = summary.to_dict()
    assert data["total"] == "79.80"
    assert data["estimated_delivery"] == "2026-11-05"
    assert data["lines"][0]["unit_price"] == "39.90"


def test_guest_with_order_email_sees_order(engine, shop):
    with session_scope(engine) as s:
        # The order was placed as "Ada@Example.com": matching ignores case and spaces.
        summary = get_order(s, 104233, Requester(email=" ADA@example.com "))
        delivered = get_order(s, "order 104240", Requester(email=ADA))
    assert summary.order_number == 104233
    assert delivered.describe() == (
        "Order #104240 was delivered on 23 October 2026. It's with UPS with tracking number "
        "1Z999AA10123456784 (track it at https://www.ups.com/track?tracknum=1Z999AA10123456784). "
        "You can return items until 22 November 2026."
    )
    assert delivered.return_deadline == dt.date(2026, 11, 22)


@pytest.mark.parametrize(
    "number, requester",
    [
        (104301, Requester(customer_id=1)),  # Bob's order, Ada signed in
        (999999, Requester(customer_id=1)),  # no such order
        (104233, Requester(email=BOB)),  # guest with the wrong email
        (104233, Requester()),  # guest without email
        (104233, Requester(email="not an email")),
        (104233, Requester(customer_id=2)),  # Bob asking for Ada's order
    ],
)
def test_lookup_denied_with_identical_message(engine, shop, number, requester):
    with session_scope(engine) as s:
        with pytest.raises(OrderAccessDenied) as err:
            get_order(s, number, requester)
    assert str(err.value) == DENIED.format(n=number)
    assert isinstance(err.value, NotFound)


def test_invalid_order_number(engine, shop):
    with session_scope(engine) as s:
        with pytest.raises(InvalidOrderNumber, match="6 digits"):
            get_order(s, "12", Requester(customer_id=shop["ada"]))


def test_list_recent_orders(engine, shop):
    with session_scope(engine) as s:
        orders = list_recent_orders(s, shop["ada"], limit=3)
        assert list_recent_orders(s, 12345) == []
    assert [o.order_number for o in orders] == [104300, 104233, 104240]
    assert orders[0].describe() == (
        "Order #104300 (placed 19 November 2026) is paid and being prepared for shipping. "
        "You can still cancel it."
    )


# ---- cancellation ------------------------------------------------------------------------------


def _cancelled_count(engine) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).where(Order.status == "cancelled")).scalar_one()


def test_cancel_exactly_once(any_engine):
    ids = build_shop(any_engine)
    ada = Requester(customer_id=ids["ada"])
    when = dt.datetime(2026, 11, 19, 12, 0)
    with session_scope(any_engine) as s:
        summary = cancel_order(s, 104300, ada, now=when)
    assert (summary.status, summary.cancelled_at, summary.can_cancel) == ("cancelled", when, False)
    assert summary.describe() == (
        "Order #104300 (placed 19 November 2026) was cancelled on 19 November 2026."
    )
    with session_scope(any_engine) as s:
        with pytest.raises(CannotCancel) as err:
            cancel_order(s, 104300, ada)
    assert err.value.reason == "cancelled"
    assert str(err.value) == (
        "Order #104300 is already cancelled (on 19 November 2026); there's nothing more to do."
    )
    assert _cancelled_count(any_engine) == 1
    with session_scope(any_engine) as s:
        order = s.execute(select(Order).where(Order.order_number == 104300)).scalar_one()
        assert order.cancelled_at == when


def test_guest_cancels_pending_order(engine, shop):
    with session_scope(engine) as s:
        summary = cancel_order(s, "#104301", Requester(email=BOB))
    assert summary.status == "cancelled"
    assert _cancelled_count(engine) == 1


def test_cannot_cancel_shipped_or_delivered(engine, shop):
    ada = Requester(customer_id=shop["ada"])
    with session_scope(engine) as s:
        with pytest.raises(CannotCancel) as shipped:
            cancel_order(s, 104233, ada)
        with pytest.raises(CannotCancel) as delivered:
            cancel_order(s, 104240, ada)
    assert shipped.value.reason == "shipped"
    assert str(shipped.value) == (
        "Order #104233 has already shipped, so it can't be cancelled any more. Once it arrives "
        "you can return it within 30 days of delivery."
    )
    assert delivered.value.reason == "delivered"
    assert "return items until 22 November 2026" in str(delivered.value)
    assert _cancelled_count(engine) == 0


def test_cannot_cancel_someone_elses_order(engine, shop):
    with session_scope(engine) as s:
        with pytest.raises(OrderAccessDenied) as err:
            cancel_order(s, 104301, Requester(customer_id=shop["ada"]))
        with pytest.raises(OrderAccessDenied):
            cancel_order(s, 104301, Requester(email=ADA))
    assert str(err.value) == DENIED.format(n=104301)
    assert _cancelled_count(engine) == 0
    with session_scope(engine) as s:
        status = s.execute(select(Order.status).where(Order.order_number == 104301)).scalar_one()
    assert status == "pending"


def test_concurrent_cancel_changes_once(any_engine):
    pg_engine = any_engine
    ids = build_shop(pg_engine)
    ada = Requester(customer_id=ids["ada"])

    def cancel(_i):
        with session_scope(pg_engine) as s:
            return cancel_order(s, 104300, ada).status

    results = race(2, cancel)
    assert sorted(map(type, results), key=lambda t: t.__name__) == [CannotCancel, str]
    assert [r.reason for r in results if isinstance(r, CannotCancel)] == ["cancelled"]
    assert _cancelled_count(pg_engine) == 1


# ---- returns -----------------------------------------------------------------------------------


def _return_rows(engine) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(Return)).scalar_one()


def test_returnable_lines(engine, shop):
    with session_scope(engine) as s:
        lines = returnable_lines(s, 104240, Requester(email=ADA), today=TODAY)
    assert [(line.sku, line.quantity) for line in lines] == [
        ("HOM-0007", 1),
        ("HOM-0008", 3),
        ("CLO-0042", 1),
    ]


def test_create_return_then_again_gives_same_rma(engine, shop):
    ada = Requester(customer_id=shop["ada"])
    with session_scope(engine) as s:
        first = create_return(
            s, 104240, ada, product_text="the blue kettle", reason="Leaks", today=TODAY
        )
    assert first.created is True
    assert first.status == "requested"
    assert first.rma_number.startswith("RMA-") and len(first.rma_number) == 10
    assert first.rma_number[4:].isdigit()
    assert (first.line.sku, first.quantity, first.line.return_rma) == (
        "HOM-0007",
        1,
        first.rma_number,
    )
    assert first.instructions.startswith(f"Your return number is {first.rma_number}.")
    assert "1 × Blue Enamel Kettle" in first.instructions
    with session_scope(engine) as s:
        again = create_return(s, 104240, ada, sku="hom-0007", reason="Leaks", today=TODAY)
    assert (again.rma_number, again.created, again.quantity) == (first.rma_number, False, 1)
    assert _return_rows(engine) == 1
    with session_scope(engine) as s:
        row = s.execute(select(Return)).scalar_one()
        assert (row.order_item_id, row.quantity, row.reason, row.status) == (
            shop["kettle_line"],
            1,
            "Leaks",
            "requested",
        )
        lines = returnable_lines(s, 104240, ada, today=TODAY)
        summary = get_order(s, 104240, ada)
    assert [line.sku for line in lines] == ["HOM-0008", "CLO-0042"]
    assert summary.lines[0].return_rma == first.rma_number


def test_return_rolled_back_with_the_callers_transaction(any_engine):
    ids = build_shop(any_engine)

    class CallerFailed(Exception):
        pass

    with pytest.raises(CallerFailed):
        with session_scope(any_engine) as s:
            create_return(
                s,
                104240,
                Requester(customer_id=ids["ada"]),
                sku="HOM-0007",
                reason="x",
                today=TODAY,
            )
            raise CallerFailed
    assert _return_rows(any_engine) == 0


def test_return_by_item_id_with_partial_quantity(engine, shop):
    with session_scope(engine) as s:
        result = create_return(
            s,
            104240,
            Requester(email=ADA),
            item_id=shop["mug_line"],
            quantity="2",
            reason="",
            today=TODAY,
        )
    assert (result.line.name, result.quantity, result.created) == ("Blue Enamel Mug", 2, True)


def test_return_quantity_above_line_rejected(engine, shop):
    with session_scope(engine) as s:
        with pytest.raises(InvalidQuantity) as err:
            create_return(
                s, 104240, Requester(email=ADA), sku="HOM-0008", quantity=4, reason="x", today=TODAY
            )
        with pytest.raises(InvalidQuantity):
            create_return(
                s, 104240, Requester(email=ADA), sku="HOM-0008", quantity=0, reason="x", today=TODAY
            )
    assert str(err.value) == (
        "You bought 3 × Blue Enamel Mug in order #104240, so you can return at most 3."
    )
    assert _return_rows(engine) == 0


def test_ambiguous_item_lists_the_lines(engine, shop):
    with session_scope(engine) as s:
        with pytest.raises(ItemNotIdentified) as ambiguous:
            create_return(
                s, 104240, Requester(email=ADA), product_text="blue enamel", reason="x", today=TODAY
            )
        with pytest.raises(ItemNotIdentified) as unspecified:
            create_return(s, 104240, Requester(email=ADA), reason="x", today=TODAY)
        with pytest.raises(ItemNotIdentified) as missing:
            create_return(s, 104240, Requester(email=ADA), sku="EL-0001", reason="x", today=TODAY)
    assert ambiguous.value.reason == "ambiguous"
    assert str(ambiguous.value) == (
        "More than one item in order #104240 matches \u201cblue enamel\u201d: "
        "1 × Blue Enamel Kettle (HOM-0007); 3 × Blue Enamel Mug (HOM-0008). "
        "Which one would you like to return?"
    )
    assert [line.sku for line in ambiguous.value.lines] == ["HOM-0007", "HOM-0008"]
    assert unspecified.value.reason == "not_specified"
    assert len(unspecified.value.lines) == 3
    assert missing.value.reason == "not_in_order"
    assert _return_rows(engine) == 0


def test_typo_in_product_text_tolerated(engine, shop):
    with session_scope(engine) as s:
        result = create_return(
            s, 104240, Requester(email=ADA), product_text="my kettel", reason="x", today=TODAY
        )
    assert result.line.sku == "HOM-0007"


def test_single_line_order_needs_no_item(engine, shop):
    with session_scope(engine) as s:
        result = create_return(s, 104302, Requester(email=BOB), reason="x", today=TODAY)
    assert (result.line.sku, result.created) == ("HOM-0007", True)


def test_not_returnable_orders(engine, shop):
    ada = Requester(customer_id=shop["ada"])
    with session_scope(engine) as s:
        with pytest.raises(NotReturnable) as window:
            create_return(s, 103001, ada, reason="x", today=TODAY)
        with pytest.raises(NotReturnable) as shipped:
            create_return(s, 104233, ada, product_text="nonsense", reason="x", today=TODAY)
        with pytest.raises(NotReturnable) as late:
            returnable_lines(s, 104240, ada, today=dt.date(2026, 11, 23))
        with pytest.raises(OrderAccessDenied):
            create_return(s, 104302, ada, reason="x", today=TODAY)
    assert window.value.reason == "window_closed"
    assert str(window.value).startswith(
        "The 30-day return window for order #103001 closed on 4 September 2026"
    )
    assert shipped.value.reason == "not_delivered"
    assert str(shipped.value) == (
        "Order #104233 hasn't been delivered yet, so it can't be returned yet. Once it arrives "
        "you have 30 days to return it."
    )
    assert late.value.reason == "window_closed"
    # The last day of the window still counts.
    with session_scope(engine) as s:
        assert len(returnable_lines(s, 104240, ada, today=dt.date(2026, 11, 22))) == 3
    assert _return_rows(engine) == 0


def test_everything_returned(engine, shop):
    with session_scope(engine) as s:
        create_return(s, 104302, Requester(email=BOB), reason="x", today=TODAY)
    with session_scope(engine) as s:
        with pytest.raises(NotReturnable) as err:
            returnable_lines(s, 104302, Requester(email=BOB), today=TODAY)
    assert err.value.reason == "all_returned"


def test_concurrent_returns_make_one_rma(pg_engine):
    ids = build_shop(pg_engine)
    ada = Requester(customer_id=ids["ada"])

    def request(_i):
        with session_scope(pg_engine) as s:
            return create_return(s, 104240, ada, sku="HOM-0007", reason="Leaks", today=TODAY)

    results = race(20, request)
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert len({r.rma_number for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert _return_rows(pg_engine) == 1


# ---- return status -----------------------------------------------------------------------------


def test_return_status(any_engine):
    ids = build_shop(any_engine)
    ada = Requester(customer_id=ids["ada"])
    with session_scope(any_engine) as s:
        kettle = create_return(s, 104240, ada, sku="HOM-0007", reason="Leaks", today=TODAY)
        mug = create_return(s, 104240, ada, sku="HOM-0008", quantity=1, reason="", today=TODAY)
        s.execute(
            select(Return).where(Return.rma_number == mug.rma_number)
        ).scalar_one().status = "refunded"
    with session_scope(any_engine) as s:
        one = return_status(s, Requester(email=ADA), rma_number=kettle.rma_number.lower())
        by_order = return_status(s, ada, order_number="#104240")
        mine = return_status(s, ada)
        assert return_status(s, ada, order_number=104233) == []
        with pytest.raises(ReturnAccessDenied) as other:
            return_status(s, Requester(customer_id=ids["bob"]), rma_number=kettle.rma_number)
        with pytest.raises(ReturnAccessDenied) as unknown:
            return_status(s, Requester(customer_id=ids["bob"]), rma_number="RMA-000000")
        with pytest.raises(OrderAccessDenied):
            return_status(s, Requester(email=BOB), order_number=104240)
        with pytest.raises(MissingDetails):
            return_status(s, Requester(email=ADA))
    assert [(r.rma_number, r.order_number, r.item_name, r.quantity, r.status) for r in one] == [
        (kettle.rma_number, 104240, "Blue Enamel Kettle", 1, "requested")
    ]
    assert one[0].message == (
        f"Return {kettle.rma_number} (1 × Blue Enamel Kettle, order #104240): "
        "We've registered the return and are waiting for your parcel."
    )
    assert {r.rma_number for r in by_order} == {kettle.rma_number, mug.rma_number}
    assert {r.rma_number for r in mine} == {kettle.rma_number, mug.rma_number}
    refunded = next(r for r in mine if r.status == "refunded")
    assert refunded.message.startswith(f"Return {mug.rma_number} (1 × Blue Enamel Mug")
    assert "The refund has been issued on " in refunded.message
    assert str(other.value) == str(unknown.value).replace("RMA-000000", kettle.rma_number)


# ---- tickets -----------------------------------------------------------------------------------


def test_ticket_stored_with_transcript(engine, shop):
    with session_scope(engine) as s:
        linked = open_ticket(
            s,
            kind="complaint",
            conversation_id="conv-1",
            channel="socketio",
            customer_id=shop["ada"],
            order_number="#104233",
            subject="Parcel is late",
            transcript=[("user", "where is my parcel?"), ("bot", "It's with DHL.")],
        )
        unlinked = open_ticket(
            s,
            kind="handoff",
            conversation_id="conv-2",
            customer_id=shop["bob"],
            order_number=104233,  # Ada's order: not linked to Bob's ticket
            subject="Wants a human",
            transcript="user: human please",
        )
        with pytest.raises(ValueError):
            open_ticket(s, kind="other", conversation_id="c", subject="s", transcript="")
    with session_scope(engine) as s:
        a = s.get(SupportTicket, linked)
        b = s.get(SupportTicket, unlinked)
        order_id = s.execute(select(Order.id).where(Order.order_number == 104233)).scalar_one()
        assert (a.kind, a.customer_id, a.order_id, a.channel, a.status) == (
            "complaint",
            shop["ada"],
            order_id,
            "socketio",
            "open",
        )
        assert a.subject == "Parcel is late"
        assert a.transcript == "user: where is my parcel?\nbot: It's with DHL."
        assert (b.kind, b.customer_id, b.order_id) == ("handoff", shop["bob"], None)
        assert b.subject == "Wants a human (order #104233)"
        assert b.transcript == "user: human please"
        assert b.conversation_id == "conv-2"


def test_errors_are_shopbot_errors():
    for cls in (CannotCancel, NotReturnable, ItemNotIdentified, InvalidQuantity, OrderAccessDenied):
        assert issubclass(cls, ShopbotError)
