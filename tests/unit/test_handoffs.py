"""Hand-offs in the store, on SQLite and PostgreSQL: one owner, each message relayed once, the
outbox, reminders and the weekly figures."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from shop import handoffs, tickets
from shop.store import session_scope
from shop.store.models import Handoff, SupportTicket
from support.race import race

T0 = dt.datetime(2026, 11, 30, 9, 0)  # a Monday


def _open(engine, conversation="web:abc", now=T0) -> int:
    with session_scope(engine) as s:
        ticket = tickets.open_ticket(
            s,
            kind="handoff",
            conversation_id=conversation,
            channel="socketio",
            subject="Hand-off: a human please",
            transcript=[("customer", "a human please")],
        )
        return handoffs.open_handoff(
            s,
            ticket_id=ticket,
            conversation_id=conversation,
            channel="socketio",
            reason="asked for a human",
            now=now,
        )


def test_two_staff_taking_over_at_once_give_one_owner(any_engine):
    for attempt in range(3):  # a race that happens to be won cleanly once proves little
        hid = _open(any_engine, f"web:race{attempt}")

        def take(i: int, hid: int = hid):
            with session_scope(any_engine) as s:
                return handoffs.take_over(s, hid, f"USTAFF{i}", f"Staff {i}")

        results = race(6, take)
        assert not [r for r in results if isinstance(r, Exception)], results
        winners = [r for r in results if r.outcome == "taken"]
        assert len(winners) == 1, results
        owner = winners[0].assignee
        assert {r.assignee for r in results} == {owner}
        assert all(r.outcome == "other" for r in results if r is not winners[0])
        with session_scope(any_engine) as s:
            row = s.get(Handoff, hid)
            assert (row.state, row.assignee) == ("agent", owner)


def test_take_over_again_is_yours_and_after_resolve_closed(any_engine):
    hid = _open(any_engine)
    with session_scope(any_engine) as s:
        assert handoffs.take_over(s, hid, "USAM", "Sam").outcome == "taken"
    with session_scope(any_engine) as s:
        assert handoffs.take_over(s, hid, "USAM", "Sam").outcome == "yours"
        assert handoffs.take_over(s, hid, "UKIM", "Kim") == handoffs.TakeOver(
            "other", "USAM", "Sam"
        )
    with session_scope(any_engine) as s:
        assert handoffs.resolve(s, hid, by="Sam", outcome="answered") is True
    with session_scope(any_engine) as s:
        assert handoffs.resolve(s, hid, by="Sam") is False  # once only
        assert handoffs.take_over(s, hid, "UKIM", "Kim").outcome == "closed"
        row = s.get(Handoff, hid)
        ticket = s.get(SupportTicket, row.ticket_id)
        assert (row.state, row.outcome) == ("resolved", "answered")
        assert ticket.status == "resolved" and ticket.transcript.endswith("answered by Sam")
        assert handoffs.active_for_conversation(s, "web:abc") is None


def test_each_message_key_is_recorded_once_even_when_racing(any_engine):
    hid = _open(any_engine)
    with session_scope(any_engine) as s:
        view = handoffs.get(s, hid)

    def relay(i: int):
        with session_scope(any_engine) as s:
            return handoffs.record_message(
                s, view, "to_customer", "1712345678.000100", "Hi!", "Sam"
            )

    results = race(5, relay)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len([r for r in results if r is not None]) == 1
    with session_scope(any_engine) as s:
        # The same ts in the other direction, or another ts, are other messages.
        assert handoffs.record_message(s, view, "to_thread", "1712345678.000100", "x") is not None
        assert handoffs.record_message(s, view, "to_customer", "1712345679.1", "More") is not None
        assert [o.text for o in handoffs.outbox(s, "web:abc")] == ["Hi!", "More"]
        assert handoffs.outbox(s, "web:other") == []


def test_outbox_message_is_claimed_by_one_delivery(any_engine):
    hid = _open(any_engine)
    with session_scope(any_engine) as s:
        mid = handoffs.record_message(s, handoffs.get(s, hid), "to_customer", "k1", "Hello")

    def claim(i: int):
        with session_scope(any_engine) as s:
            return handoffs.claim_delivery(s, mid)

    assert sorted(race(4, claim)) == [False, False, False, True]
    with session_scope(any_engine) as s:
        assert handoffs.outbox(s, "web:abc") == []


def test_thread_lookup_card_queue_and_reminders(any_engine):
    hid = _open(any_engine, now=T0)
    with session_scope(any_engine) as s:
        assert [h.id for h in handoffs.without_card(s)] == [hid]
        assert handoffs.due_reminders(s, 10, now=T0 + dt.timedelta(hours=1)) == []  # no card yet
        token = handoffs.claim_card(s, hid)
        assert token and handoffs.claim_card(s, hid) is None  # one server posts the card
        handoffs.release_card(s, hid, token)  # posting failed: tried again later
        token = handoffs.claim_card(s, hid)
        assert not handoffs.attach_thread(s, hid, "CSUPPORT", "1700000000.000002", "claim-lost")
        assert handoffs.attach_thread(s, hid, "CSUPPORT", "1700000000.000001", token)
    with session_scope(any_engine) as s:
        assert handoffs.without_card(s) == []
        assert handoffs.by_thread(s, "CSUPPORT", "1700000000.000001").id == hid
        assert handoffs.by_thread(s, "COTHER", "1700000000.000001") is None
        assert handoffs.due_reminders(s, 10, now=T0 + dt.timedelta(minutes=9)) == []
        due = handoffs.due_reminders(s, 10, now=T0 + dt.timedelta(minutes=11))
        assert [h.id for h in due] == [hid]
        assert handoffs.mark_reminded(s, hid) and not handoffs.mark_reminded(s, hid)
        assert handoffs.due_reminders(s, 10, now=T0 + dt.timedelta(minutes=30)) == []


def test_weekly_stats_recover_planted_timings(any_engine):
    # Week 1: three hand-offs answered after 2, 4 and 12 minutes, resolved after 10, 20, 60.
    # Week 2: one, answered after 1 minute, never resolved. Week 0: none.
    planted = [
        (T0, 2, 10),
        (T0 + dt.timedelta(days=1), 4, 20),
        (T0 + dt.timedelta(days=6, hours=10), 12, 60),
        (T0 + dt.timedelta(days=7), 1, None),
    ]
    for i, (opened, first, resolved) in enumerate(planted):
        hid = _open(any_engine, f"web:w{i}", now=opened)
        with session_scope(any_engine) as s:
            s.execute(select(Handoff).where(Handoff.id == hid)).scalar_one()
            handoffs.take_over(s, hid, "USAM", "Sam", now=opened + dt.timedelta(minutes=first))
            if resolved is not None:
                handoffs.resolve(s, hid, "Sam", now=opened + dt.timedelta(minutes=resolved))
    with session_scope(any_engine) as s:
        stats = handoffs.weekly_stats(s, weeks=3, now=T0 + dt.timedelta(days=8))
    assert [w.week for w in stats] == [
        dt.date(2026, 11, 23),
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 7),
    ]
    assert [w.count for w in stats] == [0, 3, 1]
    assert [w.resolved for w in stats] == [0, 3, 0]
    assert [w.median_first_response_min for w in stats] == [None, 4.0, 1.0]
    assert [w.median_resolution_min for w in stats] == [None, 20.0, None]
    with session_scope(any_engine) as s:
        assert [h.conversation_id for h in handoffs.open_handoffs(s)] == ["web:w3"]


def test_support_hours_say_when_the_team_is_back():
    import pytest

    from shop.settings import SettingError
    from shop.support_hours import out_of_hours_note, parse

    hours = parse("mon-fri 08:00-20:00, sat 09:00-17:00", "UTC")
    assert out_of_hours_note(dt.datetime(2026, 12, 2, 10, 0), hours) is None  # Wednesday 10:00
    assert "today at 08:00" in out_of_hours_note(dt.datetime(2026, 12, 2, 6, 0), hours)
    assert "tomorrow at 08:00" in out_of_hours_note(dt.datetime(2026, 12, 2, 21, 0), hours)
    assert "tomorrow at 09:00" in out_of_hours_note(dt.datetime(2026, 12, 4, 20, 0), hours)
    # Saturday after closing: back on Monday.
    assert "on Monday at 08:00" in out_of_hours_note(dt.datetime(2026, 12, 5, 17, 30), hours)
    berlin = parse("mon-fri 08:00-20:00", "Europe/Berlin")
    assert berlin.is_open(dt.datetime(2026, 12, 2, 7, 30))  # 08:30 in Berlin
    assert not berlin.is_open(dt.datetime(2026, 12, 2, 19, 30))  # 20:30 in Berlin
    with pytest.raises(SettingError, match="SHOPBOT_SUPPORT_HOURS"):
        parse("weekdays 9-5")
    with pytest.raises(SettingError, match="SHOPBOT_SUPPORT_TIMEZONE"):
        parse("mon 08:00-10:00", "Mars/Olympus")


def test_context_card_shows_what_the_customer_proved_and_escapes_their_text(engine):
    from decimal import Decimal

    from analytics.reports.handoff_card import context_card
    from shop.store.models import AnalyticsRun, Customer, CustomerSegment, Order

    with session_scope(engine) as s:
        ada = Customer(email="ada@example.com", name="Ada Lovelace")
        s.add(ada)
        s.flush()
        for number, status in ((104233, "shipped"), (104234, "delivered")):
            s.add(
                Order(
                    order_number=number,
                    customer_id=ada.id,
                    email=ada.email,
                    status=status,
                    placed_at=T0,
                    total=Decimal("10"),
                )
            )
        run = AnalyticsRun(kind="segments", model_version="v1")
        s.add(run)
        s.flush()
        s.add(CustomerSegment(run_id=run.id, customer_id=ada.id, segment=0, label="Loyal fans"))
        ticket = tickets.open_ticket(
            s,
            kind="handoff",
            conversation_id="web:ada",
            customer_id=ada.id,
            subject="Hand-off",
            transcript=[("customer", "<!channel> help *now*"), ("bot", "passing you on")],
        )
        signed_in = handoffs.open_handoff(
            s, ticket_id=ticket, conversation_id="web:ada", channel="socketio", reason="<@U1> hi"
        )
        guest_ticket = tickets.open_ticket(
            s, kind="handoff", conversation_id="rest:g", subject="x", transcript=[]
        )
        guest = handoffs.open_handoff(
            s,
            ticket_id=guest_ticket,
            conversation_id="rest:g",
            channel="rest",
            reason="help",
            guest_email="ADA@example.com",
            guest_order=104233,
        )
        card = json.dumps(context_card(s, handoffs.get(s, signed_in)))
        guest_card = json.dumps(context_card(s, handoffs.get(s, guest)))
    assert "Signed in: Ada Lovelace" in card and "Loyal fans" in card
    assert "#104233 (shipped)" in card and "104234" not in card  # delivered is not open
    assert "&lt;!channel&gt; help" in card and "<!channel>" not in card
    assert "&lt;@U1&gt; hi" in card
    assert "Guest, verified order #104233 (shipped)" in guest_card


def test_staff_reports_list_open_handoffs_and_weekly_figures(engine):
    from analytics.reports.handoffs import handoff_stats_report, open_handoffs_report

    assert "No hand-offs are open" in open_handoffs_report(engine).summary
    waiting = _open(engine, "web:a", now=T0)
    taken = _open(engine, "web:b", now=T0 + dt.timedelta(minutes=5))
    with session_scope(engine) as s:
        handoffs.take_over(s, taken, "USAM", "Sam", now=T0 + dt.timedelta(minutes=8))
    report = open_handoffs_report(engine, now=T0 + dt.timedelta(minutes=30))
    assert report.data == {"open": 2, "waiting": 1}
    text = report.to_text()
    assert "30 min" in text and "with a colleague" in text and "Sam" in text
    stats = handoff_stats_report(engine, weeks=2, now=T0 + dt.timedelta(days=1))
    assert [w["count"] for w in stats.data["weeks"]] == [0, 2]
    assert stats.data["weeks"][1]["median_first_response_min"] == 3.0
    assert stats.chart_png and stats.chart_png.startswith(b"\x89PNG")
    assert waiting


def test_conversations_waiting_for_a_reply(any_engine):
    first, second = _open(any_engine, "web:one"), _open(any_engine, "web:two")
    with session_scope(any_engine) as s:
        a = handoffs.record_message(s, handoffs.get(s, first), "to_customer", "k", "Hi")
        handoffs.record_message(s, handoffs.get(s, second), "to_thread", "k", "Hello")
        handoffs.record_message(s, handoffs.get(s, second), "note", "n", "note: x")
        assert handoffs.conversations_waiting(s) == ["web:one"]
        handoffs.claim_delivery(s, a)
        assert handoffs.conversations_waiting(s) == []
