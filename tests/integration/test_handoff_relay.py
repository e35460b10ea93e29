"""The hand-off relay's Slack side against a real Sanic server (the Slack and REST channels as
``rasa run`` mounts them, without a trained model), a real SQLite shop and the Slack stand-in:
cards, buttons, thread replies, the outbox, reminders. The whole story with the real Rasa and
action servers is in tests/e2e/test_handoff_slack.py."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.handoff.relay import CLOSED, JOINED, NOT_STAFF, WELCOME_BACK
from shop import handoffs, tickets
from shop.store import make_engine, session_scope, upgrade
from shop.store.models import Handoff, HandoffMessage, SupportTicket, utcnow
from support.handoff_support import (
    ephemerals,
    outbox,
    press,
    send_event,
    thread_event,
    thread_posts,
    wait_card,
    wait_outbox,
    wait_until,
)
from support.race import race
from support.servers import (
    SLACK_SIGNING_SECRET,
    STAFF_SLACK_USER,
    STAFF_SLACK_USER_2,
    SUPPORT_CHANNEL,
    free_port,
)
from support.slack_standin import SlackStandIn, start_slack_standin

ROOT = Path(__file__).resolve().parents[2]
OUTSIDER = "UNOTSTAFF9"
SERVER = """
import sys
from sanic import Sanic
from bot.channels.rest import ShopRestInput
from bot.channels.slack import StaffSlackInput
import os

slack = StaffSlackInput.from_credentials(
    {"slack_token": os.environ["SLACK_BOT_TOKEN"],
     "slack_signing_secret": os.environ["SLACK_SIGNING_SECRET"]}
)
rest = ShopRestInput()
app = Sanic("handoff_relay_test")

async def on_message(message):
    return None

app.blueprint(slack.blueprint(on_message), url_prefix="/webhooks/slack")
app.blueprint(rest.blueprint(on_message), url_prefix="/webhooks/rest")
app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, debug=False)
"""


@dataclass
class Relay:
    url: str
    slack: SlackStandIn
    engine: object


def _open(engine, conversation: str, opened: dt.datetime | None = None) -> tuple[int, int]:
    with session_scope(engine) as s:
        ticket = tickets.open_ticket(
            s,
            kind="handoff",
            conversation_id=conversation,
            channel="rest",
            subject="Hand-off: talk to a human",
            transcript=[("customer", "my parcel is lost"), ("customer", "talk to a human")],
        )
        hid = handoffs.open_handoff(
            s,
            ticket_id=ticket,
            conversation_id=conversation,
            channel="rest",
            reason="talk to a human",
            now=opened,
        )
    return ticket, hid


@pytest.fixture(scope="module")
def relay(tmp_path_factory) -> Iterator[Relay]:
    tmp = tmp_path_factory.mktemp("relay")
    db_url = f"sqlite:///{tmp / 'shop.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    # Waiting for 30 minutes already: the reminder is due as soon as its card is posted.
    _open(engine, "rest:forgotten", opened=utcnow() - dt.timedelta(minutes=30))
    slack = start_slack_standin()
    slack.users.update({STAFF_SLACK_USER: "Sam", STAFF_SLACK_USER_2: "Kim"})
    port = free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        DATABASE_URL=db_url,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SLACK_SIGNING_SECRET,
        SLACK_API_BASE_URL=slack.base_url,
        SHOPBOT_STAFF_SLACK_USERS=f"{STAFF_SLACK_USER},{STAFF_SLACK_USER_2}",
        SHOPBOT_SLACK_SUPPORT_CHANNEL=SUPPORT_CHANNEL,
        SHOPBOT_SLACK_SUPPORT_GROUP="S0SUPPORT",
        SHOPBOT_HANDOFF_SLA_MINUTES="10",
    )
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp / "server.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"{url}/webhooks/slack/", timeout=2)
                break
            except (urllib.error.URLError, OSError):
                assert time.monotonic() < deadline, (tmp / "server.log").read_text()[-3000:]
                time.sleep(0.3)
        yield Relay(url, slack, engine)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        slack.stop()
        engine.dispose()
        print((tmp / "server.log").read_text()[-3000:])


def _handoff(relay: Relay, hid: int) -> Handoff:
    with session_scope(relay.engine) as s:
        return s.get(Handoff, hid)


def test_card_is_posted_once_with_the_context_and_the_overdue_one_is_reminded(relay):
    ticket, hid = _open(relay.engine, "rest:card")
    got_hid, ts, card = wait_card(relay.slack, ticket)
    assert got_hid == hid
    wait_until(lambda: _handoff(relay, hid).thread_ts == ts, what="the thread recorded")
    assert "talk to a human" in str(card["blocks"]) and "Guest, nothing verified" in str(
        card["blocks"]
    )
    time.sleep(2.5)  # more timer rounds: still one card
    cards = [
        p for p in relay.slack.messages(SUPPORT_CHANNEL) if f"ticket #{ticket}" in p.get("text", "")
    ]
    assert len(cards) == 1
    with session_scope(relay.engine) as s:
        forgotten = s.execute(
            select(Handoff).where(Handoff.conversation_id == "rest:forgotten")
        ).scalar_one()
        thread = forgotten.thread_ts
    reminders = wait_until(
        lambda: [t for t in thread_posts(relay.slack, thread) if "waited over 10 minutes" in t],
        what="the SLA reminder",
    )
    assert reminders[0].startswith("<!subteam^S0SUPPORT>")
    assert thread_posts(relay.slack, ts) == []  # not overdue: no reminder


def test_take_over_replies_notes_and_resolve(relay):
    ticket, hid = _open(relay.engine, "rest:story")
    _, ts, _ = wait_card(relay.slack, ticket)
    # Unsigned, badly signed, and not allow-listed: refused, nothing changes.
    assert press(relay.url, "handoff_take", hid, STAFF_SLACK_USER, headers={})[0] == 401
    bad = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"}
    assert press(relay.url, "handoff_take", hid, STAFF_SLACK_USER, headers=bad)[0] == 401
    assert press(relay.url, "handoff_take", hid, OUTSIDER)[0] == 200
    wait_until(lambda: NOT_STAFF in ephemerals(relay.slack, OUTSIDER), what="the refusal")
    send_event(relay.url, thread_event("trust me", OUTSIDER, ts))
    time.sleep(1.5)
    assert _handoff(relay, hid).state == "waiting" and outbox(relay.url, "story") == []

    # Sam takes over, acknowledged well inside Slack's 3 s.
    status, seconds = press(relay.url, "handoff_take", hid, STAFF_SLACK_USER)
    assert status == 200 and seconds < 3
    assert [m["text"] for m in wait_outbox(relay.url, "story", 1)] == [JOINED.format(name="Sam")]
    # His reply arrives three times (a retry, the same event id again): relayed once.
    reply = thread_event("Tom &amp; Jerry &lt;3 your parcel", STAFF_SLACK_USER, ts)
    for retry in (None, 1, None):
        assert send_event(relay.url, reply, retry=retry)[0] == 200
    # Notes, edits, joins and the bot's own posts never reach the customer.
    send_event(relay.url, thread_event("note: DHL lost it", STAFF_SLACK_USER, ts))
    send_event(relay.url, thread_event("x", STAFF_SLACK_USER, ts, subtype="message_changed"))
    send_event(relay.url, thread_event("x", STAFF_SLACK_USER, ts, subtype="channel_join"))
    send_event(relay.url, thread_event("Customer: hi", "UBOTUSER", ts, bot_id="B1"))
    # Kim is not the owner: her reply is not relayed, she is told who answers.
    send_event(relay.url, thread_event("Kim here", STAFF_SLACK_USER_2, ts))
    got = wait_outbox(relay.url, "story", 1)
    time.sleep(2)
    got += outbox(relay.url, "story")
    assert got == [{"recipient_id": "story", "text": "Tom & Jerry <3 your parcel", "agent": "Sam"}]
    wait_until(lambda: any("Sam answers" in t for t in ephemerals(relay.slack, STAFF_SLACK_USER_2)))

    assert press(relay.url, "handoff_resolve", hid, STAFF_SLACK_USER)[0] == 200
    assert [m["text"] for m in wait_outbox(relay.url, "story", 1)] == [WELCOME_BACK]
    assert press(relay.url, "handoff_resolve", hid, STAFF_SLACK_USER_2)[0] == 200
    wait_until(lambda: CLOSED in ephemerals(relay.slack, STAFF_SLACK_USER_2), what="closed")
    with session_scope(relay.engine) as s:
        row = s.get(Handoff, hid)
        assert (row.state, row.assignee, row.outcome) == ("resolved", STAFF_SLACK_USER, "resolved")
        assert s.get(SupportTicket, ticket).status == "resolved"
        ledger = s.execute(
            select(HandoffMessage.direction, HandoffMessage.text)
            .where(HandoffMessage.handoff_id == hid)
            .order_by(HandoffMessage.id)
        ).all()
    rows = [tuple(r) for r in ledger]
    # Events are processed off the request, so the reply and the note (sent one after the other)
    # may be recorded in either order; what reaches the customer is in order.
    assert rows[0] == ("to_customer", JOINED.format(name="Sam"))
    assert sorted(rows[1:3]) == [
        ("note", "note: DHL lost it"),
        ("to_customer", "Tom & Jerry <3 your parcel"),
    ]
    assert rows[3:] == [("to_customer", WELCOME_BACK)]
    assert any("Resolved by <@UTESTSTAFF1>" in t for t in thread_posts(relay.slack, ts))


def test_two_staff_pressing_take_over_at_once_give_one_owner(relay):
    ticket, hid = _open(relay.engine, "rest:race")
    _, ts, _ = wait_card(relay.slack, ticket)
    users = [STAFF_SLACK_USER, STAFF_SLACK_USER_2] * 3
    assert race(6, lambda i: press(relay.url, "handoff_take", hid, users[i])[0]) == [200] * 6
    owner = wait_until(lambda: _handoff(relay, hid).assignee, what="an owner")
    name = {STAFF_SLACK_USER: "Sam", STAFF_SLACK_USER_2: "Kim"}[owner]
    got = wait_outbox(relay.url, "race", 1)
    time.sleep(2)
    got += outbox(relay.url, "race")
    assert [m["text"] for m in got] == [JOINED.format(name=name)]
    took = [t for t in thread_posts(relay.slack, ts) if "took this conversation over" in t]
    assert took == [f"<@{owner}> took this conversation over."]
