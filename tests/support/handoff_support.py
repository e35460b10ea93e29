"""Talking to a server's Slack and REST endpoints as Slack and as a customer do during a
hand-off (requests signed exactly as Slack signs them), and reading what reached the Slack
stand-in."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from support.abuse_support import slack_signature
from support.servers import SUPPORT_CHANNEL
from support.slack_standin import SlackStandIn


def post_slack(url: str, body: bytes, content_type: str, headers: dict | None = None):
    """(status, seconds to the answer) of a request to the Slack webhook, signed unless
    ``headers`` are given."""
    req = urllib.request.Request(
        f"{url}/webhooks/slack/webhook",
        data=body,
        headers={
            "Content-Type": content_type,
            **(headers if headers is not None else slack_signature(body)),
        },
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status = resp.status
    except urllib.error.HTTPError as err:
        status = err.code
    return status, time.monotonic() - started


def press(url: str, action_id: str, handoff_id: int, user: str, headers: dict | None = None):
    """A press on a hand-off card's button, as Slack's interactivity request sends it."""
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": SUPPORT_CHANNEL},
        "message": {"ts": "1700000000.000001"},
        "actions": [{"type": "button", "action_id": action_id, "value": str(handoff_id)}],
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return post_slack(url, body, "application/x-www-form-urlencoded", headers)


def thread_event(text: str, user: str, thread_ts: str, **event_extra) -> dict:
    """An Events API envelope of a message in a thread of the support channel."""
    return {
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "authorizations": [{"user_id": "UBOTUSER"}],
        "event": {
            "type": "message",
            "channel": SUPPORT_CHANNEL,
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
            "thread_ts": thread_ts,
            **event_extra,
        },
    }


def send_event(url: str, envelope: dict, retry: int | None = None):
    """Delivers an event (as Slack's retry number ``retry`` if given)."""
    body = json.dumps(envelope).encode()
    headers = slack_signature(body)
    if retry:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return post_slack(url, body, "application/json", headers)


def outbox(url: str, sender: str) -> list[dict]:
    """What the team wrote to a REST customer since the last call."""
    req = urllib.request.Request(
        f"{url}/webhooks/rest/outbox",
        data=json.dumps({"sender": sender}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def wait_outbox(url: str, sender: str, n: int, timeout: float = 30) -> list[dict]:
    """The REST customer's messages from the team, polled until there are ``n``."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(got) < n:
        got += outbox(url, sender)
        time.sleep(0.3)
    return got


def blocks_of(params: dict) -> list:
    blocks = params.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def wait_card(slack: SlackStandIn, ticket: int, timeout: float = 30) -> tuple[int, str, dict]:
    """(hand-off id, card ts, card params) of the context card of ``ticket``."""

    def card(calls):
        for c in calls:
            p = c.params
            if (
                c.method == "chat.postMessage"
                and p.get("channel") == SUPPORT_CHANNEL
                and not p.get("thread_ts")
                and f"ticket #{ticket}" in (p.get("text") or "")
                and "_ts" in p
            ):
                return c
        return None

    params = card(slack.wait_for(card, timeout=timeout)).params
    buttons = [b for b in blocks_of(params) if b.get("type") == "actions"][0]["elements"]
    return int(buttons[0]["value"]), str(params["_ts"]), params


def thread_posts(slack: SlackStandIn, thread_ts: str) -> list[str]:
    return [
        p.get("text") or ""
        for p in slack.messages(SUPPORT_CHANNEL)
        if p.get("thread_ts") == thread_ts
    ]


def ephemerals(slack: SlackStandIn, user: str) -> list[str]:
    with slack.lock:
        calls = list(slack.calls)
    return [
        c.params.get("text") or ""
        for c in calls
        if c.method == "chat.postEphemeral" and c.params.get("user") == user
    ]


def wait_until(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what}: not met in {timeout} s")
