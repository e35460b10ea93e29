"""The bot's words as ``domain.yml`` gives them, for tests that compare replies with them."""

from __future__ import annotations

import functools

import yaml

from bot.server.rasa_model import ROOT


@functools.cache
def _responses() -> dict:
    return yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]


def response_text(name: str, channel: str | None = None) -> str:
    """The text of response ``name``: the customers' (no ``channel``), or its variant for a
    ``channel`` ("staff": the staff console, "slack"). One text each, or the test fails."""
    [text] = [v["text"] for v in _responses()[name] if v.get("channel") == channel]
    return text
