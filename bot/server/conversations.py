"""The stored conversations (the Rasa tracker store) for privacy requests and retention.

The SQL tracker store (SQLite or PostgreSQL: ``SHOPBOT_TRACKER_STORE_URL``, by default
``var/rasa_tracker.db``) keeps one row per event in Rasa's ``events`` table; the Redis one keeps
one JSON document per conversation (and expires it itself). A signed-in customer's messages are
stored with the customer their token verified as (``session_customer``, see
:mod:`bot.server.tracker_store`), which is how their conversations are found.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from bot.identity import SESSION_CUSTOMER_KEY
from shop import settings


def tracker_store_url() -> str:
    """Where conversations are kept: ``SHOPBOT_TRACKER_STORE_URL`` or the default SQLite file."""
    return settings.TRACKER_STORE_URL.get() or f"sqlite:///{settings.var_dir() / 'rasa_tracker.db'}"


def _is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://"))


class Conversations:
    """The conversations in the tracker store at ``url``."""

    REDIS_PREFIX = "tracker:"

    def __init__(self, url: str | None = None):
        self.url = url or tracker_store_url()
        self._engine: sa.engine.Engine | None = None

    # -- access ----------------------------------------------------------------------------------

    def _sql(self) -> sa.engine.Engine | None:
        """The engine of an SQL store that exists (None for Redis, or no database yet)."""
        if _is_redis(self.url):
            return None
        if self._engine is None:
            self._engine = sa.create_engine(self.url, future=True)
        if not sa.inspect(self._engine).has_table("events"):
            return None
        return self._engine

    def _events(self) -> sa.Table:
        return sa.Table("events", sa.MetaData(), autoload_with=self._engine)

    def _redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)

    def _redis_documents(self) -> Iterable[tuple[bytes, dict]]:
        client = self._redis()
        for key in client.scan_iter(match=f"{self.REDIS_PREFIX}*"):
            raw = client.get(key)
            if raw:
                yield key, json.loads(raw)

    # -- what a customer said --------------------------------------------------------------------

    def of_customer(self, customer_id: int) -> set[str]:
        """The conversation ids in which messages came with ``customer_id``'s session token."""
        found: set[str] = set()
        engine = self._sql()
        if engine is not None:
            table = self._events()
            pattern = f'%"{SESSION_CUSTOMER_KEY}": {int(customer_id)}%'
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.select(table.c.sender_id, table.c.data).where(
                        table.c.type_name == "user", table.c.data.like(pattern)
                    )
                )
                for sender_id, data in rows:
                    if (json.loads(data).get("metadata") or {}).get(
                        SESSION_CUSTOMER_KEY
                    ) == customer_id:
                        found.add(sender_id)
        elif _is_redis(self.url):
            for key, doc in self._redis_documents():
                for event in doc.get("events") or []:
                    meta = event.get("metadata") or {}
                    if (
                        event.get("event") == "user"
                        and meta.get(SESSION_CUSTOMER_KEY) == customer_id
                    ):
                        found.add(key.decode()[len(self.REDIS_PREFIX) :])
                        break
        return found

    def export(self, sender_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """What was said in each conversation: [{"at", "who", "text"}] per conversation id."""
        wanted = sorted(set(sender_ids))
        out: dict[str, list[dict[str, Any]]] = {sender: [] for sender in wanted}
        engine = self._sql()
        if engine is not None and wanted:
            table = self._events()
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.select(table.c.sender_id, table.c.data)
                    .where(table.c.sender_id.in_(wanted), table.c.type_name.in_(["user", "bot"]))
                    .order_by(table.c.id)
                )
                for sender_id, data in rows:
                    out[sender_id].append(_line(json.loads(data)))
        elif _is_redis(self.url):
            client = self._redis()
            for sender in wanted:
                raw = client.get(self.REDIS_PREFIX + sender)
                events = json.loads(raw).get("events", []) if raw else []
                out[sender] = [_line(e) for e in events if e.get("event") in ("user", "bot")]
        return out

    def user_messages(self, since: float) -> dict[str, list[dict[str, Any]]]:
        """The customers' (and staff's) messages since the Unix time ``since``, as Rasa stored
        them (text, parse data, channel), in order, per conversation id."""
        out: dict[str, list[dict[str, Any]]] = {}
        engine = self._sql()
        if engine is not None:
            table = self._events()
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.select(table.c.sender_id, table.c.data)
                    .where(table.c.type_name == "user", table.c.timestamp >= since)
                    .order_by(table.c.id)
                )
                for sender_id, data in rows:
                    out.setdefault(sender_id, []).append(json.loads(data))
        elif _is_redis(self.url):
            for key, doc in self._redis_documents():
                events = [
                    e
                    for e in doc.get("events") or []
                    if e.get("event") == "user" and (e.get("timestamp") or 0) >= since
                ]
                if events:
                    out[key.decode()[len(self.REDIS_PREFIX) :]] = events
        return out

    # -- deleting --------------------------------------------------------------------------------

    def delete(self, sender_ids: Iterable[str]) -> int:
        """Deletes the conversations; returns how many stored events (Redis: conversations)."""
        wanted = sorted(set(sender_ids))
        if not wanted:
            return 0
        engine = self._sql()
        if engine is not None:
            table = self._events()
            with engine.begin() as conn:
                return int(
                    conn.execute(table.delete().where(table.c.sender_id.in_(wanted))).rowcount
                )
        if _is_redis(self.url):
            return int(self._redis().delete(*[self.REDIS_PREFIX + s for s in wanted]))
        return 0

    def scrub_tokens(self) -> int:
        """Removes session tokens that stored messages still hold (stored before tokens were
        kept out, see :func:`bot.server.tracker_store.scrub`); returns how many events."""
        from bot.server.tracker_store import scrub

        engine = self._sql()
        if engine is None:
            return 0
        table = self._events()
        changed = 0
        with engine.begin() as conn:
            rows = conn.execute(
                sa.select(table.c.id, table.c.data).where(
                    table.c.type_name.in_(("user", "slot")),
                    table.c.data.like('%"session_token"%'),
                )
            ).all()
            for row_id, data in rows:
                clean = json.dumps(scrub(json.loads(data)))
                if clean != data:
                    conn.execute(table.update().where(table.c.id == row_id).values(data=clean))
                    changed += 1
        return changed

    def purge(self, days: int, now: dt.datetime | None = None) -> int:
        """Deletes what is older than ``days``: events (SQL), or conversations whose last event
        is (Redis, where ``record_exp`` does the same by itself). Returns how many."""
        now = now or dt.datetime.now(dt.timezone.utc)
        cutoff = (now - dt.timedelta(days=days)).timestamp()
        engine = self._sql()
        if engine is not None:
            table = self._events()
            with engine.begin() as conn:
                return int(conn.execute(table.delete().where(table.c.timestamp < cutoff)).rowcount)
        if _is_redis(self.url):
            old = [
                key
                for key, doc in self._redis_documents()
                if max((e.get("timestamp") or 0) for e in doc.get("events") or [{}]) < cutoff
            ]
            return int(self._redis().delete(*old)) if old else 0
        return 0

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _line(event: dict[str, Any]) -> dict[str, Any]:
    timestamp = event.get("timestamp")
    at = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat() if timestamp else None
    who = "customer" if event.get("event") == "user" else "assistant"
    return {"at": at, "who": who, "text": event.get("text")}
