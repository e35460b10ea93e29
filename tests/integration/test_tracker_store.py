"""The conversation store across a PostgreSQL restart, and the channel guard when a turn fails.

Runs against a private PostgreSQL server (tests/support/pg_cluster.py) that the tests restart; the
end-to-end version with real Rasa servers is in tests/e2e/test_faults.py.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy.exc
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels import guard
from bot.channels.guard import handle_or_apologise
from bot.server.tracker_store import ShopSQLTrackerStore, fail_loudly, primary_store
from shop.errors import APOLOGY
from support.pg_cluster import PrivatePostgres


@pytest.fixture(scope="module")
def postgres():
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


def _store(cls, pg: PrivatePostgres, db: str):
    return cls(
        domain=Domain.empty(),
        dialect="postgresql",
        host="127.0.0.1",
        port=pg.port,
        db=db,
        username="postgres",
        login_db="postgres",  # as bot/endpoints.py writes it: Rasa creates the database
    )


def _conversation(sender: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_listen"),
            UserUttered("where is my order #104233"),
            BotUttered("Which e-mail address did you use for that order?"),
            ActionExecuted("action_listen"),
        ],
    )


def _texts(tracker: DialogueStateTracker | None) -> list[str]:
    assert tracker is not None
    return [e.text for e in tracker.events if isinstance(e, (UserUttered, BotUttered))]


@pytest.mark.postgres
def test_shop_store_survives_a_postgres_restart_where_rasas_does_not(postgres):
    ours = _store(ShopSQLTrackerStore, postgres, "tracker_ours")
    rasas = _store(SQLTrackerStore, postgres, "tracker_rasa")
    for store in (ours, rasas):
        asyncio.run(store.save(_conversation("c1")))
        assert _texts(asyncio.run(store.retrieve("c1"))) == [
            "where is my order #104233",
            "Which e-mail address did you use for that order?",
        ]
    postgres.restart()

    # Rasa's own engine hands out a connection that died with the restart.
    with pytest.raises(sqlalchemy.exc.OperationalError):
        asyncio.run(rasas.retrieve("c1"))
    # Ours checks it first and connects again: the first turn after the restart just works.
    assert _texts(asyncio.run(ours.retrieve("c1"))) == [
        "where is my order #104233",
        "Which e-mail address did you use for that order?",
    ]
    tracker = asyncio.run(ours.retrieve("c1"))
    tracker.update(UserUttered("ada@example.com"))
    asyncio.run(ours.save(tracker))
    assert _texts(asyncio.run(ours.retrieve("c1")))[-1] == "ada@example.com"
    assert ours.engine.pool._pre_ping and ours.engine.url.database == "tracker_ours"
    ours.engine.dispose()
    rasas.engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_forget_turn_deletes_exactly_the_latest_turn(dialect, postgres, tmp_path):
    if dialect == "sqlite":
        store = ShopSQLTrackerStore(
            domain=Domain.empty(), dialect="sqlite", db=str(tmp_path / "t.db")
        )
    else:
        store = _store(ShopSQLTrackerStore, postgres, "tracker_forget")
    tracker = _conversation("c1")
    tracker.update(UserUttered("ada@example.com", message_id="m2"))
    tracker.update(ActionExecuted("order_lookup_form"))  # its call failed: nothing else
    tracker.update(ActionExecuted("action_listen"))
    asyncio.run(store.save(tracker))
    asyncio.run(store.save(_conversation("other")))

    # Only the turn of the message that failed, and only while it is the latest.
    assert asyncio.run(store.forget_turn("c1", "some-other-message")) is False
    assert asyncio.run(store.forget_turn("c1", "m2")) is True
    kept = asyncio.run(store.retrieve("c1"))
    assert [e.as_dict()["event"] for e in kept.events] == ["action", "user", "bot", "action"]
    assert _texts(kept)[-1] == "Which e-mail address did you use for that order?"
    assert asyncio.run(store.forget_turn("c1", "m2")) is False  # gone already
    assert len(asyncio.run(store.retrieve("other")).events) == 4
    # The conversation goes on from there: the next save appends the new turn after it.
    kept.update(UserUttered("ada@example.com", message_id="m3"))
    asyncio.run(store.save(kept))
    assert _texts(asyncio.run(store.retrieve("c1")))[-1] == "ada@example.com"
    store.engine.dispose()


def test_primary_store_is_the_one_behind_rasas_wrapper():
    inner = InMemoryTrackerStore(Domain.empty())
    assert primary_store(FailSafeTrackerStore(inner)) is inner
    assert primary_store(inner) is inner


class _BrokenStore(InMemoryTrackerStore):
    """A store whose database is down."""

    async def retrieve(self, sender_id):
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("connection refused"))

    async def save(self, tracker):
        raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("connection refused"))


def test_rasas_failsafe_store_forgets_the_conversation_unless_told_to_fail_loudly():
    wrapped = FailSafeTrackerStore(_BrokenStore(Domain.empty()))
    # Rasa's default: a failed read looks like a new conversation, a failed write goes to memory.
    assert asyncio.run(wrapped.retrieve("c1")) is None
    asyncio.run(wrapped.save(_conversation("c1")))
    assert asyncio.run(wrapped.fallback_tracker_store.retrieve("c1")) is not None

    fail_loudly(wrapped)
    fail_loudly(wrapped)  # idempotent: every turn calls it
    with pytest.raises(sqlalchemy.exc.OperationalError, match="connection refused"):
        asyncio.run(wrapped.retrieve("c2"))
    with pytest.raises(sqlalchemy.exc.OperationalError, match="connection refused"):
        asyncio.run(wrapped.save(_conversation("c2")))
    assert asyncio.run(wrapped.fallback_tracker_store.retrieve("c2")) is None
    fail_loudly(InMemoryTrackerStore(Domain.empty()))  # other stores are left alone


# ---- the guard ---------------------------------------------------------------------------------


class _Streaming(OutputChannel):
    """An output channel that sends at once (like socket.io) and records what it sent."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send_response(self, recipient_id: str, message: dict) -> None:
        self.sent.append(message)


def _turn(says: list[str], fails: bool):
    async def on_new_message(message: UserMessage) -> None:
        for text in says:
            await message.output_channel.send_response(message.sender_id, {"text": text})
        if fails:
            raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("server closed"))

    return on_new_message


def _run(out: OutputChannel, says: list[str], fails: bool) -> None:
    message = UserMessage("yes", out, "c1", input_channel="rest")
    asyncio.run(handle_or_apologise(_turn(says, fails), message))


def test_a_turn_that_answered_is_passed_through():
    out = CollectingOutputChannel()
    _run(out, ["Which e-mail address did you use?"], fails=False)
    assert [m["text"] for m in out.messages] == ["Which e-mail address did you use?"]


def test_a_silent_turn_gets_the_apology():
    out = CollectingOutputChannel()
    _run(out, [], fails=False)
    assert [m["text"] for m in out.messages] == [APOLOGY]


def test_a_failed_turn_is_answered_only_with_the_apology():
    # It failed while saving the conversation: what it said would not be remembered.
    out = CollectingOutputChannel()
    _run(out, ["Which e-mail address did you use?"], fails=True)
    assert [m["text"] for m in out.messages] == [APOLOGY]


def test_a_failed_turn_on_a_streaming_channel_ends_with_the_apology():
    out = _Streaming()
    _run(out, ["Which e-mail address did you use?"], fails=True)
    assert [m["text"] for m in out.sent] == ["Which e-mail address did you use?", APOLOGY]


class _ForgetfulStore(InMemoryTrackerStore):
    """Records which turns the guard asked it to forget."""

    def __init__(self) -> None:
        super().__init__(Domain.empty())
        self.forgotten: list[tuple[str, str]] = []

    async def forget_turn(self, sender_id: str, message_id: str) -> bool:
        self.forgotten.append((sender_id, message_id))
        return True


class _Agent:
    def __init__(self) -> None:
        self.store = _ForgetfulStore()
        self.tracker_store = FailSafeTrackerStore(self.store)
        self.lock_store = InMemoryLockStore()


@pytest.mark.parametrize(
    "says, fails, forgotten, answer",
    [
        (
            ["Which e-mail address did you use?"],
            False,
            False,
            ["Which e-mail address did you use?"],
        ),
        ([], False, True, [APOLOGY]),  # the action server was down: silence
        ([APOLOGY, "Which e-mail address?"], False, True, [APOLOGY, "Which e-mail address?"]),
        (["Which e-mail address did you use?"], True, False, [APOLOGY]),  # never recorded
    ],
)
def test_the_guard_forgets_turns_that_failed(monkeypatch, says, fails, forgotten, answer):
    agent = _Agent()
    monkeypatch.setattr(guard, "_agent", lambda: agent)
    out = CollectingOutputChannel()
    message = UserMessage("ada@example.com", out, "c1", input_channel="rest")
    asyncio.run(handle_or_apologise(_turn(says, fails), message))
    assert [m["text"] for m in out.messages] == answer
    assert agent.store.forgotten == ([("c1", message.message_id)] if forgotten else [])
    # Store errors now fail the turn instead of starting an empty conversation.
    assert agent.tracker_store._on_tracker_store_error is not None
