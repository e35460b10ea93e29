"""The conversation store: Rasa's SQL tracker store, made to survive a database restart, to fail
loudly instead of forgetting a conversation, and to forget a failed turn.

Two things in Rasa 3.6 make a PostgreSQL restart go wrong for a customer in the middle of a
conversation (both seen in tests/e2e/test_faults.py):

- ``SQLTrackerStore``'s engine does not test pooled connections before use. After a restart
  every pooled connection is dead, so the first turn of each Rasa process fails.
  :class:`ShopSQLTrackerStore` (``type: bot.server.tracker_store.ShopSQLTrackerStore`` in endpoints.yml
  and in the file ``shopbot run`` writes) uses ``pool_pre_ping`` and a connect timeout.
- The agent wraps every tracker store in ``FailSafeTrackerStore``, which turns a failed read into
  "no conversation yet" and a failed write into a write to memory. The turn then runs on an empty
  conversation: a customer answering "yes" to "Shall I cancel it?" is told "Sorry, I didn't quite
  understand", and an e-mail given for an order is answered as if nothing had been asked.
  :func:`fail_loudly` makes those errors fail the turn, so the channel guard apologises and the
  customer's next try continues the conversation where it really was.

And one thing Rasa has no way to do: forget a turn. When a custom action cannot be reached Rasa
records the turn anyway (the action as executed, its events lost), so after "Sorry, something
went wrong, please try again" the customer's "yes" to "Shall I register the return?" is no longer
an answer to it. ``UserUtteranceReverted`` cannot undo such a turn inside a form (Rasa folds form
turns together, so the revert goes back to the message that opened the form).
:meth:`ShopSQLTrackerStore.forget_turn` deletes the turn's events instead.

And no bearer secret is ever stored: a customer's session token, which the storefront sends with
every message, is replaced in the stored message by the customer it verifies as
(``session_customer``; None for a forged or expired one), both in the SQL store and in
:class:`ShopRedisTrackerStore` (:func:`scrub`). Old conversations are deleted by
``shopbot privacy purge`` (``SHOPBOT_CONVERSATION_RETENTION_DAYS``; Redis expires them itself).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import (
    FailSafeTrackerStore,
    RedisTrackerStore,
    SQLTrackerStore,
    create_engine_kwargs,
)
from rasa.shared.core.constants import SESSION_START_METADATA_SLOT as SESSION_METADATA_SLOT
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot import identity
from bot.rasa_patches import sql_read_back

# Seconds to wait for a connection: Rasa runs the store's queries on its event loop, so an
# unreachable database must not block every conversation for minutes.
CONNECT_TIMEOUT = 5
POOL_RECYCLE_SECONDS = 1800


def _scrub_metadata(metadata: Any) -> Any:
    if not isinstance(metadata, dict):
        return metadata
    custom = metadata.get("customData")
    if identity.METADATA_KEY not in metadata and not (
        isinstance(custom, dict) and identity.METADATA_KEY in custom
    ):
        return metadata
    clean = {k: v for k, v in metadata.items() if k != identity.METADATA_KEY}
    if isinstance(custom, dict):
        clean["customData"] = {k: v for k, v in custom.items() if k != identity.METADATA_KEY}
    clean[identity.SESSION_CUSTOMER_KEY] = identity.customer_from_metadata(metadata)
    return clean


def scrub(event: dict[str, Any]) -> dict[str, Any]:
    """A stored event's data without session tokens (in its metadata, in the metadata its parse
    data repeats, and in the ``session_started_metadata`` slot Rasa sets from the first message
    of a session): the customer a token verifies as is kept instead."""
    if event.get("event") == "slot" and event.get("name") == SESSION_METADATA_SLOT:
        return dict(event, value=_scrub_metadata(event.get("value")))
    if "metadata" not in event and "metadata" not in (event.get("parse_data") or {}):
        return event
    event = dict(event, metadata=_scrub_metadata(event.get("metadata")))
    parse_data = event.get("parse_data")
    if isinstance(parse_data, dict) and "metadata" in parse_data:
        event["parse_data"] = dict(parse_data, metadata=_scrub_metadata(parse_data["metadata"]))
    return event


class ShopSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store whose connections are checked before use (and time out), and
    which can forget a failed turn. With shopbot's Rasa patches installed, its ``retrieve``
    reads only the rows added since its last read (:mod:`bot.rasa_patches.sql_read_back`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name != "postgresql":
            return  # SQLite files have no connections to lose
        # Rasa built the engine without pre-ping (and, after creating the database through
        # ``login_db``, without its pool options): build it again with both.
        old = self.engine
        options = create_engine_kwargs(old.url)
        connect_args = {**options.pop("connect_args", {}), "connect_timeout": CONNECT_TIMEOUT}
        self.engine = sa.create_engine(
            old.url,
            pool_pre_ping=True,
            pool_recycle=POOL_RECYCLE_SECONDS,
            connect_args=connect_args,
            **options,
        )
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        old.dispose()

    async def save(self, tracker: Any) -> None:
        """Rasa's save, each new event stored without session tokens (:func:`scrub`)."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = scrub(event.as_dict())
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=(data.get("parse_data") or {})
                        .get("intent", {})
                        .get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()

    async def forget_turn(self, sender_id: str, message_id: str) -> bool:
        """True after deleting the latest turn of ``sender_id`` (its user message and everything
        after it) if that message is ``message_id``; False (nothing deleted) otherwise.

        The caller holds the conversation's lock, so no other turn runs meanwhile."""
        events = self.SQLEvent
        with self.session_scope() as session:
            latest_user = (
                session.query(events.id, events.data)
                .filter(events.sender_id == sender_id, events.type_name == "user")
                .order_by(events.id.desc())
                .first()
            )
            if latest_user is None or json.loads(latest_user.data).get("message_id") != message_id:
                return False
            session.query(events).filter(
                events.sender_id == sender_id, events.id >= latest_user.id
            ).delete(synchronize_session=False)
            session.commit()
        sql_read_back.forget_conversation(self, sender_id)
        return True


class ShopRedisTrackerStore(RedisTrackerStore):
    """Rasa's Redis tracker store, conversations stored without session tokens; ``record_exp``
    (seconds, from ``SHOPBOT_CONVERSATION_RETENTION_DAYS``) lets Redis delete old ones."""

    @staticmethod
    def serialise_tracker(tracker: Any) -> str:
        dialogue = tracker.as_dialogue().as_dict()
        dialogue["events"] = [scrub(event) for event in dialogue.get("events") or []]
        return json.dumps(dialogue)


def _reraise(error: Exception) -> None:
    raise error


def primary_store(tracker_store: Any) -> Any:
    """The store behind Rasa's ``FailSafeTrackerStore`` wrapper (or ``tracker_store`` itself)."""
    if isinstance(tracker_store, FailSafeTrackerStore):
        return getattr(tracker_store, "_tracker_store", tracker_store)
    return tracker_store


def fail_loudly(tracker_store: Any) -> None:
    """Makes Rasa's ``FailSafeTrackerStore`` raise the errors of the store it wraps instead of
    answering from an empty conversation (no-op for any other store)."""
    if not isinstance(tracker_store, FailSafeTrackerStore):
        return
    # The wrapper's documented hook: called with every error of the wrapped store, before it
    # falls back to an empty conversation or to memory. Raising here fails the turn instead.
    if getattr(tracker_store, "_on_tracker_store_error", None) is not _reraise:
        tracker_store._on_tracker_store_error = _reraise
