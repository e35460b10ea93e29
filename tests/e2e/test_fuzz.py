"""Malformed input, property-based: random text, huge bodies,
non-UTF-8 bytes, malformed and deeply nested JSON, wrong types and missing fields go to the REST
webhook, the socket.io channel, the Slack endpoint, the staff console and the importers.

Each test asserts the outcome: never a 5xx, a 4xx with a JSON error message where the input is
refused, nothing reaching the dialogue (the tracker store keeps its event count) or the shop
database (a fingerprint of every table is unchanged), and afterwards the server still answers
"hi" with the greeting. Hypothesis is derandomised (the same inputs on every run) and bounded.
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import openpyxl
import pytest
import socketio
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import func, select

from bot.channels.socketio import is_signed_session_id, new_session_id
from shop.errors import APOLOGY, ImportFailed
from shop.importers import import_ratings, import_transactions
from shop.store import make_engine, session_scope, upgrade
from shop.store.models import Base, SupportTicket
from support.abuse_support import (
    assert_answers_hi,
    assert_json_error,
    greeting,
    http,
    log_since,
    log_size,
    post_slack,
    shop_fingerprint,
    slack_event,
    slack_posts,
    slack_signature,
    tracker_events,
)
from support.servers import SHOPBOT, STAFF_CONSOLE_TOKEN, STAFF_SLACK_USER, TEST_SECRET

# Bounded example counts keep the whole file at about two minutes on a busy 2-core machine.
FAST = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def bounded(n: int) -> settings:
    return settings(FAST, max_examples=n)


def unshrunk(n: int) -> settings:
    """Like bounded(n), without shrinking: where a failure is a wait for an answer that never
    comes, shrinking would repeat that wait hundreds of times. The first failing input is shown."""
    return settings(bounded(n), phases=[Phase.explicit, Phase.generate])


# ---- strategies ---------------------------------------------------------------------------------

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4)
    ),
    max_leaves=12,
)
# Unpaired surrogates, NUL and other control characters: JSON can carry them all.
NASTY_TEXT = st.sampled_from(
    [
        "\x00",
        "hi\x00there",
        "\ud800",
        "\udfff where is my order",
        "\x1b[31mred\x1b[0m",
        "\u202eevil",
        "\ufeffhi",
        "\u0007\u0008\u000b\u000c",
        "",
        " ",
        "\n\n\n",
    ]
)


def _dumps(value: Any) -> bytes:
    # ensure_ascii: lone surrogates travel as \ud800 escapes, as a browser's JSON.stringify sends.
    return json.dumps(value, ensure_ascii=True).encode()


def _deep(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    # Valid fields, with the nesting where a message's metadata goes.
    return b'{"sender":"deep","message":"hi","metadata":' + _deep(depth, "object") + b"}"


def _valid_rest_body(body: Any) -> bool:
    """The documented REST contract: {"sender": non-empty str ≤128 chars without control
    characters, "message": str ≤5000 chars, "metadata"?: object}."""
    if not isinstance(body, dict):
        return False
    sender, message, metadata = body.get("sender"), body.get("message"), body.get("metadata")
    sender_ok = (
        isinstance(sender, str)
        and bool(sender.strip())
        and len(sender) <= 128
        and not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]", sender)
    )
    message_ok = isinstance(message, str) and len(message) <= 5000
    return sender_ok and message_ok and (metadata is None or isinstance(metadata, dict))


def _not_a_valid_body(raw: bytes) -> bool:
    try:
        return not _valid_rest_body(json.loads(raw))
    except (ValueError, RecursionError):
        return True


WRONG_TYPES = st.fixed_dictionaries(
    {},
    optional={
        "sender": JSON_VALUES | NASTY_TEXT,
        "message": JSON_VALUES,
        "metadata": JSON_VALUES,
        "input_channel": JSON_VALUES,
    },
).filter(lambda body: not _valid_rest_body(body))
MALFORMED_BODIES = st.one_of(
    st.binary(max_size=3000).filter(_not_a_valid_body),
    # Non-UTF-8 bytes inside otherwise fine JSON.
    st.binary(max_size=200).map(
        lambda b: b'{"sender": "s\xff' + b + b'\xc3(", "message": "hi \xfe' + b + b'"}'
    ),
    st.tuples(st.integers(1_000, 25_000), st.sampled_from(["list", "object", "envelope"])).map(
        lambda t: _deep(*t)
    ),
    JSON_VALUES.filter(lambda v: not isinstance(v, dict)).map(_dumps),
    WRONG_TYPES.map(_dumps),
    st.integers(5_001, 40_000).map(lambda n: _dumps({"sender": "long", "message": "a" * n})),
)
# Over the channel's 64 KB but under the server's 256 KB (larger ones are refused by the server
# before they are read: tests/e2e/test_security.py).
HUGE_BODIES = st.tuples(st.integers(65, 250), st.sampled_from(["junk", "json", "nested"])).map(
    lambda t: {
        "junk": b"\xff" * (t[0] << 10),
        "json": _dumps({"sender": "big", "message": "m" * (t[0] << 10)}),
        "nested": b"[" * (t[0] << 10),
    }[t[1]]
)
INTENTS = ["order_status", "cancel_order", "request_return", "return_status", "product_search",
           "complaint", "greet", "faq/shipping_time", "nonexistent"]  # fmt: skip
MESSAGE_TEXTS = st.one_of(
    st.text(max_size=300),
    NASTY_TEXT,
    st.text(max_size=60).map(lambda t: "/" + t),
    st.tuples(st.sampled_from(INTENTS), JSON_VALUES).map(lambda t: f"/{t[0]}{json.dumps(t[1])}"),
    st.tuples(
        st.sampled_from(INTENTS[:5]),
        st.dictionaries(
            st.sampled_from(["order_number", "email", "sku", "product", "quantity", "category"]),
            JSON_VALUES,
            min_size=1,
            max_size=3,
        ),
    ).map(lambda t: f"/{t[0]}{json.dumps(t[1])}"),
)
METADATA = st.none() | st.dictionaries(
    st.sampled_from(["session_token", "customData", "slack_user", "x"]), JSON_VALUES, max_size=3
)


# ---- REST webhook -------------------------------------------------------------------------------


def _snapshot(assistant) -> tuple[dict, int]:
    return shop_fingerprint(assistant.db_url), tracker_events(assistant)


@pytest.mark.rasa
@pytest.mark.slow
def test_rest_webhook_refuses_malformed_bodies(assistant):
    url = f"{assistant.rasa_url}/webhooks/rest/webhook"
    before = _snapshot(assistant)

    @bounded(150)
    @given(body=MALFORMED_BODIES)
    def refused(body: bytes) -> None:
        reply = http(url, body, {"Content-Type": "application/json"})
        assert_json_error(reply, (400, 413))

    @bounded(6)
    @given(body=HUGE_BODIES)
    def too_large(body: bytes) -> None:
        reply = http(url, body, {"Content-Type": "application/json"})
        assert "larger than" in assert_json_error(reply, (413,))

    refused()
    too_large()
    # Nothing reached the dialogue or the database, and the server still works.
    assert _snapshot(assistant) == before
    assert_answers_hi(assistant)


@pytest.mark.rasa
@pytest.mark.slow
def test_rest_webhook_answers_any_text_politely(assistant):
    """Valid bodies with random text (control characters, lone surrogates, Rasa's "/intent{…}"
    syntax with entities of every JSON type, junk metadata): always a 200 with a reply, never
    an apology for a crash; only support tickets may be added, holding the text verbatim."""
    url = f"{assistant.rasa_url}/webhooks/rest/webhook"
    shop_before = shop_fingerprint(assistant.db_url)
    logs = {name: log_size(assistant, name) for name in ("rasa", "actions")}
    sent: dict[str, str] = {}

    @bounded(30)
    @given(text=MESSAGE_TEXTS, metadata=METADATA)
    def answered(text: str, metadata: dict | None) -> None:
        sender = "fuzz-" + uuid.uuid4().hex[:12]
        body = {"sender": sender, "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        reply = http(url, _dumps(body), {"Content-Type": "application/json"})
        assert reply.status == 200, (reply.status, reply.body[:300])
        replies = reply.json()
        assert isinstance(replies, list) and replies, replies
        for r in replies:
            assert r["recipient_id"] == sender
            shown = r.get("text") or r.get("custom") or r.get("buttons") or r.get("image")
            assert shown, r
            # The apology of a crashed action. (The channel's own apology for a turn that said
            # nothing may come: some inputs, like a bare "0", get no answer from the dialogue.)
            assert r.get("text") != APOLOGY, (text, r)
        sent[sender] = text

    answered()
    # No turn and no action crashed on the way.
    for name, offset in logs.items():
        logged = log_since(assistant, name, offset)
        assert "Traceback" not in logged, logged[-3000:]
    shop_after = shop_fingerprint(assistant.db_url)
    unchanged = [t for t in shop_before if t != "support_tickets"]
    assert {t: shop_after[t] for t in unchanged} == {t: shop_before[t] for t in unchanged}
    engine = make_engine(assistant.db_url)
    try:
        with session_scope(engine) as s:
            tickets = (
                s.execute(
                    select(SupportTicket).where(
                        SupportTicket.conversation_id.in_([f"rest:{x}" for x in sent])
                    )
                )
                .scalars()
                .all()
            )
            added = shop_after["support_tickets"][0] - shop_before["support_tickets"][0]
            assert len(tickets) == added
            for ticket in tickets:
                # Control characters are dropped and lone surrogates replaced, nothing else.
                said = sent[ticket.conversation_id.removeprefix("rest:")]
                text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", said)
                text = re.sub(r"[\ud800-\udfff]", "\ufffd", text)
                assert f"customer: {text}" in ticket.transcript
    finally:
        engine.dispose()
    assert_answers_hi(assistant)


# ---- staff console ------------------------------------------------------------------------------


@pytest.mark.rasa
@pytest.mark.slow
def test_staff_console_refuses_junk_with_and_without_its_token(assistant):
    url = f"{assistant.rasa_url}/webhooks/staff/webhook"
    before = _snapshot(assistant)

    @bounded(40)
    @given(
        body=MALFORMED_BODIES | JSON_VALUES.map(_dumps),
        auth=st.none()
        | st.text(max_size=60).filter(lambda t: not re.search(r"[\r\n]", t))
        | st.text(max_size=40)
        .filter(lambda t: not re.search(r"[\r\n]", t))
        .map(lambda t: "Bearer " + t),
    )
    def unauthorised(body: bytes, auth: str | None) -> None:
        headers = {"Content-Type": "application/json"}
        if auth is not None:
            try:
                auth.encode("latin-1")
            except UnicodeEncodeError:
                auth = auth.encode("utf-8").decode("latin-1")  # what a raw client would send
            headers["Authorization"] = auth
        assert "staff token" in assert_json_error(http(url, body, headers), (401,))

    @bounded(60)
    @given(body=MALFORMED_BODIES)
    def refused(body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {STAFF_CONSOLE_TOKEN}",
        }
        assert_json_error(http(url, body, headers), (400, 413))

    unauthorised()
    refused()
    assert _snapshot(assistant) == before
    # The console itself still answers staff.
    reply = http(
        url,
        _dumps({"sender": "fuzz-ops", "message": "what should I reorder?"}),
        {"Content-Type": "application/json", "Authorization": f"Bearer {STAFF_CONSOLE_TOKEN}"},
    )
    assert reply.status == 200 and reply.json()[0]["text"].startswith("What to reorder")
    assert_answers_hi(assistant)


# ---- socket.io ----------------------------------------------------------------------------------


class SocketClient:
    """A python-socketio client on the storefront's channel; received events in a queue.

    Long-polling transport: python-socketio's websocket client needs a newer aiohttp than
    Rasa 3.6 pins, and the polling transport goes through the same server handlers.
    """

    def __init__(self, url: str):
        self.events: queue.Queue = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        for name in ("bot_uttered", "session_confirm"):
            self.client.on(name, lambda data, name=name: self.events.put((name, data)))
        self.client.connect(url, transports=["polling"], wait_timeout=60)

    def next(self, timeout: float = 60) -> tuple[str, Any]:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no socket.io event from the server in {timeout} s") from None

    def session(self, resume: str | None = None) -> str:
        """The session id the server confirms (a new one, or ``resume`` if the server signed
        it): the only session this socket may then speak in."""
        self.client.emit("session_request", {"session_id": resume})
        name, session = self.next()
        assert name == "session_confirm" and is_signed_session_id(session), (name, session)
        return session

    def close(self) -> None:
        # A plain disconnect waits for the pending long-poll to end (up to the 25 s ping
        # interval); closing the Engine.IO session without waiting tells the server just the same.
        self.client.eio.disconnect(abort=True)


@pytest.fixture
def server_secret(monkeypatch):
    """The servers' secret in this process too: session ids are signed and checked as they do."""
    monkeypatch.setenv("SHOPBOT_SESSION_SECRET", TEST_SECRET)


def uttered_junk(session: str) -> st.SearchStrategy:
    """``user_uttered`` data the channel must refuse from a socket bound to ``session``."""
    return st.one_of(
        JSON_VALUES.filter(lambda v: not isinstance(v, dict)),
        st.binary(max_size=100),
        st.tuples(JSON_VALUES, JSON_VALUES),  # two arguments instead of one
        st.fixed_dictionaries(
            {"message": st.text(max_size=20)},
            optional={"session_id": JSON_VALUES.filter(lambda v: not isinstance(v, str))},
        ),
        # any other session id: malformed, or another visitor's (signed by the server)
        st.fixed_dictionaries(
            {"session_id": st.text(max_size=70) | st.builds(new_session_id)},
            optional={"message": st.text(max_size=20)},
        ).filter(lambda d: d["session_id"] != session),
        st.fixed_dictionaries(
            {
                "session_id": st.just(session),
                "message": JSON_VALUES.filter(lambda v: not isinstance(v, str)),
            }  # fmt: skip
        ),
        st.fixed_dictionaries(
            {
                "session_id": st.just(session),
                "message": st.just("hi"),
                "metadata": JSON_VALUES.filter(lambda v: v is not None and not isinstance(v, dict))
                | st.sampled_from(["{bad json", "[1, 2]", "[" * 5000 + "]" * 5000]),
            }
        ),
    )


@pytest.mark.rasa
@pytest.mark.slow
def test_socketio_refuses_malformed_events_politely(assistant, server_secret):
    before = _snapshot(assistant)
    client = SocketClient(assistant.rasa_url)
    try:
        bound = client.session()

        @unshrunk(45)
        @given(junk=uttered_junk(bound))
        def refused(junk: Any) -> None:
            client.client.emit("user_uttered", junk)
            name, data = client.next(timeout=30)
            assert name == "bot_uttered" and data["text"].startswith("Sorry, I couldn't read"), data
            assert isinstance(data["error"], str) and data["error"]

        @unshrunk(3)
        @given(length=st.integers(5_001, 30_000))
        def too_long(length: int) -> None:
            client.client.emit("user_uttered", {"session_id": bound, "message": "x" * length})
            name, data = client.next(timeout=30)
            assert name == "bot_uttered" and "too long" in data["text"], data

        @unshrunk(25)
        @given(junk=JSON_VALUES | st.binary(max_size=50) | st.dictionaries(
            st.just("session_id"), JSON_VALUES | st.text(max_size=70), max_size=1))  # fmt: skip
        def session_confirmed(junk: Any) -> None:
            client.client.emit("session_request", junk)
            name, confirmed = client.next(timeout=30)
            # junk is never taken as a session id: a fresh signed one is made
            assert name == "session_confirm" and is_signed_session_id(confirmed), confirmed
            assert not isinstance(junk, dict) or confirmed != junk.get("session_id")

        refused()
        too_long()
        session_confirmed()
        client.client.emit("user_uttered")  # no data at all
        name, data = client.next(timeout=30)
        assert name == "bot_uttered" and data["text"].startswith("Sorry, I couldn't read")
        assert _snapshot(assistant) == before

        # A session this server signed is resumed, and it still works on the same socket.
        assert client.session(resume=bound) == bound
        client.client.emit("user_uttered", {"session_id": bound, "message": "hi"})
        assert client.next(timeout=120) == ("bot_uttered", {"text": greeting()})
    finally:
        client.close()
    assert_answers_hi(assistant)


@pytest.mark.rasa
def test_socketio_transport_survives_junk_packets(assistant, server_secret):
    """Raw Engine.IO long-polling requests with junk (bad session ids, random packets): 4xx or
    a plain acknowledgement, never a 5xx, and the channel still works afterwards."""
    base = f"{assistant.rasa_url}/socket.io/?EIO=4&transport=polling"
    handshake = http(base)
    assert handshake.status == 200 and handshake.body.startswith(b"0{"), handshake.body[:100]
    sid = json.loads(handshake.body[1:])["sid"]

    @bounded(25)
    @given(
        body=st.binary(max_size=2000) | st.text(max_size=200).map(lambda t: ("4" + t).encode()),
        own_session=st.booleans(),
        query=st.text(max_size=30),
    )
    def survived(body: bytes, own_session: bool, query: str) -> None:
        target = sid if own_session else query
        url = f"{base}&sid={quote(target, safe='')}"
        reply = http(url, body, {"Content-Type": "text/plain;charset=UTF-8"})
        assert reply.status < 500, (reply.status, reply.body[:200])

    survived()
    client = SocketClient(assistant.rasa_url)
    try:
        session = client.session()
        client.client.emit("user_uttered", {"session_id": session, "message": "hi"})
        assert client.next(timeout=120) == ("bot_uttered", {"text": greeting()})
    finally:
        client.close()


# ---- Slack --------------------------------------------------------------------------------------


def _slack_id_breaker() -> st.SearchStrategy:
    """Values that are not Slack ids: other JSON types, and strings with other characters."""
    return JSON_VALUES.filter(lambda v: not isinstance(v, str)) | st.text(max_size=50).filter(
        lambda t: not re.fullmatch(r"[A-Za-z0-9]{1,40}", t)
    )


def _broken_event(draw_field: str, value: Any, kind: str, extra: dict) -> dict:
    event = {
        "type": kind,
        "channel_type": "im",
        "channel": "DFUZZ" + uuid.uuid4().hex[:6].upper(),
        "user": STAFF_SLACK_USER,
        "text": "How many CLO-0042 do we have?",
        "ts": "1712345678.000100",
    }
    if value is _MISSING:
        del event[draw_field]
    else:
        event[draw_field] = value
    body = {
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event": event,
    }
    body.update(extra)
    return body


_MISSING = object()
BROKEN_EVENTS = st.one_of(
    st.builds(
        _broken_event,
        st.just("text"),
        JSON_VALUES.filter(lambda v: v is not None and not isinstance(v, str)),
        st.sampled_from(["message", "app_mention"]),
        st.just({}),
    ),
    st.builds(
        _broken_event,
        st.sampled_from(["user", "channel"]),
        _slack_id_breaker() | st.just(_MISSING),
        st.sampled_from(["message", "app_mention"]),
        st.just({}),
    ),
    st.builds(
        _broken_event,
        st.sampled_from(["ts", "thread_ts"]),
        JSON_VALUES.filter(lambda v: v is not None and not isinstance(v, str))
        | st.text(max_size=20).filter(lambda t: not re.fullmatch(r"\d{1,12}(\.\d{1,9})?", t)),
        st.sampled_from(["message", "app_mention"]),
        st.just({}),
    ),
    st.builds(
        _broken_event,
        st.just("channel_type"),
        JSON_VALUES.filter(lambda v: v is not None and not isinstance(v, str)),
        st.just("message"),
        st.just({}),
    ),
    # A valid event inside a broken envelope.
    st.builds(
        _broken_event,
        st.just("text"),
        st.just("How many CLO-0042 do we have?"),
        st.just("message"),
        st.fixed_dictionaries(
            {},
            optional={
                "event_id": JSON_VALUES.filter(lambda v: v is not None and not isinstance(v, str))
                | st.text(max_size=150).filter(
                    lambda t: not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", t)
                ),
            },
        ).filter(bool),
    ),
)


def _broken_interaction(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


BROKEN_INTERACTIONS = st.one_of(
    JSON_VALUES.map(_broken_interaction),
    st.builds(
        lambda actions, user, channel, message: _broken_interaction(
            {
                "type": "block_actions",
                "actions": actions,
                "user": user,
                "channel": channel,
                "message": message,
            }  # fmt: skip
        ),
        JSON_VALUES.filter(lambda v: v and not isinstance(v, list))
        | st.lists(JSON_VALUES.filter(lambda v: not isinstance(v, dict)), min_size=1, max_size=2),
        st.just({"id": STAFF_SLACK_USER}),
        st.just({"id": "DFUZZINTER"}),
        st.none(),
    ),
    st.builds(
        lambda user, channel, message: _broken_interaction(
            {
                "type": "block_actions",
                "actions": [{"type": "button", "value": "/greet"}],
                "user": user,
                "channel": channel,
                "message": message,
            }  # fmt: skip
        ),
        st.one_of(
            JSON_VALUES.filter(lambda v: not isinstance(v, dict)),
            st.fixed_dictionaries({"id": _slack_id_breaker()}),
        ),
        st.just({"id": "DFUZZINTER"}),
        st.none(),
    )
    | st.builds(
        lambda channel, message: _broken_interaction(
            {
                "type": "block_actions",
                "actions": [{"type": "button", "value": "/greet"}],
                "user": {"id": STAFF_SLACK_USER},
                "channel": channel,
                "message": message,
            }  # fmt: skip
        ),
        JSON_VALUES.filter(lambda v: not isinstance(v, dict))
        | st.fixed_dictionaries({"id": _slack_id_breaker()}),
        st.none()
        | JSON_VALUES.filter(lambda v: not isinstance(v, dict)).filter(lambda v: v is not None),
    ),
    st.binary(max_size=300),
)
SLACK_JUNK = st.one_of(
    st.tuples(st.just("application/json"), BROKEN_EVENTS.map(_dumps)),
    st.tuples(st.just("application/json"), st.binary(max_size=1500)),
    st.tuples(st.just("application/json"), JSON_VALUES.map(_dumps)),
    st.tuples(
        st.just("application/json"),
        st.tuples(st.integers(1_000, 20_000), st.sampled_from(["list", "object"])).map(
            lambda t: _deep(*t)
        ),
    ),
    st.tuples(
        st.just("application/json"),
        st.builds(
            lambda challenge, extra: _dumps(
                {"type": "url_verification", "challenge": challenge, **extra}
            ),
            JSON_VALUES,
            st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=2),
        ),
    ),
    st.tuples(st.just("application/x-www-form-urlencoded"), BROKEN_INTERACTIONS),
    st.tuples(st.text(max_size=30).filter(lambda t: t.isascii()), st.binary(max_size=300)),
)


@pytest.mark.rasa
@pytest.mark.slow
def test_slack_refuses_unsigned_and_malformed_requests(assistant):
    before = _snapshot(assistant)
    calls_before = len(assistant.slack.calls)

    @bounded(40)
    @given(
        body=st.binary(max_size=1000) | BROKEN_EVENTS.map(_dumps),
        signature=st.none() | st.text(max_size=80).filter(lambda t: t.isascii()),
        stamp=st.none()
        | st.integers(-(2**40), 2**40).map(str)
        | st.text(max_size=20).filter(lambda t: t.isascii()),
    )
    def unsigned(body: bytes, signature: str | None, stamp: str | None) -> None:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Slack-Signature"] = signature
        if stamp is not None:
            headers["X-Slack-Request-Timestamp"] = stamp
        assert "signature" in assert_json_error(post_slack(assistant, body, headers), (401,))

    @bounded(120)
    @given(junk=SLACK_JUNK)
    def signed(junk: tuple[str, bytes]) -> None:
        content_type, body = junk
        headers = {"Content-Type": content_type, **slack_signature(body)}
        reply = post_slack(assistant, body, headers)
        if reply.status == 200 and reply.body:
            # Only a real url_verification is echoed, and only its challenge.
            sent = json.loads(body)
            assert sent["type"] == "url_verification" and isinstance(sent["challenge"], str)
            assert reply.json() == {"challenge": sent["challenge"]}
        elif reply.status != 200:
            assert_json_error(reply, (400,))

    unsigned()
    # Correctly signed, but ten minutes old: refused too.
    stale = _dumps(slack_event("How many CLO-0042 do we have?", STAFF_SLACK_USER))
    headers = {
        "Content-Type": "application/json",
        **slack_signature(stale, ts=int(time.time()) - 600),
    }
    assert_json_error(post_slack(assistant, stale, headers), (401,))
    signed()

    # A proper staff question still gets its answer; once it is there, everything sent before
    # it has been handled, and nothing but that answer was posted to Slack.
    marker = slack_event("What should I reorder?", STAFF_SLACK_USER)
    channel = marker["event"]["channel"]
    body = _dumps(marker)
    reply = post_slack(
        assistant, body, {"Content-Type": "application/json", **slack_signature(body)}
    )
    assert reply.status == 200
    assistant.slack.wait_for(lambda calls: slack_posts(assistant, channel), timeout=120)
    new_calls = assistant.slack.calls[calls_before:]
    assert [(c.method, c.params.get("channel")) for c in new_calls] == [
        ("chat.postMessage", channel)
    ]
    [answer] = slack_posts(assistant, channel)
    assert answer["blocks"][0]["text"]["text"] == "What to reorder"
    # Junk never reached the dialogue: only the marker's turn was added to the tracker store.
    shop_after, events_after = _snapshot(assistant)
    assert shop_after == before[0]
    marker_events = len(assistant.tracker(STAFF_SLACK_USER, channel="slack")["events"])
    assert events_after - before[1] <= marker_events
    assert_answers_hi(assistant)


@pytest.mark.rasa
def test_slack_too_long_question_gets_a_polite_answer_not_a_turn(assistant):
    """A signed, well-formed question far over the length limit: acknowledged at once, answered
    with what to do, and never run through the NLU (which would block the server)."""
    user = "ULONG" + uuid.uuid4().hex[:6].upper()
    payload = slack_event("How many CLO-0042 " + "really " * 5_000 + "do we have?", user)
    channel = payload["event"]["channel"]
    body = _dumps(payload)
    reply = post_slack(
        assistant, body, {"Content-Type": "application/json", **slack_signature(body)}
    )
    assert (reply.status, reply.body) == (200, b"")
    assistant.slack.wait_for(lambda calls: slack_posts(assistant, channel), timeout=120)
    [post] = slack_posts(assistant, channel)
    assert post["text"] == (
        "Sorry, that message is too long for me. Please ask in under 5,000 characters."
    )
    assert post["thread_ts"] == payload["event"]["ts"]
    events = assistant.tracker(user, channel="slack").get("events") or []
    assert not [e for e in events if e.get("event") == "user"]


# ---- importers ----------------------------------------------------------------------------------

TRANSACTION_HEADERS = [
    ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
     "Country"],
    ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID",
     "Country"],
]  # fmt: skip
RATING_HEADERS = [["user_id", "item_id", "rating", "timestamp"], ["user_id", "item_id", "rating"]]
GOOD_TRANSACTION_ROWS = [
    ["536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "6", "12/1/2010 8:26", "2.55",
     "17850.0", "United Kingdom"],
    ["536366", "22633", "HAND WARMER UNION JACK", "6", "12/1/2010 8:28", "1.85", "17850",
     "United Kingdom"],
    ["536367", "84879", "ASSORTED COLOUR BIRD ORNAMENT", "32", "2010-12-01 08:34:00", "1.69",
     "13047", "United Kingdom"],
]  # fmt: skip
CELLS = st.one_of(
    st.text(max_size=30),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        [
            "",
            "C536365",
            "536365",
            "POST",
            "17850.0",
            "12/1/2010 8:26",
            "2010-12-01",
            "31/02/2011",
            "1e308",
            "-0",
            "NaN",
            "9" * 40,
            "2,55",
            "'; DROP TABLE orders; --",
            "<script>x</script>",
            "1712345678",
            "0",
            "5",
            "6",
        ]  # fmt: skip
    ),
)


def _csv_text(header: list[str], rows: list[list[str]], delimiter: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, escapechar="\\")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


def _xlsx_bytes(rows: list[list[str]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in [TRANSACTION_HEADERS[0], *rows]:
        ws.append([ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in row])  # not storable in XLSX
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


GOOD_XLSX = _xlsx_bytes(GOOD_TRANSACTION_ROWS)
GOOD_CSV = _csv_text(TRANSACTION_HEADERS[0], GOOD_TRANSACTION_ROWS, ",").encode()


def _files(headers: list[list[str]], width: int) -> st.SearchStrategy:
    """(file name, bytes) of files an importer may be given by mistake or by a broken export."""
    random_rows = st.lists(st.lists(CELLS, min_size=width - 1, max_size=width + 1), max_size=8)
    return st.one_of(
        st.tuples(
            st.sampled_from(["data.csv", "u.data", "x.xlsx", "x.txt"]), st.binary(max_size=3000)
        ),
        st.tuples(
            st.just("cells.csv"),
            st.builds(
                lambda h, rows, d, enc: _encode(_csv_text(h, rows, d), enc),
                st.sampled_from(headers),
                random_rows,
                st.sampled_from([",", ";", "\t", "|"]),
                st.sampled_from(["utf-8", "utf-16", "cp1252", "latin-1", "utf-32", "utf-16-be"]),
            ),
        ),
        st.tuples(
            st.just("truncated.csv"), st.integers(1, len(GOOD_CSV) - 1).map(lambda n: GOOD_CSV[:n])
        ),
        st.tuples(
            st.just("truncated.xlsx"),
            st.integers(1, len(GOOD_XLSX) - 1).map(lambda n: GOOD_XLSX[:n]),
        ),
        st.tuples(
            st.just("rows.xlsx"),
            st.lists(st.lists(CELLS, min_size=8, max_size=8), min_size=1, max_size=4).map(
                _xlsx_bytes
            ),
        ),
    )


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(
                select(func.count()).select_from(Base.metadata.tables[name])
            ).scalar_one()
            for name in (
                "customers",
                "products",
                "inventory",
                "orders",
                "order_items",
                "ratings",
                "import_batches",
            )  # fmt: skip
        }


def _check_import(engine, importer, folder: Path, name: str, data: bytes) -> None:
    """Either a report that matches what changed in the database, or ImportFailed with a clear
    one-line message and no change at all. Any other exception fails the test."""
    path = folder / uuid.uuid4().hex / name
    path.parent.mkdir()
    path.write_bytes(data)
    url = engine.url.render_as_string(hide_password=False)
    before, counts = shop_fingerprint(url), _counts(engine)
    try:
        report = importer(engine, path)
    except ImportFailed as err:
        message = str(err)
        assert message.strip() and "Traceback" not in message and "\n" not in message, message
        assert shop_fingerprint(url) == before, message
        return
    after = _counts(engine)
    if report.already_imported:
        assert after == counts
        return
    assert report.rows_read >= report.rows_kept >= 0
    assert after["import_batches"] == counts["import_batches"] + 1
    for table in ("customers", "products", "inventory", "orders", "order_items", "ratings"):
        assert after[table] - counts[table] == report.created[table], (table, report.to_dict())


def _import_property(engine, folder: Path, examples: int) -> None:
    upgrade(engine)

    @bounded(examples)
    @given(file=_files(TRANSACTION_HEADERS, 8))
    def transactions(file: tuple[str, bytes]) -> None:
        _check_import(engine, import_transactions, folder, *file)

    @bounded(examples)
    @given(file=_files(RATING_HEADERS, 4))
    def ratings(file: tuple[str, bytes]) -> None:
        _check_import(engine, import_ratings, folder, *file)

    transactions()
    ratings()


@pytest.mark.slow
def test_importers_fail_clearly_or_report_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'import.db'}")
    try:
        _import_property(engine, tmp_path, 50)
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_importers_fail_clearly_or_report_on_postgresql(pg_url, tmp_path):
    engine = make_engine(pg_url)
    try:
        _import_property(engine, tmp_path, 20)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_import_command_says_what_is_wrong_without_a_traceback(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "DATABASE_URL": db_url, "RASA_TELEMETRY_ENABLED": "false"}

    def shopbot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [SHOPBOT, "import", *args], env=env, capture_output=True, text=True, timeout=300
        )

    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 8)
    truncated = tmp_path / "cut.xlsx"
    truncated.write_bytes(GOOD_XLSX[: len(GOOD_XLSX) // 2])
    utf16 = tmp_path / "ratings.csv"
    utf16.write_bytes("user_id,item_id,rating\n1,2,\x00\x00\n".encode("utf-16"))
    cases = [
        (["transactions", str(junk)], "missing required column(s)"),
        (["transactions", str(truncated)], "the workbook cannot be read"),
        (["ratings", str(utf16), "--json"], "none of the 1 rows is usable"),
    ]
    engine = make_engine(db_url)
    upgrade(engine)
    before = shop_fingerprint(db_url)
    for args, expected in cases:
        done = shopbot(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("shopbot: ") and expected in line, line
        if "--json" in args:
            assert json.loads(done.stdout) == {"error": line.removeprefix("shopbot: "),
                                               "kind": "ImportFailed"}  # fmt: skip
    assert shop_fingerprint(db_url) == before
    # Random cells among good rows: the good rows are imported, the rest reported.
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        _csv_text(
            TRANSACTION_HEADERS[0],
            GOOD_TRANSACTION_ROWS + [["x", "", "\x00", "-1", "yesterday", "NaN", "?", ""]],
            ",",
        )
    )
    done = shopbot("transactions", str(mixed), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["rows_read"], report["rows_kept"], report["created"]["orders"]) == (4, 3, 3)
    assert sum(report["dropped"].values()) == 1
    engine.dispose()
