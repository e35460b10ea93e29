"""Human take-over from Slack, end to end: the real Rasa and action servers, the Slack Web API
stand-in, requests signed exactly as Slack signs them. A customer asks for a human, the card
appears in the support channel, a colleague takes over and answers in the thread, the customer's
answer reaches the thread, the colleague resolves and the bot answers again."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid

import socketio
from sqlalchemy import select

from bot.channels.guard import PAUSED_NOTICE
from bot.handoff.relay import JOINED, WELCOME_BACK
from shop.store import make_engine, session_scope
from shop.store.models import Handoff, HandoffMessage, SupportTicket
from support.handoff_support import (
    blocks_of,
    outbox,
    press,
    send_event,
    thread_event,
    thread_posts,
    wait_card,
    wait_outbox,
    wait_until,
)
from support.servers import STAFF_SLACK_USER


def say(assistant, sender: str, text: str) -> list[dict]:
    return assistant.say(text, sender=sender, timeout=60)


def hand_off(assistant, sender: str) -> tuple[int, int, str, dict]:
    """The customer asks for a human: (ticket, hand-off id, thread ts, card params)."""
    replies = say(assistant, sender, "I want to talk to a human")
    ticket = int(re.search(r"ticket #(\d+)", " ".join(r.get("text") or "" for r in replies))[1])
    return (ticket, *wait_card(assistant.slack, ticket))


def db(assistant):
    return session_scope(make_engine(assistant.db_url))


# ---- the whole story over REST ---------------------------------------------------------------------


def test_take_over_reply_answer_resolve_and_the_bot_answers_again(assistant):
    sender = f"handoff-{uuid.uuid4().hex[:8]}"
    ticket, hid, thread_ts, card = hand_off(assistant, sender)
    # The card: ticket, reason, the (guest) customer, the last turns and the three buttons.
    blocks = blocks_of(card)
    text_of_card = json.dumps(blocks)
    assert f"ticket #{ticket}" in card["text"]
    assert "I want to talk to a human" in text_of_card and "Guest" in text_of_card
    actions = [b for b in blocks if b["type"] == "actions"][0]["elements"]
    assert [a["action_id"] for a in actions] == ["handoff_take", "handoff_resolve", "handoff_note"]

    # While nobody owns it, the customer is told the team will answer, and the thread hears it.
    assert [r["text"] for r in say(assistant, sender, "hello? my parcel is lost")] == [
        PAUSED_NOTICE
    ]
    wait_until(
        lambda: "Customer: hello? my parcel is lost" in thread_posts(assistant.slack, thread_ts),
        what="the customer's message in the thread",
    )

    # Sam takes over, acknowledged well inside Slack's 3 s; the customer hears who joined.
    status, seconds = press(assistant.rasa_url, "handoff_take", hid, STAFF_SLACK_USER)
    assert status == 200 and seconds < 3
    joined = wait_outbox(assistant.rasa_url, sender, 1)
    assert [m["text"] for m in joined] == [JOINED.format(name="Sam")]

    # Sam answers in the thread; Slack delivers the event three times (a retry, and the same
    # event id again): the customer gets it once.
    reply = thread_event(
        "Hi, I'm Sam &amp; I'll check the parcel for you.", STAFF_SLACK_USER, thread_ts
    )
    assert send_event(assistant.rasa_url, reply)[0] == 200
    assert send_event(assistant.rasa_url, reply, retry=1)[0] == 200
    assert send_event(assistant.rasa_url, reply)[0] == 200
    # A note, an edit, a join and the bot's own post are never relayed.
    send_event(
        assistant.rasa_url, thread_event("note: looks like a DHL loss", STAFF_SLACK_USER, thread_ts)
    )
    send_event(
        assistant.rasa_url,
        thread_event("edited", STAFF_SLACK_USER, thread_ts, subtype="message_changed"),
    )
    send_event(
        assistant.rasa_url,
        thread_event("joined", STAFF_SLACK_USER, thread_ts, subtype="channel_join"),
    )
    send_event(
        assistant.rasa_url, thread_event("Customer: echo", "UBOTUSER", thread_ts, bot_id="B01")
    )
    got = wait_outbox(assistant.rasa_url, sender, 1)
    time.sleep(3)
    got += outbox(assistant.rasa_url, sender)
    assert [(m["text"], m.get("agent")) for m in got] == [
        ("Hi, I'm Sam & I'll check the parcel for you.", "Sam")
    ]

    # The customer answers: the bot says nothing, the thread gets it once.
    assert say(assistant, sender, "thanks, it was order 104233") == []
    wait_until(
        lambda: "Customer: thanks, it was order 104233" in thread_posts(assistant.slack, thread_ts),
        what="the customer's answer in the thread",
    )
    assert (
        thread_posts(assistant.slack, thread_ts).count("Customer: thanks, it was order 104233") == 1
    )
    assert not [t for t in thread_posts(assistant.slack, thread_ts) if "echo" in t or "DHL" in t]

    # Resolve: the customer is greeted back, and the bot answers the next question again.
    assert press(assistant.rasa_url, "handoff_resolve", hid, STAFF_SLACK_USER)[0] == 200
    assert [m["text"] for m in wait_outbox(assistant.rasa_url, sender, 1)] == [WELCOME_BACK]
    answer = " ".join(
        r.get("text") or "" for r in say(assistant, sender, "which payment methods do you accept?")
    )
    assert answer and PAUSED_NOTICE not in answer
    tracker = assistant.tracker(sender)
    assert tracker["paused"] is False, [
        (e["event"], e.get("text") or e.get("name")) for e in tracker["events"]
    ][-20:]
    kinds = [e["event"] for e in tracker["events"]]
    assert "resume" in kinds
    sam_said = [
        e
        for e in tracker["events"]
        if e["event"] == "bot" and (e.get("metadata") or {}).get("handoff_agent") == "Sam"
    ]
    assert [e["text"] for e in sam_said] == [
        JOINED.format(name="Sam"),
        "Hi, I'm Sam & I'll check the parcel for you.",
    ]
    with db(assistant) as s:
        handoff = s.get(Handoff, hid)
        assert (handoff.state, handoff.assignee, handoff.outcome) == (
            "resolved",
            STAFF_SLACK_USER,
            "resolved",
        )
        assert handoff.first_response_at and handoff.resolved_at
        assert s.get(SupportTicket, ticket).status == "resolved"
        notes = (
            s.execute(
                select(HandoffMessage.text).where(
                    HandoffMessage.handoff_id == hid, HandoffMessage.direction == "note"
                )
            )
            .scalars()
            .all()
        )
        assert notes == ["note: looks like a DHL loss"]


# ---- the web widget: a reply while the customer is away arrives on reconnect --------------------------


async def _widget(url: str, session_id: str | None = None):
    client = socketio.AsyncClient(reconnection=False)
    confirmed: asyncio.Queue = asyncio.Queue()
    heard: asyncio.Queue = asyncio.Queue()
    client.on("session_confirm", lambda sid: confirmed.put_nowait(sid))
    client.on("bot_uttered", lambda msg: heard.put_nowait(msg))
    await client.connect(url, transports=["polling"], socketio_path="/socket.io")
    await client.emit("session_request", {"session_id": session_id} if session_id else {})
    return client, await asyncio.wait_for(confirmed.get(), 30), heard


async def _next(heard: asyncio.Queue, timeout: float = 60) -> dict:
    return await asyncio.wait_for(heard.get(), timeout)


def test_widget_gets_replies_live_and_those_sent_while_away_on_reconnect(assistant):
    async def scenario():
        client, session_id, heard = await _widget(assistant.rasa_url)
        await client.emit(
            "user_uttered", {"session_id": session_id, "message": "I want to talk to a human"}
        )
        reply = await _next(heard)
        ticket = int(re.search(r"ticket #(\d+)", reply["text"]).group(1))
        hid, thread_ts, _ = await asyncio.to_thread(wait_card, assistant.slack, ticket)
        # Taken over while connected: the widget hears who joined, and the reply, live.
        assert (
            await asyncio.to_thread(
                press, assistant.rasa_url, "handoff_take", hid, STAFF_SLACK_USER
            )
        )[0] == 200
        assert (await _next(heard))["text"] == JOINED.format(name="Sam")
        await asyncio.to_thread(
            send_event,
            assistant.rasa_url,
            thread_event("First answer", STAFF_SLACK_USER, thread_ts),
        )
        assert await _next(heard) == {"text": "First answer", "agent": "Sam"}
        # The customer's answer goes to the thread, and the bot says nothing.
        await client.emit("user_uttered", {"session_id": session_id, "message": "ok, thank you"})
        await asyncio.to_thread(
            wait_until,
            lambda: "Customer: ok, thank you" in thread_posts(assistant.slack, thread_ts),
            30,
            "the widget's answer in the thread",
        )
        # The customer leaves; Sam answers meanwhile; nothing is lost.
        await client.disconnect()
        await asyncio.sleep(1)
        await asyncio.to_thread(
            send_event,
            assistant.rasa_url,
            thread_event("Your refund is on its way", STAFF_SLACK_USER, thread_ts),
        )
        await asyncio.sleep(3)
        assert heard.empty()  # the silence of the bot, and nothing to a closed widget
        back, resumed_id, heard_again = await _widget(assistant.rasa_url, session_id)
        try:
            assert resumed_id == session_id
            assert await _next(heard_again, 30) == {
                "text": "Your refund is on its way",
                "agent": "Sam",
            }
            await asyncio.sleep(2)
            assert heard_again.empty()  # delivered once: not again after the reconnect
        finally:
            await back.disconnect()
        return session_id

    session_id = asyncio.run(scenario())
    events = assistant.tracker(session_id, channel="web")["events"]
    assert [
        e["text"]
        for e in events
        if e["event"] == "bot" and (e.get("metadata") or {}).get("slack_ts")
    ] == [
        JOINED.format(name="Sam"),
        "First answer",
        "Your refund is on its way",
    ]
