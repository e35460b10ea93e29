"""rasa-sdk Trackers for calling actions directly: a conversation whose latest event is one user
message, as the action server receives it from Rasa."""

from __future__ import annotations

from rasa_sdk import Tracker


def user_tracker(text, *, intent, channel, metadata=None, entities=()) -> Tracker:
    """The tracker after the user said ``text`` (read as ``intent`` with ``entities``) on
    ``channel``, with the message's ``metadata``."""
    meta = dict(metadata or {})
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0},
              "entities": list(entities), "metadata": meta}  # fmt: skip
    events = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": latest, "input_channel": channel,
         "metadata": meta},
    ]  # fmt: skip
    return Tracker("conv-1", {}, latest, events, False, None, {}, "action_listen")
