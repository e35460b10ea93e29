"""Slack channel for staff: Rasa's Slack connector, hardened.

What it adds to ``rasa.core.channels.slack.SlackInput``:
- a missing, wrong or stale signature gets **401** before anything runs;
- Slack's retries (``X-Slack-Retry-Num``) and repeated event ids are acknowledged and ignored, so
  an answer is never sent twice (the first delivery is answered at once and processed in the
  background, well inside Slack's 3 s);
- the Slack user id goes into the message metadata (``slack_user``) so actions can check the staff
  allowlist — the conversation id may include channel and thread;
- the Web API base URL is configurable (``SLACK_API_BASE_URL``), for a local stand-in in tests;
- custom payloads ``{"text", "blocks", "chart": {"png_b64", "filename", "title"}}`` are posted as
  Block Kit messages and the chart uploaded as a PNG file into the same thread.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://slack.com/api/"
SEEN_EVENTS_KEPT = 5000


class StaffSlackBot(SlackBot):
    """Slack output with a configurable API base URL, Block Kit payloads and chart uploads."""

    def __init__(self, token, slack_channel=None, thread_id=None, proxy=None, base_url=None):
        super().__init__(token, slack_channel, thread_id, proxy)
        self.client = AsyncWebClient(
            token, proxy=proxy, base_url=base_url or DEFAULT_API_BASE_URL, timeout=10
        )

    async def _post_message(self, channel: str, **kwargs: Any) -> None:
        kwargs.pop("as_user", None)  # deprecated for Slack apps; rejected by newer workspaces
        if self.thread_id:
            kwargs["thread_ts"] = self.thread_id
        await self.client.chat_postMessage(channel=channel, **kwargs)

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        payload = dict(json_message)
        chart = payload.pop("chart", None)
        channel = self.slack_channel or recipient_id
        if payload.get("blocks") or payload.get("text"):
            await self._post_message(
                channel=channel, text=payload.get("text") or "", blocks=payload.get("blocks")
            )
        if chart:
            await self.client.files_upload_v2(
                channel=channel,
                thread_ts=self.thread_id,
                content=base64.b64decode(chart["png_b64"]),
                filename=chart.get("filename", "chart.png"),
                title=chart.get("title", "chart"),
            )


class StaffSlackInput(SlackInput):
    """Rasa's Slack input with strict signatures, retry suppression and the staff user id."""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> StaffSlackInput:
        if not credentials:
            cls.raise_missing_credentials_exception()
        channel = cls(
            credentials.get("slack_token"),
            credentials.get("slack_channel"),
            credentials.get("proxy"),
            credentials.get("slack_retry_reason_header", "x-slack-retry-reason"),
            credentials.get("slack_retry_number_header", "x-slack-retry-num"),
            credentials.get("errors_ignore_retry", None),
            credentials.get("use_threads", True),
            credentials.get("slack_signing_secret", ""),
            credentials.get("conversation_granularity", "sender"),
        )
        channel.api_base_url = (
            credentials.get("api_base_url")
            or os.environ.get("SLACK_API_BASE_URL")
            or DEFAULT_API_BASE_URL
        )
        channel._seen_events = OrderedDict()
        return channel

    @property
    def configured(self) -> bool:
        """False while SLACK_SIGNING_SECRET / SLACK_BOT_TOKEN are unset: Rasa leaves an unset
        ``${VAR}`` in credentials.yml as that literal text, which must never work as a secret."""
        secret, token = self.slack_signing_secret or "", self.slack_token or ""
        return bool(secret) and bool(token) and "${" not in secret + token

    def is_request_from_slack_authentic(self, request: Request) -> bool:
        return self.configured and super().is_request_from_slack_authentic(request)

    # -- output ------------------------------------------------------------------------------
    def get_output_channel(
        self, channel: str | None = None, thread_id: str | None = None
    ) -> OutputChannel:
        return StaffSlackBot(
            self.slack_token,
            channel or self.slack_channel,
            thread_id,
            self.proxy,
            getattr(self, "api_base_url", DEFAULT_API_BASE_URL),
        )

    # -- input -------------------------------------------------------------------------------
    def get_metadata(self, request: Request) -> dict[str, Any]:
        metadata = super().get_metadata(request)
        if request.headers.get("content-type") == "application/json":
            body = request.json or {}
            metadata["slack_user"] = (body.get("event") or {}).get("user")
            metadata["event_id"] = body.get("event_id")
        return metadata

    def _already_seen(self, event_id: str | None) -> bool:
        if not event_id:
            return False
        seen = self._seen_events
        if event_id in seen:
            return True
        seen[event_id] = True
        while len(seen) > SEEN_EVENTS_KEPT:
            seen.popitem(last=False)
        return False

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack_webhook = Blueprint("slack_webhook", __name__)

        @slack_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @slack_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.is_request_from_slack_authentic(request):
                return response.json(
                    {"error": "invalid or stale Slack signature"}, status=HTTPStatus.UNAUTHORIZED
                )
            if request.headers.get(self.retry_num_header):
                # The first delivery was acknowledged and is being answered: never answer twice.
                return response.text("", headers={"X-Slack-No-Retry": "1"})
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("application/json"):
                return await self._handle_event(request, on_new_message)
            if content_type.startswith("application/x-www-form-urlencoded"):
                return await self._handle_interaction(request, on_new_message)
            return response.json({"error": "unsupported content type"}, status=400)

        return slack_webhook

    async def _handle_event(self, request: Request, on_new_message) -> HTTPResponse:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return response.json({"error": "malformed JSON"}, status=400)
        if not isinstance(body, dict):
            return response.json({"error": "malformed event"}, status=400)
        if body.get("type") == "url_verification":
            return response.json({"challenge": body.get("challenge")})
        if self._already_seen(body.get("event_id")):
            return response.text("", headers={"X-Slack-No-Retry": "1"})
        if not isinstance(body.get("event"), dict) or not self._is_user_message(body):
            return response.text("")
        metadata = self.get_metadata(request)
        if not self._is_supported_channel(body, metadata):
            return response.text("")
        event = body["event"]
        conversation_id = self._get_conversation_id(
            event.get("user", ""), metadata.get("out_channel"), metadata.get("thread_id")
        )
        return await self.process_message(
            request,
            on_new_message,
            text=self._sanitize_user_message(str(event.get("text", "")), metadata["users"]),
            sender_id=conversation_id,
            metadata=metadata,
        )

    async def _handle_interaction(self, request: Request, on_new_message) -> HTTPResponse:
        try:
            payload = json.loads(request.form["payload"][0])
            if not self._is_interactive_message(payload):
                return response.text("")
            text = self._get_interactive_response(payload["actions"][0])
            user = payload["user"]["id"]
        except (KeyError, IndexError, TypeError, ValueError):
            return response.json({"error": "malformed interaction payload"}, status=400)
        if text is None:
            return response.text("")
        metadata = self.get_metadata(request)
        metadata["slack_user"] = user
        conversation_id = self._get_conversation_id(
            user, metadata.get("out_channel"), metadata.get("thread_id")
        )
        return await self.process_message(request, on_new_message, text, conversation_id, metadata)
