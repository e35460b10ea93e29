"""Which Slack requests reach the hand-off relay: thread replies by people (not the bot's own
posts, edits, joins or top-level messages), and presses on a hand-off card's buttons."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from bot.channels.rest import RequestError
from bot.channels.slack import is_support_event, parse_handoff_button, parse_thread_reply

SUPPORT = "CSUPPORT01"


def envelope(**event) -> dict:
    base = {
        "type": "message",
        "channel": SUPPORT,
        "user": "USAM",
        "text": "Hi there",
        "ts": "1700000001.000200",
        "thread_ts": "1700000000.000100",
    }
    base.update(event)
    return {
        "event": {k: v for k, v in base.items() if v is not None},
        "authorizations": [{"user_id": "UBOT"}],
    }


def test_a_reply_in_a_support_thread_is_relayed_with_its_ts():
    body = envelope()
    assert is_support_event(body, SUPPORT) and not is_support_event(body, "COTHER")
    assert not is_support_event(body, None)
    reply = parse_thread_reply(body)
    assert (reply.user, reply.thread_ts, reply.ts, reply.text) == (
        "USAM",
        "1700000000.000100",
        "1700000001.000200",
        "Hi there",
    )
    assert parse_thread_reply(envelope(subtype="thread_broadcast")) is not None


@pytest.mark.parametrize(
    "event",
    [
        {"subtype": "message_changed"},
        {"subtype": "message_deleted"},
        {"subtype": "channel_join"},
        {"subtype": "bot_message"},
        {"bot_id": "B0001"},
        {"user": "UBOT"},  # the app's own user
        {"thread_ts": None},  # a top-level message, not in a thread
        {"thread_ts": "1700000001.000200"},  # the thread's parent (the card) itself
        {"type": "app_mention"},  # arrives as a message event too
        {"text": ""},
    ],
)
def test_posts_that_are_not_a_persons_reply_are_not_relayed(event):
    assert parse_thread_reply(envelope(**event)) is None


def test_malformed_thread_events_are_refused():
    with pytest.raises(RequestError):
        parse_thread_reply(envelope(ts="yesterday"))
    with pytest.raises(RequestError):
        parse_thread_reply(envelope(text=["not", "text"]))


def form(payload) -> bytes:
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def test_card_buttons_are_recognised_and_other_interactions_are_not():
    payload = {
        "user": {"id": "USAM"},
        "channel": {"id": SUPPORT},
        "actions": [{"type": "button", "action_id": "handoff_take", "value": "42"}],
    }
    assert parse_handoff_button(form(payload)) == ("handoff_take", "42", "USAM", SUPPORT)
    other = dict(payload, actions=[{"type": "button", "action_id": "x", "value": "/greet"}])
    assert parse_handoff_button(form(other)) is None  # an ordinary button: the dialogue's
    assert parse_handoff_button(b"not a form") is None
    with pytest.raises(RequestError):
        parse_handoff_button(form(dict(payload, user="USAM")))
