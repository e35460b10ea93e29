"""What the conversation stores keep of a customer: never a session token (the customer it
verified as instead), and conversations found, exported, deleted and purged by age, on a real
SQLite tracker store written by shopbot's store and on Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid

import pytest
import redis
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.identity import issue_token
from bot.server.conversations import Conversations
from bot.server.tracker_store import ShopRedisTrackerStore, ShopSQLTrackerStore, scrub

SECRET = "conversation-privacy-test-secret-0123456789"
REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture(autouse=True)
def session_secret(monkeypatch):
    monkeypatch.setenv("SHOPBOT_SESSION_SECRET", SECRET)


def conversation(sender: str, customer_id: int | None, at: float | None = None):
    metadata = {}
    if customer_id is not None:
        token = issue_token(customer_id, secret=SECRET)
        metadata = {"session_token": token, "customData": {"session_token": token, "x": 1}}
    events = [
        # Rasa keeps the metadata of a session's first message in this slot.
        SlotSet("session_started_metadata", metadata, timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
        UserUttered(
            "where is my order #104233",
            {"name": "order_status", "confidence": 1.0},
            metadata=metadata,
            timestamp=at,
        ),
        BotUttered("It was shipped yesterday.", timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]
    return DialogueStateTracker.from_events(sender, events)


@pytest.fixture
def sqlite_store(tmp_path):
    path = tmp_path / "tracker.db"
    store = ShopSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(path))
    yield store, f"sqlite:///{path}"
    store.engine.dispose()


def rows(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = [json.loads(d) for (d,) in conn.execute(sa.text("SELECT data FROM events"))]
    engine.dispose()
    return found


def test_stored_messages_keep_the_customer_not_the_token(sqlite_store):
    store, url = sqlite_store
    asyncio.run(store.save(conversation("web:abc", customer_id=7)))
    stored = json.dumps(rows(url))
    assert "session_token" not in stored and "eyJ" not in stored  # no JWT anywhere
    [user] = [r for r in rows(url) if r["event"] == "user"]
    assert user["metadata"] == {"customData": {"x": 1}, "session_customer": 7}
    [slot] = [r for r in rows(url) if r["event"] == "slot"]
    assert slot["value"] == {"customData": {"x": 1}, "session_customer": 7}
    assert user["parse_data"]["metadata"]["session_customer"] == 7


def test_a_forged_token_is_stored_as_no_customer():
    event = UserUttered("hi", metadata={"session_token": "forged.token.value"}).as_dict()
    clean = scrub(event)
    assert clean["metadata"] == {"session_customer": None}
    assert "session_token" not in json.dumps(clean)
    plain = UserUttered("hi", metadata={"other": 1}).as_dict()
    assert scrub(plain)["metadata"] == {"other": 1}


def test_a_customers_conversations_are_found_exported_and_deleted(sqlite_store):
    store, url = sqlite_store
    for sender, customer in (("web:ada-1", 7), ("web:ada-2", 7), ("rest:bob", 8), ("rest:x", None)):
        asyncio.run(store.save(conversation(sender, customer)))
    conversations = Conversations(url)
    try:
        assert conversations.of_customer(7) == {"web:ada-1", "web:ada-2"}
        exported = conversations.export({"web:ada-1"})
        assert [(line["who"], line["text"]) for line in exported["web:ada-1"]] == [
            ("customer", "where is my order #104233"),
            ("assistant", "It was shipped yesterday."),
        ]
        assert conversations.delete({"web:ada-1", "web:ada-2"}) == 10
        assert conversations.of_customer(7) == set()
        assert conversations.of_customer(8) == {"rest:bob"}
    finally:
        conversations.close()


def test_purge_deletes_events_older_than_the_retention(sqlite_store):
    store, url = sqlite_store
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=120)).timestamp()
    asyncio.run(store.save(conversation("rest:old", None, at=old)))
    asyncio.run(store.save(conversation("rest:new", None)))
    conversations = Conversations(url)
    try:
        assert conversations.purge(days=90) == 5
        assert {r["text"] for r in rows(url) if r.get("text")} == {
            "where is my order #104233",
            "It was shipped yesterday.",
        }
        assert conversations.purge(days=90) == 0
    finally:
        conversations.close()


def test_tokens_stored_before_are_removed_by_purge(sqlite_store):
    store, url = sqlite_store
    asyncio.run(store.save(conversation("rest:new", None)))
    # A row as an earlier version stored it: the token in the clear.
    token = issue_token(9, secret=SECRET)
    legacy = [
        SlotSet("session_started_metadata", {"session_token": token}).as_dict(),
        UserUttered("hello", metadata={"session_token": token}).as_dict(),
    ]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for raw in legacy:
            conn.execute(
                sa.text(
                    "INSERT INTO events (sender_id, type_name, timestamp, data) "
                    "VALUES ('rest:legacy', :type, :t, :d)"
                ),
                {"type": raw["event"], "t": raw["timestamp"], "d": json.dumps(raw)},
            )
    engine.dispose()
    conversations = Conversations(url)
    try:
        assert conversations.scrub_tokens() == 2
        assert token not in json.dumps(rows(url))
        assert conversations.of_customer(9) == {"rest:legacy"}
        assert conversations.scrub_tokens() == 0
    finally:
        conversations.close()


def test_redis_keeps_no_token_and_conversations_can_be_deleted():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    store = ShopRedisTrackerStore(Domain.empty(), host="127.0.0.1", port=6379, db=13)
    sender = f"web:{uuid.uuid4().hex}"
    asyncio.run(store.save(conversation(sender, customer_id=7)))
    stored = client.get(f"tracker:{sender}").decode()
    assert "session_token" not in stored and '"session_customer": 7' in stored
    conversations = Conversations(REDIS_URL)
    assert conversations.of_customer(7) == {sender}
    assert conversations.export({sender})[sender][0]["text"] == "where is my order #104233"
    assert conversations.delete({sender}) == 1
    assert client.get(f"tracker:{sender}") is None
    client.flushdb()
