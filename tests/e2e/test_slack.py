"""Slack, end to end: Events API requests signed exactly as Slack signs them (v0 HMAC-SHA256 over
"v0:{timestamp}:{body}") go to the real Rasa server; replies go to a local Slack API stand-in."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from PIL import Image

from actions.support import GIVE_UP_MESSAGE
from bot.identity import REFUSAL
from shop.errors import APOLOGY
from support.abuse_support import slack_event, slack_signature
from support.domain_texts import response_text
from support.servers import STAFF_SLACK_USER
from support.slack_client import post, posts_to

pytestmark = pytest.mark.rasa


def test_url_verification(assistant):
    status, body, _ = post(assistant, {"type": "url_verification", "challenge": "abc123"})
    assert status == 200 and json.loads(body) == {"challenge": "abc123"}


@pytest.mark.parametrize(
    "headers",
    [
        {},  # unsigned
        slack_signature(b"a different body"),  # signature of something else
        slack_signature(b"x", secret="wrong-secret"),
        "stale",  # correctly signed, 10 minutes old
    ],
    ids=["missing", "other-body", "wrong-secret", "stale"],
)
def test_bad_signatures_get_401_and_do_nothing(assistant, headers):
    user = "UBAD" + uuid.uuid4().hex[:6].upper()
    payload = slack_event("How many CLO-0042 do we have?", user=user)
    body = json.dumps(payload).encode()
    if headers == "stale":
        headers = slack_signature(body, ts=int(time.time()) - 600)
    status, _, _ = post(assistant, payload, headers=headers, raw=body)
    assert status == 401
    time.sleep(2)
    assert posts_to(assistant.slack.calls, payload["event"]["channel"]) == []
    # Nothing reached the dialogue: the conversation of that user has no message.
    events = assistant.tracker(user, channel="slack").get("events") or []
    assert not [e for e in events if e.get("event") == "user"]


def test_staff_stock_question_is_answered_once_in_the_thread(assistant):
    payload = slack_event("How many CLO-0042 do we have?", STAFF_SLACK_USER)
    channel = payload["event"]["channel"]
    # Slack gives up after 3 s: the event is acknowledged before the answer is worked out and
    # posted. The stand-in holds every chat.postMessage for up to 60 s, and post() gives up after
    # 10 s: an acknowledgement that waited for the answer would never arrive.
    assistant.slack.hold()
    try:
        status, _, _ = post(assistant, payload)
        assert status == 200
    finally:
        assistant.slack.release()
    # Slack retries the same event (e.g. it thought we were slow): acknowledged, not answered.
    retry = dict(
        slack_signature(json.dumps(payload).encode()),
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    status, _, headers = post(assistant, payload, headers=retry)
    assert status == 200 and headers.get("X-Slack-No-Retry") == "1"
    # The same event id delivered again without retry headers is not answered either.
    assert post(assistant, payload)[0] == 200
    calls = assistant.slack.wait_for(lambda c: posts_to(c, channel), timeout=90)
    time.sleep(4)
    replies = posts_to(assistant.slack.calls, channel)
    assert len(replies) == 1, replies
    reply = replies[0].params
    assert reply["thread_ts"] == payload["event"]["ts"]
    blocks = json.loads(reply["blocks"]) if isinstance(reply["blocks"], str) else reply["blocks"]
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"].startswith(
        "Stock of CLO-0042"
    )
    assert "On hand" in reply["text"]
    assert calls


def test_forecast_posts_blocks_and_uploads_a_png_chart(assistant):
    payload = slack_event("Forecast for EL-1042 next 4 weeks", STAFF_SLACK_USER)
    channel = payload["event"]["channel"]
    assert post(assistant, payload)[0] == 200
    calls = assistant.slack.wait_for(
        lambda c: any(
            x.method == "files.completeUploadExternal" and x.params.get("channel_id") == channel
            for x in c
        ),
        timeout=90,
    )
    [complete] = [
        c
        for c in calls
        if c.method == "files.completeUploadExternal" and c.params.get("channel_id") == channel
    ]
    assert complete.params["thread_ts"] == payload["event"]["ts"]
    files = complete.params["files"]
    files = json.loads(files) if isinstance(files, str) else files
    png = assistant.slack.uploads[files[0]["id"]]
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (900, 450)
    [msg] = posts_to(calls, channel)
    assert "Forecast for EL-1042" in msg.params["text"] and "Backtest MASE" in msg.params["text"]


def test_unlisted_slack_user_is_refused_without_data(assistant):
    payload = slack_event("How many CLO-0042 do we have?", user="UNOTSTAFF")
    channel = payload["event"]["channel"]
    assert post(assistant, payload)[0] == 200
    calls = assistant.slack.wait_for(lambda c: posts_to(c, channel), timeout=90)
    [msg] = posts_to(calls, channel)
    assert msg.params["text"] == REFUSAL and not msg.params.get("blocks")


def test_storefront_staff_question_is_refused(assistant):
    replies = assistant.say(
        "How many CLO-0042 do we have in stock?",
        sender="cust-" + uuid.uuid4().hex[:6],
        metadata={"slack_user": STAFF_SLACK_USER},
    )
    texts = [r.get("text", "") for r in replies]
    assert REFUSAL in texts or not any("On hand" in t for t in texts)
    assert not any("On hand" in t or "Days of cover" in t for t in texts)


def test_staff_console_needs_its_token(assistant):
    from support.servers import STAFF_CONSOLE_TOKEN

    def console(token):
        req = urllib.request.Request(
            f"{assistant.rasa_url}/webhooks/staff/webhook",
            data=json.dumps({"sender": "ops", "message": "what should I reorder?"}).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, None

    assert console(None)[0] == 401 and console("wrong")[0] == 401
    status, replies = console(STAFF_CONSOLE_TOKEN)
    assert status == 200
    assert replies and replies[0]["text"].startswith("What to reorder")
    # The terminal client speaks the same protocol.
    from bot.cli.staff_console_client import ask

    replies = ask(assistant.rasa_url, STAFF_CONSOLE_TOKEN, "ops2", "Show me the customer segments")
    assert replies[0]["text"].startswith("Customer segments")


def test_staff_get_an_apology_in_the_thread_when_the_action_server_is_down(assistant):

    payload = slack_event("What should I reorder?", STAFF_SLACK_USER)
    channel = payload["event"]["channel"]
    assistant.stop_actions()
    try:
        assert post(assistant, payload)[0] == 200
        assistant.slack.wait_for(lambda c: posts_to(c, channel), timeout=90)
        time.sleep(2)
        replies = posts_to(assistant.slack.calls, channel)
        assert [r.params["text"] for r in replies] == [APOLOGY]
        assert replies[0].params["thread_ts"] == payload["event"]["ts"]
    finally:
        assistant.start_actions()
    # The failed turn was forgotten: asking again in the same thread gets the report.
    again = slack_event("What should I reorder?", STAFF_SLACK_USER, channel=channel)
    again["event"]["thread_ts"] = payload["event"]["ts"]
    assert post(assistant, again)[0] == 200
    assistant.slack.wait_for(lambda c: len(posts_to(c, channel)) >= 2, timeout=90)
    assert posts_to(assistant.slack.calls, channel)[1].params["text"].startswith("What to reorder")


def test_staff_are_greeted_as_staff_and_never_handed_over(assistant):
    from bot.cli.staff_console_client import ask
    from support.servers import STAFF_CONSOLE_TOKEN

    greeting = response_text("utter_greet", "staff")
    scope = response_text("utter_out_of_scope", "staff")
    sender = "ops-" + uuid.uuid4().hex[:8]

    def console(text: str) -> list[str]:
        return [
            r.get("text") or "" for r in ask(assistant.rasa_url, STAFF_CONSOLE_TOKEN, sender, text)
        ]

    assert console("hi") == [greeting]
    rephrase = response_text("utter_ask_rephrase", "staff")
    assert console("help") == [rephrase]  # what staff can ask, not "say it another way"
    # Not understood again and again: what staff can ask, never a customer's hand-off.
    for attempt in range(4):
        replies = console(f"zqx vrrp plonk {attempt}")
        assert not any("ticket" in r or "colleague" in r for r in replies), replies
        if scope in replies:
            break
    assert replies == [GIVE_UP_MESSAGE.strip(), scope], replies
    assert console("what should I reorder?")[0].startswith("What to reorder")  # not paused
    assert console("which promotions are running?")[0].startswith("Promotions")

    payload = slack_event("hi", STAFF_SLACK_USER)
    channel = payload["event"]["channel"]
    assert post(assistant, payload)[0] == 200
    assistant.slack.wait_for(lambda c: posts_to(c, channel), timeout=90)
    slack_greeting = response_text("utter_greet", "slack")
    assert [r.params["text"] for r in posts_to(assistant.slack.calls, channel)] == [slack_greeting]
