"""The one small client through which hand-offs talk to Slack's Web API (base URL configurable,
so the tests' stand-in can serve it)."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from shop import settings

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://slack.com/api/"
FALLBACK_NAME = "A colleague"


def api_base_url() -> str:
    return settings.SLACK_API_BASE_URL.get() or DEFAULT_API_BASE_URL


def support_channel() -> str | None:
    """The channel hand-off cards go to; None when hand-offs are not posted to Slack."""
    token = settings.SLACK_BOT_TOKEN.get()
    return settings.SLACK_SUPPORT_CHANNEL.get() if token else None


class SupportSlack:
    """chat.postMessage / chat.postEphemeral / users.info, with a 10 s timeout."""

    def __init__(self, token: str | None = None, base_url: str | None = None):
        self.client = AsyncWebClient(
            token or settings.SLACK_BOT_TOKEN.get(), base_url=base_url or api_base_url(), timeout=10
        )
        self._names: dict[str, str] = {}

    async def post(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        """The ``ts`` Slack gave the posted message (raises on failure)."""
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if blocks:
            kwargs["blocks"] = blocks
        response = await self.client.chat_postMessage(**kwargs)
        return str(response["ts"])

    async def tell(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        """A message only ``user`` sees (a refusal, a hint); failures only logged."""
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=thread_ts
            )
        except Exception:
            log.exception("could not tell %s in %s", user, channel)

    async def user_name(self, user: str) -> str:
        """The first name customers are shown ("Sam"), from the Slack profile."""
        if user in self._names:
            return self._names[user]
        name = FALLBACK_NAME
        try:
            response = await self.client.users_info(user=user)
            info = response.get("user") or {}
            profile = info.get("profile") or {}
            full = (
                profile.get("display_name")
                or profile.get("real_name")
                or info.get("real_name")
                or info.get("name")
                or ""
            )
            name = full.split()[0][:40] if full.strip() else FALLBACK_NAME
        except Exception:
            log.warning("no Slack profile for %s", user, exc_info=True)
        self._names[user] = name
        return name


_client: SupportSlack | None = None


def client() -> SupportSlack:
    """The process's client (made when first needed)."""
    global _client
    if _client is None:
        _client = SupportSlack()
    return _client
