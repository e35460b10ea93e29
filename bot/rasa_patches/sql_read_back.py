"""Reading a conversation back from the SQL tracker store: only its new events.

Every turn Rasa's ``SQLTrackerStore.retrieve`` reads all the events of the conversation's
latest session, parses their JSON, turns them into events and applies them to a new tracker
(``from_dict``), so a long conversation is read and rebuilt from thousands of events for every
message. Here ``ShopSQLTrackerStore`` keeps the tracker it rebuilt for recent conversations
(``CACHED_CONVERSATIONS``, ``CACHED_EVENTS``) and next time reads only the rows added since,
after checking that the rows it was built from are all still there unchanged and that no
session started since (the count of the session's rows up to the last one read, that row's
timestamp, and the latest session start: a turn deleted by ``forget_turn``, by this or another
server, or rows written meanwhile by another server are noticed, and the session is then read
whole as Rasa reads it). New rows are turned into events and applied exactly as ``from_dict``
does, so the tracker handed out is the one Rasa would have built; the processor gets a clone
(its turn never changes the kept one) that also carries the kept tracker's replayed state and
state scan when those patches are installed, for the copies and predictions of its turn.

Saving counts the session's stored rows on their ids (``_additional_events``); Rasa counts a
query of whole rows, JSON included.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from typing import Any

from bot.rasa_patches import dialogue_states, tracker_copy
from bot.rasa_patches.base import PRIVATE_PREFIX, Patch, Patches, clone_tracker, is_live_tracker

CACHED_CONVERSATIONS = 64
CACHED_EVENTS = 50_000  # bounds the memory they take (~20 conversations of 400 turns)
READ_CACHE_ATTR = PRIVATE_PREFIX + "read_cache"  # on a store: sender id -> _StoredConversation


class _StoredConversation:
    """A conversation's latest session rebuilt from its stored rows, and which rows those were."""

    def __init__(self, tracker: Any, domain: Any, session_start: float | None) -> None:
        self.tracker = tracker
        self.domain = domain
        self.session_start = session_start
        self.count = 0
        self.last_id: int | None = None
        self.last_timestamp: float | None = None


def hand_out(tracker: Any) -> Any:
    """A clone of ``tracker`` that starts from its replayed state and state scan."""
    handed = clone_tracker(tracker)
    events = tracker.events
    if tracker_copy.PATCH.installed and handed.sender_id and events:
        tracker_copy.remember_replay(handed, clone_tracker(tracker))
    scan = tracker.__dict__.get(dialogue_states.SCAN_ATTR)
    if scan is not None and scan.follows(tracker) and scan.n_events == len(events):
        handed.__dict__[dialogue_states.SCAN_ATTR] = scan.copy(handed)
    return handed


def forget_conversation(store: Any, sender_id: str) -> None:
    """Drops what ``store`` keeps of ``sender_id`` (its rows were changed)."""
    store.__dict__.get(READ_CACHE_ATTR, {}).pop(sender_id, None)


def _latest_session(store: Any, session: Any, sender_id: str) -> tuple[float | None, Any]:
    """The latest session start of ``sender_id`` (None if none) and a function restricting a
    query of ``store``'s events to that session, as ``SQLTrackerStore._event_query`` does."""
    import sqlalchemy as sa
    from rasa.shared.core.events import SessionStarted

    table = store.SQLEvent
    session_start = (
        session.query(sa.func.max(table.timestamp))
        .filter(table.sender_id == sender_id, table.type_name == SessionStarted.type_name)
        .scalar()
    )

    def in_session(query: Any) -> Any:
        query = query.filter(table.sender_id == sender_id)
        if session_start is not None:
            query = query.filter(table.timestamp >= session_start)
        return query

    return session_start, in_session


def additional_events(store: Any, session: Any, tracker: Any) -> Any:
    """``SQLTrackerStore._additional_events``: the tracker's events after as many as the
    session has rows, the rows counted on their ids."""
    import sqlalchemy as sa

    _, in_session = _latest_session(store, session, tracker.sender_id)
    stored = in_session(session.query(sa.func.count(store.SQLEvent.id))).scalar()
    return itertools.islice(tracker.events, stored, len(tracker.events))


async def retrieve(store: Any, sender_id: str) -> Any:
    """``SQLTrackerStore.retrieve``: the tracker of the conversation's latest session (None if
    it has no events), reading only the rows added since the last time when the earlier ones
    are unchanged."""
    if not store.domain:
        return await RETRIEVE.original(store, sender_id)
    return read_back(store, sender_id)


def read_back(store: Any, sender_id: str) -> Any:
    """What :func:`retrieve` returns, for a store with a domain."""
    import sqlalchemy as sa
    from rasa.shared.core.events import deserialise_events
    from rasa.shared.core.trackers import DialogueStateTracker

    table = store.SQLEvent
    cache = store.__dict__.setdefault(READ_CACHE_ATTR, OrderedDict())
    entry = cache.pop(sender_id, None)
    with store.session_scope() as session:
        session_start, in_session = _latest_session(store, session, sender_id)
        if (
            entry is not None
            and entry.domain is store.domain
            and entry.session_start == session_start
            and entry.last_id is not None
        ):
            count = in_session(session.query(sa.func.count(table.id))).filter(
                table.id <= entry.last_id
            )
            last_timestamp = session.query(table.timestamp).filter(
                table.sender_id == sender_id, table.id == entry.last_id
            )
            if count.scalar() != entry.count or last_timestamp.scalar() != entry.last_timestamp:
                entry = None
        else:
            entry = None
        query = in_session(session.query(table.id, table.timestamp, table.data))
        if entry is not None:
            query = query.filter(table.id > entry.last_id)
        rows = query.order_by(table.id).all()
    if entry is None:
        if not rows:
            return None
        # as DialogueStateTracker.from_dict(sender_id, events, domain.slots) starts
        entry = _StoredConversation(
            DialogueStateTracker(sender_id, store.domain.slots), store.domain, session_start
        )
    if rows:
        for event in deserialise_events([json.loads(row.data) for row in rows]):
            entry.tracker.update(event)
        entry.count += len(rows)
        entry.last_id, entry.last_timestamp = rows[-1].id, rows[-1].timestamp
    if dialogue_states.PATCHES.installed and is_live_tracker(entry.tracker):
        try:  # follows the new rows too, for the policies
            dialogue_states.scan_of(entry.tracker, store.domain)
        except Exception:  # the policies then scan (or use Rasa's code) themselves
            dialogue_states.SCANS.failed(entry.tracker)
    cache[sender_id] = entry
    total = sum(len(e.tracker.events) for e in cache.values())
    while len(cache) > CACHED_CONVERSATIONS or (len(cache) > 1 and total > CACHED_EVENTS):
        _, dropped = cache.popitem(last=False)
        total -= len(dropped.tracker.events)
    return hand_out(entry.tracker)


_STORE = "bot.server.tracker_store:ShopSQLTrackerStore"
_RASA_STORE = "rasa.core.tracker_store:SQLTrackerStore"
_USES = [f"{_RASA_STORE}.SQLEvent", f"{_RASA_STORE}.session_scope"]
RETRIEVE = Patch(_STORE, "retrieve", retrieve, requires=_USES)
ADDITIONAL_EVENTS = Patch(_STORE, "_additional_events", additional_events, requires=_USES)
PATCHES = Patches("SQL read-back", RETRIEVE, ADDITIONAL_EVENTS)
