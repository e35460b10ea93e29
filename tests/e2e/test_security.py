"""What a determined client could try against the running servers, and what stops it: guessing
orders across conversations, calling the action server directly, naming another channel's or
another visitor's conversation, reading tokens back from the store, huge requests."""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import socketio
from sqlalchemy import create_engine, delete, func, select

from shop.store.models import LookupFailure
from support.conversation import Chat, texts_of
from support.servers import ACTION_SECRET, STAFF_CONSOLE_TOKEN

ADA = 1  # the demo shop's first account
# Ada's order from two months ago: no other server test uses it.
VICTIM_ORDER, VICTIM_EMAIL = 104236, "ada@example.com"
# What the status answer for that order says (none of it may reach a guesser).
REVEALING = re.compile(r"Royal Mail|RM104236001GB|was delivered|delivered on|tracking", re.I)


def post(url: str, body: bytes, headers: dict[str, str] | None = None, timeout: float = 30):
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def failures(assistant) -> int:
    engine = create_engine(assistant.db_url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(LookupFailure)).scalar_one()
    engine.dispose()
    return count


# ---- guessing orders ------------------------------------------------------------------------------


@pytest.fixture
def clean_failures(pg_assistant):
    """The guesses of a test must not hold up the tests after it."""
    yield pg_assistant
    engine = create_engine(pg_assistant.db_url)
    with engine.begin() as conn:
        conn.execute(delete(LookupFailure))
    engine.dispose()


def test_fifty_guesses_over_fifty_senders_reveal_nothing_beyond_the_limit(clean_failures):
    """One REST turn per guess, each from a new sender (a new conversation), one order number
    after another with the victim's e-mail, the real order in the middle: after five failures
    every answer only says when to come back, the real order's included; a forged
    X-Forwarded-For changes nothing. The owner, signed in, still sees the order."""
    a = clean_failures
    guesses = [VICTIM_ORDER - 25 + i for i in range(50)]
    assert guesses[25] == VICTIM_ORDER
    replies = []
    for number in guesses:
        body = {
            "sender": f"guess-{uuid.uuid4().hex}",
            "message": f'/order_status{{"order_number": "{number}", "email": "{VICTIM_EMAIL}"}}',
        }
        status, raw = post(
            f"{a.rasa_url}/webhooks/rest/webhook",
            json.dumps(body).encode(),
            {
                "Content-Type": "application/json",
                "X-Forwarded-For": f"198.51.100.{random.randint(1, 254)}",
            },
        )
        assert status == 200
        replies.append(texts_of(json.loads(raw)))
    locked = [r for r in replies if "try again in" in r]
    assert len(locked) >= 45, replies[:8]
    assert all("try again in" in r for r in replies[5:]), replies[5:8]
    assert not REVEALING.search("\n".join(replies[5:]))
    assert "try again in" in replies[25] and "sign in" in replies[25]
    # Only the failures before the wait started were looked up at all.
    assert failures(a) == 5
    # The owner, signed in, is not held up.
    owner = Chat(a, ADA)
    assert REVEALING.search(owner.texts(f"where is my order #{VICTIM_ORDER}?"))


def test_the_complaint_path_counts_a_failed_guess_and_says_nothing(assistant):
    before = failures(assistant)
    chat = Chat(assistant)
    reply = chat.texts('/complaint{"order_number": "104234", "email": "mallory@example.com"}')
    assert "sorry" in reply.lower() and "104234" not in reply and "return window" not in reply
    assert failures(assistant) == before + 1


# ---- the action server --------------------------------------------------------------------------


def action_call(channel: str = "staff") -> bytes:
    """A call as a forger would write it: a staff question claiming the staff console."""
    tracker = {
        "sender_id": "staff:forger",
        "slots": {},
        "latest_message": {"text": "what should I reorder", "intent": {"name": "reorder_advice"}},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
        "latest_input_channel": channel,
    }
    return json.dumps(
        {"next_action": "action_reorder_advice", "sender_id": "staff:forger", "tracker": tracker}
    ).encode()


def test_the_action_server_answers_only_with_the_shared_secret(assistant):
    url = f"{assistant.action_url}/webhook"
    for headers in (
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json", "X-Shopbot-Action-Secret": "guess"},
        {"Content-Type": "application/json", "X-Shopbot-Action-Secret": ACTION_SECRET + "x"},
    ):
        status, body = post(url, action_call(), headers)
        assert (status, json.loads(body)) == (
            401,
            {"error": "missing or wrong action server secret"},
        )
    req = urllib.request.Request(f"{assistant.action_url}/actions")
    with pytest.raises(urllib.error.HTTPError) as listing:
        urllib.request.urlopen(req, timeout=10)
    assert listing.value.code == 401
    with urllib.request.urlopen(f"{assistant.action_url}/health", timeout=10) as resp:
        assert resp.status == 200
    # With the secret (what the Rasa server sends) the call is answered.
    status, body = post(
        url,
        action_call(),
        {"Content-Type": "application/json", "X-Shopbot-Action-Secret": ACTION_SECRET},
    )
    assert status == 200 and json.loads(body)["responses"]
    # No web page may read its answers either: no CORS headers.
    req = urllib.request.Request(
        url,
        method="OPTIONS",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            headers = resp.headers
    except urllib.error.HTTPError as err:
        headers = err.headers
    assert "Access-Control-Allow-Origin" not in headers


# ---- conversation ids ------------------------------------------------------------------------------


def console(assistant, sender: str, text: str) -> list[dict]:
    status, raw = post(
        f"{assistant.rasa_url}/webhooks/staff/webhook",
        json.dumps({"sender": sender, "message": text}).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {STAFF_CONSOLE_TOKEN}"},
        timeout=120,
    )
    assert status == 200, raw
    return json.loads(raw)


def test_a_rest_sender_cannot_pause_a_staff_console_conversation(assistant):
    """The console files its conversations under staff:<sender>, REST under rest:<sender>: a
    REST sender named like a console conversation only ever reaches its own."""
    member = f"alice{uuid.uuid4().hex[:6]}"
    assert "reorder" in texts_of(console(assistant, member, "what should I reorder?"))
    for impostor in (f"staff:{member}", f"staff-{member}"):
        reply = assistant.say("I want to talk to a human", sender=impostor)
        assert "ticket" in texts_of(reply)
    assert "reorder" in texts_of(console(assistant, member, "what should I reorder?"))
    assert assistant.tracker(member, channel="staff")["paused"] is False


async def _socket_session(url: str, session_id: str | None = None):
    client = socketio.AsyncClient(reconnection=False)
    confirmed: asyncio.Queue = asyncio.Queue()
    uttered: asyncio.Queue = asyncio.Queue()
    client.on("session_confirm", lambda sid: confirmed.put_nowait(sid))
    client.on("bot_uttered", lambda msg: uttered.put_nowait(msg))
    # Long-polling: python-socketio's websocket client needs a newer aiohttp than Rasa pins.
    await client.connect(url, transports=["polling"], socketio_path="/socket.io")
    await client.emit("session_request", {"session_id": session_id} if session_id else {})
    sid = await asyncio.wait_for(confirmed.get(), 30)
    return client, sid, uttered


async def _close(client) -> None:
    # Without waiting for the pending long-poll (up to the 25 s ping interval) to end.
    await client.eio.disconnect(abort=True)


def test_a_socket_speaks_only_in_the_session_it_was_given(assistant):
    async def scenario():
        alice, alice_id, alice_hears = await _socket_session(assistant.rasa_url)
        mallory, mallory_id, mallory_hears = await _socket_session(assistant.rasa_url)
        try:
            assert alice_id != mallory_id
            # Writing another session's id into a message is refused, politely.
            await mallory.emit("user_uttered", {"session_id": alice_id, "message": "hi"})
            refused = await asyncio.wait_for(mallory_hears.get(), 30)
            assert "couldn't read that message" in refused["text"]
            # A made-up or altered id is not resumed: a new session is given instead.
            forged = alice_id[:-1] + ("A" if alice_id[-1] != "A" else "B")
            other, other_id, _ = await _socket_session(assistant.rasa_url, forged)
            await _close(other)
            assert other_id not in (alice_id, forged)
            # Alice's own message is answered in her session, and Mallory hears nothing of it.
            await alice.emit("user_uttered", {"session_id": alice_id, "message": "hi"})
            assert (await asyncio.wait_for(alice_hears.get(), 60)).get("text")
            await asyncio.sleep(1)
            assert mallory_hears.empty()
            return alice_id
        finally:
            await _close(alice)
            await _close(mallory)

    alice_id = asyncio.run(scenario())
    users = [
        e for e in assistant.tracker(alice_id, channel="web")["events"] if e["event"] == "user"
    ]
    assert [e["text"] for e in users] == ["hi"]


# ---- what is stored --------------------------------------------------------------------------------


def test_session_tokens_are_never_stored(assistant):
    chat = Chat(assistant, ADA)
    token = chat.metadata["session_token"]
    assert "DHL" in chat.texts("where is my order #104233?")
    path = assistant.tracker_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = [
            json.loads(d)
            for (d,) in db.execute(
                "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'",
                (f"rest:{chat.sender}",),
            )
        ]
        everything = "\n".join(d for (d,) in db.execute("SELECT data FROM events"))
    assert rows and all(r["metadata"]["session_customer"] == ADA for r in rows)
    assert token not in everything and "session_token" not in everything
    assert token not in json.dumps(assistant.tracker(chat.sender))


def test_the_api_token_is_not_on_any_command_line(assistant):
    for service in assistant.services.values():
        cmdline = Path(f"/proc/{service.proc.pid}/cmdline").read_bytes().decode()
        assert assistant.api_token not in cmdline and "--auth-token" not in cmdline
        assert ACTION_SECRET not in cmdline
    # and the API works with it
    assert assistant.tracker(f"nobody-{uuid.uuid4().hex[:6]}")["events"] is not None


# ---- oversized requests -------------------------------------------------------------------------


def _declared_body_status(url: str, length: int, headers: dict[str, str]) -> int:
    """The status a server answers to a POST announcing a ``length``-byte body, of which only
    the first KB is sent: a server that reads large bodies would wait for the rest."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {length}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + b"{" + b" " * 1023)
        status_line = conn.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def test_huge_bodies_are_refused_before_they_are_read(assistant):
    json_type = {"Content-Type": "application/json"}
    status = _declared_body_status(
        f"{assistant.rasa_url}/webhooks/rest/webhook", 2 * 1024 * 1024, json_type
    )
    assert status == 413
    status = _declared_body_status(
        f"{assistant.action_url}/webhook",
        9 * 1024 * 1024,
        {**json_type, "X-Shopbot-Action-Secret": ACTION_SECRET},
    )
    assert status == 413
    # A body under the server's limit but over the channel's still gets the channel's answer.
    status, raw = post(
        f"{assistant.rasa_url}/webhooks/rest/webhook",
        b"{" + b" " * (100 * 1024) + b"}",
        {"Content-Type": "application/json"},
    )
    assert status == 413 and "larger than 64 KB" in json.loads(raw)["error"]
    # and the server still answers
    assert assistant.say("hi")
