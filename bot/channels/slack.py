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
  Block Kit messages and the chart uploaded as a PNG file into the same thread;
- signed but malformed requests get **400** with a JSON error and never reach the dialogue: every
  field used is checked (Rasa's connector crashed with a 500 on wrong types, and treated an event
  without a channel as one from the configured channel);
- text the bot posts is escaped (``&``, ``<``, ``>``) so product names or echoed user input can
  never form a mention (``<!channel>``), a link or any other Slack markup.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

from analytics.reports.slack import escape
from bot.channels.guard import handle_or_apologise
from bot.channels.rest import MAX_MESSAGE_LENGTH, RequestError, clean_text
from bot.channels.rest import conversation_id as prefixed
from bot.handoff import relay, timers
from bot.handoff.slack_client import DEFAULT_API_BASE_URL, support_channel
from bot.identity import SLACK_CHANNEL
from shop import settings

log = logging.getLogger(__name__)

SEEN_EVENTS_KEPT = 5000
# Slack's ids (users U…/W…, channels C…/D…/G…) and message timestamps ("1712345678.000100").
SLACK_ID = re.compile(r"[A-Za-z0-9]{1,40}")
SLACK_TS = re.compile(r"\d{1,12}(?:\.\d{1,9})?")
EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
MAX_CHALLENGE_LENGTH = 1000
MAX_BUTTONS = 5  # Slack ignores a whole actions block with more
TOO_LONG_MESSAGE = (
    f"Sorry, that message is too long for me. Please ask in under {MAX_MESSAGE_LENGTH:,} "
    "characters."
)
# Interactive components whose chosen value Rasa's connector can read.
INTERACTIVE_TYPES = frozenset(
    {
        "button",
        "select",
        "static_select",
        "external_select",
        "conversations_select",
        "users_select",
        "channels_select",
        "overflow",
        "datepicker",
    }
)


@dataclass(frozen=True)
class SlackMessage:
    """A user's message from a signed Slack request, every field checked."""

    text: str
    user: str
    channel: str
    thread_ts: str | None
    event_id: str | None = None
    bot_users: tuple[str, ...] = ()
    direct: bool = False  # in a direct message with the bot
    mention: bool = False  # an app_mention event

    def metadata(self) -> dict[str, Any]:
        """The message metadata the actions read (``slack_user`` for the staff allowlist)."""
        return {
            "out_channel": self.channel,
            "thread_id": self.thread_ts,
            "users": list(self.bot_users),
            "slack_user": self.user,
            "event_id": self.event_id,
        }


def _slack_id(value: Any, what: str) -> str | None:
    """``value`` if it is a Slack id, None if absent; RequestError for anything else."""
    if value is None:
        return None
    if not isinstance(value, str) or not SLACK_ID.fullmatch(value):
        raise RequestError(f"'{what}' must be a Slack id")
    return value


def _slack_ts(value: Any, what: str) -> str | None:
    """``value`` if it is a Slack timestamp, None if absent; RequestError for anything else."""
    if value is None:
        return None
    if not isinstance(value, str) or not SLACK_TS.fullmatch(value):
        raise RequestError(f"'{what}' must be a Slack timestamp")
    return value


def _bot_user_ids(body: dict[str, Any]) -> tuple[str, ...]:
    """The app's own user ids named in an event envelope (to drop self-mentions); junk ignored."""
    users = body.get("authed_users")
    if not isinstance(users, list):
        authorizations = body.get("authorizations")
        first = authorizations[0] if isinstance(authorizations, list) and authorizations else None
        users = [first.get("user_id")] if isinstance(first, dict) else []
    return tuple(u for u in users if isinstance(u, str) and SLACK_ID.fullmatch(u))


@dataclass(frozen=True)
class _EventFields:
    """A message event's text and ids, each checked for its type and form (None when absent)."""

    text: str | None
    user: str | None
    channel: str | None
    ts: str | None
    thread_ts: str | None


def _event_fields(event: dict[str, Any]) -> _EventFields:
    """The checked fields of a message event; RequestError when one is malformed."""
    text = event.get("text")
    if text is not None and not isinstance(text, str):
        raise RequestError("'event.text' must be a string")
    return _EventFields(
        text=text,
        user=_slack_id(event.get("user"), "event.user"),
        channel=_slack_id(event.get("channel"), "event.channel"),
        ts=_slack_ts(event.get("ts"), "event.ts"),
        thread_ts=_slack_ts(event.get("thread_ts"), "event.thread_ts"),
    )


def parse_event(body: dict[str, Any]) -> SlackMessage | None:
    """The user message an Events API envelope carries; None when it carries none for the bot
    (other event types, the bot's own posts, edits, no text); RequestError when malformed."""
    event = body.get("event")
    if not isinstance(event, dict):
        raise RequestError("'event' must be an object")
    event_id = body.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id)):
        raise RequestError("'event_id' must be a Slack event id")
    kind = event.get("type")
    if kind not in ("message", "app_mention") or event.get("bot_id"):
        return None
    f = _event_fields(event)
    channel_type = event.get("channel_type")
    if channel_type is not None and not isinstance(channel_type, str):
        raise RequestError("'event.channel_type' must be a string")
    if not f.text or f.user is None or f.channel is None:
        return None  # nothing said, or not by a person in a conversation: nothing to answer
    return SlackMessage(
        text=clean_text(f.text),
        user=f.user,
        channel=f.channel,
        thread_ts=f.thread_ts or f.ts,
        event_id=event_id,
        bot_users=_bot_user_ids(body),
        direct=channel_type == "im",
        mention=kind == "app_mention",
    )


def is_support_event(body: Any, support: str | None) -> bool:
    """True for an Events API envelope of a message in the hand-off support channel."""
    event = body.get("event") if isinstance(body, dict) else None
    return bool(support) and isinstance(event, dict) and event.get("channel") == support


def parse_thread_reply(body: dict[str, Any]) -> relay.ThreadMessage | None:
    """A person's reply in a thread of the support channel; None for everything else there (the
    bot's own posts, edits, joins and other subtypes, top-level messages, mentions: a mention
    arrives as a message event too); RequestError when malformed."""
    event = body["event"]
    if event.get("type") != "message" or event.get("bot_id"):
        return None
    if event.get("subtype") not in (None, "thread_broadcast"):
        return None  # message_changed, message_deleted, channel_join, bot_message, …
    f = _event_fields(event)
    if not (f.user and f.channel and f.ts and f.thread_ts and f.text) or f.thread_ts == f.ts:
        return None
    if f.user in _bot_user_ids(body):
        return None
    return relay.ThreadMessage(
        user=f.user,
        channel=f.channel,
        thread_ts=f.thread_ts,
        ts=f.ts,
        text=clean_text(f.text)[:MAX_MESSAGE_LENGTH],
    )


def parse_handoff_button(raw: bytes) -> tuple[str, str, str, str] | None:
    """(action id, value, user, channel) of a press on a hand-off card's button, else None."""
    try:
        form = urllib.parse.parse_qs(raw.decode("utf-8"), strict_parsing=True)
        payload = json.loads(form["payload"][0])
    except (ValueError, UnicodeDecodeError, RecursionError, KeyError, IndexError):
        return None
    if not isinstance(payload, dict):
        return None
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        return None
    action_id, value = actions[0].get("action_id"), actions[0].get("value")
    if action_id not in relay.BUTTONS or not isinstance(value, str):
        return None
    user, channel = payload.get("user"), payload.get("channel")
    if not isinstance(user, dict) or not isinstance(channel, dict):
        raise RequestError("'user' and 'channel' must be objects")
    user_id = _slack_id(user.get("id"), "user.id")
    channel_id = _slack_id(channel.get("id"), "channel.id")
    if user_id is None or channel_id is None:
        raise RequestError("'user.id' and 'channel.id' are required")
    return action_id, value[:20], user_id, channel_id


def _interactive_value(action: dict[str, Any]) -> Any:
    """The value chosen in an interactive component (as Rasa's connector reads it)."""
    try:
        return SlackInput._get_interactive_response(action)
    except (AttributeError, IndexError, KeyError, TypeError):
        raise RequestError("'actions[0]' is not a valid interactive action") from None


def parse_interaction(raw: bytes) -> SlackMessage | None:
    """The user's choice a signed interaction request (form field ``payload``) carries; None for
    components without a value to read; RequestError when malformed."""
    try:
        form = urllib.parse.parse_qs(raw.decode("utf-8"), strict_parsing=True)
        payload = json.loads(form["payload"][0])
    except (ValueError, UnicodeDecodeError, RecursionError, KeyError, IndexError):
        raise RequestError("the body must be a form with a JSON 'payload'") from None
    if not isinstance(payload, dict):
        raise RequestError("'payload' must be an object")
    actions = payload.get("actions")
    if not actions:
        return None
    if not isinstance(actions, list) or not isinstance(actions[0], dict):
        raise RequestError("'actions' must be a list of objects")
    if actions[0].get("type") not in INTERACTIVE_TYPES:
        return None
    value = _interactive_value(actions[0])
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RequestError("the chosen value must be a string")
    user = payload.get("user")
    channel = payload.get("channel")
    message = payload.get("message")
    if not isinstance(user, dict) or not isinstance(channel, dict):
        raise RequestError("'user' and 'channel' must be objects")
    if message is not None and not isinstance(message, dict):
        raise RequestError("'message' must be an object")
    user_id = _slack_id(user.get("id"), "user.id")
    channel_id = _slack_id(channel.get("id"), "channel.id")
    if user_id is None or channel_id is None:
        raise RequestError("'user.id' and 'channel.id' are required")
    message = message or {}
    ts = _slack_ts(message.get("ts"), "message.ts")
    thread_ts = _slack_ts(message.get("thread_ts"), "message.thread_ts")
    return SlackMessage(
        text=clean_text(value), user=user_id, channel=channel_id, thread_ts=thread_ts or ts
    )


def _bad_request(message: str) -> HTTPResponse:
    return response.json({"error": message}, status=HTTPStatus.BAD_REQUEST)


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

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Posts each paragraph as a message, escaped and without mrkdwn: the bot's texts carry
        no formatting, and echoed names must not turn into bold text, links or mentions."""
        channel = self.slack_channel or recipient_id
        for part in text.strip().split("\n\n"):
            await self._post_message(channel=channel, text=escape(part), mrkdwn=False)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Posts the text with up to five buttons (Slack drops more); titles escaped too."""
        if len(buttons) > MAX_BUTTONS:
            await self.send_text_message(recipient_id, text, **kwargs)
            return
        blocks = [
            {"type": "section", "text": {"type": "plain_text", "text": escape(text)}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": escape(b["title"])[:75]},
                        "value": str(b["payload"])[:2000],
                    }
                    for b in buttons
                ],
            },
        ]
        await self._post_message(
            channel=self.slack_channel or recipient_id, text=escape(text), blocks=blocks
        )

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
            or settings.SLACK_API_BASE_URL.get()
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
        """The metadata of a request's message ({} when it carries none or is malformed)."""
        try:
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("application/json"):
                body = json.loads(request.body)
                message = parse_event(body) if isinstance(body, dict) else None
            else:
                message = parse_interaction(request.body)
        except (RequestError, ValueError, UnicodeDecodeError, RecursionError):
            return {}
        return message.metadata() if message else {}

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

        async def guarded(message: UserMessage) -> None:
            # Staff get the same apology as customers when a turn fails or says nothing (action
            # server or database down), instead of silence in the thread.
            await handle_or_apologise(on_new_message, message)

        @slack_webhook.listener("after_server_start")
        async def start_handoff_timers(app, _loop) -> None:
            self._handoff_timers = asyncio.create_task(timers.run_forever())

        @slack_webhook.listener("before_server_stop")
        async def stop_handoff_timers(app, _loop) -> None:
            task = getattr(self, "_handoff_timers", None)
            if task is not None:
                task.cancel()

        @slack_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @slack_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.is_request_from_slack_authentic(request):
                return response.json(
                    {"error": "invalid or stale Slack signature"}, status=HTTPStatus.UNAUTHORIZED
                )
            content_type = request.headers.get("content-type", "")
            if request.headers.get(self.retry_num_header) and not self._support_json(request):
                # The first delivery was acknowledged and is being answered: never answer twice.
                # (A hand-off thread's reply is relayed by ts, once, so its retries go through:
                # a first delivery that failed on our side is not lost.)
                return response.text("", headers={"X-Slack-No-Retry": "1"})
            if content_type.startswith("application/json"):
                return await self._handle_event(request, guarded)
            if content_type.startswith("application/x-www-form-urlencoded"):
                return await self._handle_interaction(request, guarded)
            return _bad_request("unsupported content type")

        return slack_webhook

    async def _handle_event(self, request: Request, on_new_message) -> HTTPResponse:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _bad_request("malformed JSON")
        if not isinstance(body, dict):
            return _bad_request("malformed event")
        if body.get("type") == "url_verification":
            challenge = body.get("challenge")
            if not isinstance(challenge, str) or not 0 < len(challenge) <= MAX_CHALLENGE_LENGTH:
                return _bad_request("malformed url_verification: 'challenge' must be a string")
            return response.json({"challenge": challenge})
        if is_support_event(body, support_channel()):
            try:
                reply = parse_thread_reply(body)
            except RequestError as err:
                return _bad_request(str(err))
            if reply is not None:
                self._in_background(relay.staff_message(reply))
            return response.text("")
        try:
            message = parse_event(body)
        except RequestError as err:
            return _bad_request(str(err))
        if message is None:
            return response.text("")
        if self._already_seen(message.event_id):
            return response.text("", headers={"X-Slack-No-Retry": "1"})
        if not (message.direct or message.mention or message.channel == self.slack_channel):
            return response.text("")
        return await self._answer(request, on_new_message, message, from_event=True)

    def _support_json(self, request: Request) -> bool:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return False
        try:
            return is_support_event(json.loads(request.body), support_channel())
        except (ValueError, UnicodeDecodeError, RecursionError):
            return False

    def _in_background(self, work: Awaitable[Any]) -> None:
        """Runs ``work`` after the request is acknowledged (Slack waits only 3 s)."""
        task = asyncio.ensure_future(work)
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)

    async def _handle_interaction(self, request: Request, on_new_message) -> HTTPResponse:
        try:
            pressed = parse_handoff_button(request.body)
        except RequestError as err:
            return _bad_request(f"malformed interaction payload: {err}")
        if pressed is not None:
            self._in_background(relay.button(*pressed))
            return response.text("")
        try:
            message = parse_interaction(request.body)
        except RequestError as err:
            return _bad_request(f"malformed interaction payload: {err}")
        if message is None:
            return response.text("")
        return await self._answer(request, on_new_message, message, from_event=False)

    async def _answer(
        self, request: Request, on_new_message, message: SlackMessage, from_event: bool
    ) -> HTTPResponse:
        """Acknowledges at once and answers in the background (Slack waits only 3 s)."""
        conversation_id = prefixed(
            SLACK_CHANNEL,
            self._get_conversation_id(message.user, message.channel, message.thread_ts),
        )
        if len(message.text) > MAX_MESSAGE_LENGTH:
            # The NLU would block the server for long on such a text: say so instead.
            thread = message.thread_ts if self.use_threads else None
            out = self.get_output_channel(message.channel, thread)
            task = asyncio.create_task(out.send_text_message(conversation_id, TOO_LONG_MESSAGE))
            self._background_tasks.add(task)
            task.add_done_callback(self._background_tasks.discard)
            return response.text("")
        text = message.text
        if from_event:
            text = self._sanitize_user_message(text, list(message.bot_users))
        return await self.process_message(
            request, on_new_message, text, conversation_id, message.metadata()
        )
