"""Helpers of the fault and abuse tests (test_fuzz.py, test_injection.py): raw HTTP, Slack request
signing, and fingerprints of the shop database and the Rasa tracker store to prove that nothing
changed."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from shop.store import make_engine
from shop.store.models import Base
from support.domain_texts import response_text
from support.servers import SLACK_SIGNING_SECRET, Assistant

# Every table a customer or staff conversation could read or write, and the import bookkeeping.
SHOP_TABLES = (
    "customers",
    "products",
    "inventory",
    "orders",
    "order_items",
    "shipments",
    "returns",
    "ratings",
    "events",
    "support_tickets",
    "import_batches",
)


def greeting() -> str:
    """The bot's answer to "hi" on the customers' channels."""
    return response_text("utter_greet")


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 120
) -> Reply:
    """The status, body and headers of one request (POST when there is a body); 4xx/5xx too."""
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, resp.read(), dict(resp.headers))
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.read(), dict(err.headers))


def assert_json_error(reply: Reply, statuses: tuple[int, ...] = (400,)) -> str:
    """The error message of a refused request: one of ``statuses``, JSON {"error": "…"}."""
    assert reply.status in statuses, (reply.status, reply.body[:300])
    error = reply.json().get("error")
    assert isinstance(error, str) and error.strip(), reply.body[:300]
    assert "Traceback" not in error and "Exception" not in error, error
    return error


def slack_signature(body: bytes, ts: int | None = None, secret: str = SLACK_SIGNING_SECRET) -> dict:
    """Headers signing ``body`` exactly as Slack does (v0 HMAC-SHA256 of "v0:{ts}:{body}")."""
    stamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def slack_event(text: str, user: str, channel: str | None = None) -> dict:
    """An Events API envelope of a direct message to the bot."""
    return {
        "token": "unused",
        "team_id": "T0TEST",
        "api_app_id": "A0TEST",
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "authorizations": [{"user_id": "UBOTUSER"}],
        "event": {
            "type": "message",
            "channel_type": "im",
            "channel": channel or "D" + uuid.uuid4().hex[:8].upper(),
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
        },
    }


def post_slack(assistant: Assistant, body: bytes, headers: dict, timeout: float = 60) -> Reply:
    return http(f"{assistant.rasa_url}/webhooks/slack/webhook", body, headers, timeout=timeout)


def slack_posts(assistant: Assistant, channel: str | None = None) -> list[dict]:
    """What the bot posted (chat.postMessage) to ``channel`` (or anywhere), blocks decoded."""
    posts = []
    for params in assistant.slack.messages(channel):
        params = dict(params)
        if isinstance(params.get("blocks"), str):
            params["blocks"] = json.loads(params["blocks"])
        posts.append(params)
    return posts


def shop_fingerprint(db_url: str, tables: tuple[str, ...] = SHOP_TABLES) -> dict[str, tuple]:
    """{table: (row count, sha256 of every row in key order)} of the shop database."""
    engine = make_engine(db_url)
    out: dict[str, tuple] = {}
    try:
        with engine.connect() as conn:
            for name in tables:
                table = Base.metadata.tables[name]
                rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
                digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
                out[name] = (len(rows), digest)
    finally:
        engine.dispose()
    return out


def tracker_db(assistant: Assistant) -> Path:
    """The SQLite tracker store of the shared assistant (tests/support/servers.py puts it next to the
    shop database)."""
    path = Path(assistant.db_url.removeprefix("sqlite:///")).parent / "tracker.db"
    assert path.is_file(), f"expected the assistant's SQLite tracker store at {path}"
    return path


def tracker_events(assistant: Assistant) -> int:
    """How many events the Rasa tracker store holds (all conversations)."""
    with sqlite3.connect(f"file:{tracker_db(assistant)}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


def log_size(assistant: Assistant, service: str) -> int:
    """How long the log of ``service`` ("rasa" or "actions") is now (to read what follows)."""
    return assistant.services[service].log_path.stat().st_size


def log_since(assistant: Assistant, service: str, offset: int) -> str:
    """What ``service`` logged after ``offset``."""
    with open(assistant.services[service].log_path, "rb") as fh:
        fh.seek(offset)
        return fh.read().decode("utf-8", "replace")


def say(assistant: Assistant, text: str, sender: str, metadata: dict | None = None) -> list[dict]:
    """The bot's replies to one REST message (a generous timeout: the machine is shared)."""
    return assistant.say(text, sender=sender, metadata=metadata, timeout=120)


def assert_answers_hi(assistant: Assistant) -> None:
    """The server is up and the dialogue works: "hi" gets exactly the greeting."""
    sender = "after-abuse-" + uuid.uuid4().hex[:8]
    assert say(assistant, "hi", sender) == [{"recipient_id": sender, "text": greeting()}]
