"""What a custom action gets: the recent events of the session, not all of them.

Rasa sends the conversation's whole session with every call to the action server
(``RemoteAction._action_call_format``: ``current_state(EventVerbosity.ALL)``), and every user
message in it carries its full NLU result (intent ranking, response selector rankings), so the
payload grows with the conversation and is turned into dicts, encoded as JSON and parsed again
by the action server for every call. Here the action server gets the tracker state Rasa would
send (slots, latest message, active loop, paused, follow-up action, latest action: all
unchanged) with the events from a user turn far enough back to hold the last
``ACTION_SERVER_LINES`` lines of the conversation (what a hand-off ticket's transcript shows:
``actions.common.transcript``), and the user messages before the latest without their rankings
(intent, entities, text and metadata stay). rasa_sdk's ``Tracker.applied_events`` then gives
exactly the applied events from the cut on (undoing only ever removes the latest events, so an
undo reaching before the cut just empties the list, as it removes those events on the whole
session too), and ``slots_to_validate``, the latest input channel and the transcript are
unchanged.
"""

from __future__ import annotations

import itertools
from typing import Any

from bot.rasa_patches.base import Patch, Patches

ACTION_SERVER_LINES = 200  # = actions.common.transcript's default limit (checked by a test)
_SLIM_PARSE_DATA = ("intent_ranking", "response_selector")


def action_server_events_start(events: list) -> int:
    """Index of the first of ``events`` (a session) sent to the action server: the
    ``action_listen`` before a user message with at least ``ACTION_SERVER_LINES`` lines of
    conversation from it on; 0 for a shorter conversation."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

    lines, index = 0, len(events)
    while index > 0 and lines < ACTION_SERVER_LINES:
        index -= 1
        event = events[index]
        if isinstance(event, (UserUttered, BotUttered)) and event.text:
            lines += 1
    while index > 0 and not isinstance(events[index], UserUttered):
        index -= 1
    if index > 0 and isinstance(events[index - 1], ActionExecuted):
        index -= 1
    return index


def _slim_user_event(event: dict) -> dict:
    parse_data = event.get("parse_data")
    if isinstance(parse_data, dict) and any(key in parse_data for key in _SLIM_PARSE_DATA):
        event = dict(event)
        event["parse_data"] = {k: v for k, v in parse_data.items() if k not in _SLIM_PARSE_DATA}
    return event


def action_server_state(tracker: Any) -> dict:
    """The tracker state sent to the action server: Rasa's, with the recent events only."""
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import EventVerbosity

    state = tracker.current_state(EventVerbosity.NONE)
    events = list(tracker.events)
    start = action_server_events_start(events)
    latest_user = next(
        (i for i in range(len(events) - 1, start - 1, -1) if isinstance(events[i], UserUttered)),
        -1,
    )
    state["events"] = [
        _slim_user_event(e.as_dict())
        if i < latest_user and isinstance(e, UserUttered)
        else e.as_dict()
        for i, e in enumerate(itertools.islice(events, start, None), start)
    ]
    return state


def action_call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
    """``RemoteAction._action_call_format`` with :func:`action_server_state` as the tracker."""
    import rasa

    result = {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "tracker": action_server_state(tracker),
        "version": rasa.__version__,
    }
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(
        self.name()
    ):
        result["domain"] = domain.as_dict()
    return result


PATCH = Patch(
    "rasa.core.actions.action:RemoteAction",
    "_action_call_format",
    action_call_format,
    requires=[
        "rasa.core.actions.action:RemoteAction._is_selective_domain_enabled",
        "rasa.shared.core.domain:Domain.does_custom_action_explicitly_need_domain",
    ],
)
PATCHES = Patches("action call", PATCH)
