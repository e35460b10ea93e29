"""Talking to the running assistant's Slack channel as Slack does: signed Events API posts, and
reading what it sent to the Slack API stand-in."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from support.abuse_support import slack_signature


def post(assistant, payload, headers: dict | None = None, raw: bytes | None = None):
    """(status, body, headers) of posting ``payload`` (signed unless ``headers`` are given)."""
    body = raw if raw is not None else json.dumps(payload).encode()
    req = urllib.request.Request(
        f"{assistant.rasa_url}/webhooks/slack/webhook",
        data=body,
        headers={
            "Content-Type": "application/json",
            **(headers if headers is not None else slack_signature(body)),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def posts_to(calls, channel):
    """The stand-in's chat.postMessage calls to ``channel``."""
    return [
        c for c in calls if c.method == "chat.postMessage" and c.params.get("channel") == channel
    ]
