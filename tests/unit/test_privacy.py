"""A customer's data on request and the shop's retention: ``shopbot privacy export|erase|purge``
on a real shop database and a real SQLite tracker store, each reporting what it changed."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from bot.cli.main import main
from bot.identity import issue_token
from bot.server.tracker_store import ShopSQLTrackerStore
from shop import handoffs
from shop.store import session_scope
from shop.store.models import (
    Customer,
    Event,
    Handoff,
    HandoffMessage,
    Order,
    Rating,
    SupportTicket,
    utcnow,
)
from support.shop_data import ADA, build_shop

SECRET = "privacy-test-secret-0123456789-abcdef"


@pytest.fixture
def world(engine, sqlite_url, tmp_path, monkeypatch):
    """Ada's shop data with a ticket, ratings and events, and her conversations (one in the
    tracker store as a signed-in customer, one only named by her ticket), beside Bob's."""
    ids = build_shop(engine)
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SHOPBOT_TRACKER_STORE_URL", tracker_url)
    monkeypatch.setenv("SHOPBOT_SESSION_SECRET", SECRET)
    with session_scope(engine) as s:
        old = utcnow() - dt.timedelta(days=200)
        s.add_all(
            [
                SupportTicket(
                    kind="handoff",
                    customer_id=ids["ada"],
                    conversation_id="rest:ada-ticket",
                    subject="Hand-off: my parcel never came, I live at 1 Main St",
                    transcript="customer: my parcel never came, I live at 1 Main St",
                    created_at=old,
                ),
                SupportTicket(
                    kind="complaint",
                    conversation_id="rest:guest",
                    subject="Complaint: rude courier",
                    transcript="customer: rude courier, call me on 0123",
                    created_at=utcnow(),
                ),
                Rating(customer_id=ids["ada"], product_id=1, rating=5.0),
                Event(customer_id=ids["ada"], product_id=2, kind="view"),
                Rating(customer_id=ids["bob"], product_id=1, rating=2.0),
            ]
        )
    with session_scope(engine) as s:
        # Ada's old ticket was handed to the team: two messages relayed through its thread.
        ticket = s.execute(
            select(SupportTicket.id).where(SupportTicket.customer_id == ids["ada"])
        ).scalar_one()
        hid = handoffs.open_handoff(
            s,
            ticket_id=ticket,
            conversation_id="rest:ada-ticket",
            channel="rest",
            reason="my parcel never came, I live at 1 Main St",
            now=utcnow() - dt.timedelta(days=200),
        )
        view = handoffs.get(s, hid)
        handoffs.record_message(s, view, "to_thread", "m1", "it's 1 Main St", "customer")
        handoffs.record_message(s, view, "to_customer", "1.2", "We'll resend it", "Sam")
    store = ShopSQLTrackerStore(
        domain=Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db")
    )
    token = issue_token(ids["ada"], secret=SECRET)
    for sender, meta, text in (
        ("web:ada", {"session_token": token}, "where is my order #104233"),
        ("rest:ada-ticket", {}, "my parcel never came"),
        ("rest:bob", {}, "hello"),
    ):
        tracker = DialogueStateTracker.from_events(
            sender,
            [
                ActionExecuted("action_listen"),
                UserUttered(text, {"name": "greet"}, metadata=meta),
                BotUttered("Let me look."),
            ],
        )
        asyncio.run(store.save(tracker))
    store.engine.dispose()
    return {**ids, "engine": engine, "tracker_url": tracker_url}


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_export_gives_everything_about_the_customer_and_nothing_of_others(world, capsys):
    code, out = run_cli(capsys, "privacy", "export", ADA)
    assert code == 0
    data = json.loads(out)
    assert data["customer"]["email"] == ADA
    assert sorted(o["order_number"] for o in data["orders"]) == [103001, 104233, 104240, 104300]
    assert [t["subject"] for t in data["support_tickets"]] == [
        "Hand-off: my parcel never came, I live at 1 Main St"
    ]
    assert [r["rating"] for r in data["ratings"]] == [5.0]
    assert [m["text"] for m in data["handoff_messages"]] == ["it's 1 Main St", "We'll resend it"]
    assert set(data["conversations"]) == {"web:ada", "rest:ada-ticket"}
    assert data["conversations"]["web:ada"][0]["text"] == "where is my order #104233"
    assert "bob" not in out.lower()


def test_erase_anonymises_the_customer_and_deletes_their_conversations(world, capsys):
    code, out = run_cli(capsys, "privacy", "erase", ADA, "--yes", "--json")
    assert code == 0
    report = json.loads(out)
    assert report == {
        "customer_id": world["ada"],
        "customer": 1,
        "order_emails": 4,
        "handoff_messages": 2,
        "ticket_transcripts": 1,
        "ratings": 1,
        "events": 1,
        "segments": 0,
        "offer_exposures": 0,
        "experiment_assignments": 0,
        "promotion_codes": 0,
        "conversation_events": 6,
        "conversations": 2,
    }
    with session_scope(world["engine"]) as s:
        ada = s.get(Customer, world["ada"])
        assert (ada.name, ada.email, ada.country, ada.external_id) == (None, None, None, None)
        assert (
            s.execute(select(Order.email).where(Order.customer_id == world["ada"])).scalars().all()
            == [None] * 4
        )
        ticket = s.execute(
            select(SupportTicket).where(SupportTicket.customer_id == world["ada"])
        ).scalar_one()
        assert "Main St" not in ticket.subject + ticket.transcript
        assert s.execute(select(HandoffMessage)).all() == []
        assert s.execute(select(Handoff.reason)).scalar_one() is None
        assert s.execute(select(Rating).where(Rating.customer_id == world["bob"])).scalar_one()
        assert len(s.execute(select(Order).where(Order.customer_id == world["ada"])).all()) == 4
    code, out = run_cli(capsys, "privacy", "export", f"id:{world['ada']}")
    data = json.loads(out)
    assert (
        data["conversations"] == {} and data["ratings"] == [] and data["customer"]["name"] is None
    )


def test_erase_without_yes_and_without_a_terminal_changes_nothing(world, capsys):
    code = main(["privacy", "erase", ADA])
    assert code == 2
    assert "add --yes" in capsys.readouterr().err
    with session_scope(world["engine"]) as s:
        assert s.get(Customer, world["ada"]).email == ADA


def test_purge_removes_old_transcripts_and_keeps_recent_ones(world, capsys):
    code, out = run_cli(capsys, "privacy", "purge", "--days", "90", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["days"] == 90 and report["ticket_transcripts"] == 1
    assert report["handoff_messages"] == 2  # of the 200-day-old hand-off
    assert report["conversation_events"] == 0  # every conversation here is recent
    with session_scope(world["engine"]) as s:
        tickets = {t.conversation_id: t for t in s.execute(select(SupportTicket)).scalars()}
    assert tickets["rest:ada-ticket"].transcript == "(transcript removed)"
    assert tickets["rest:ada-ticket"].subject == "handoff"
    assert "rude courier" in tickets["rest:guest"].transcript
    code, out = run_cli(capsys, "privacy", "purge", "--days", "90", "--json")
    assert json.loads(out)["ticket_transcripts"] == 0
    assert json.loads(out)["handoff_messages"] == 0
