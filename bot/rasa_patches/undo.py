"""Undoing events without copying the list they are undone from.

``DialogueStateTracker.applied_events`` undoes reverted turns and folds form turns together by
deleting from the end of the list it builds, but its two helpers copy that whole list
(``reversed(done_events[:])``) for every undo, so a conversation with many form turns costs
quadratic time. These walk the list from the end instead and delete the same events.
"""

from __future__ import annotations

from bot.rasa_patches.base import Patch, Patches


def undo_till_previous(event_type: type, done_events: list) -> None:
    """``DialogueStateTracker._undo_till_previous``: removes events from the end of
    ``done_events`` up to and including the latest ``event_type``."""
    while done_events:
        if isinstance(done_events.pop(), event_type):
            break


def undo_till_previous_loop_execution(loop_action_name: str, done_events: list) -> None:
    """``DialogueStateTracker._undo_till_previous_loop_execution``: removes the actions and
    user messages after the latest execution of ``loop_action_name`` (other events stay)."""
    from rasa.shared.core.events import (
        ActionExecuted,
        DefinePrevUserUtteredFeaturization,
        UserUttered,
    )

    for i in range(len(done_events) - 1, -1, -1):
        event = done_events[i]
        if isinstance(event, ActionExecuted) and event.action_name == loop_action_name:
            break
        if isinstance(event, (ActionExecuted, UserUttered, DefinePrevUserUtteredFeaturization)):
            del done_events[i]


_TRACKER = "rasa.shared.core.trackers:DialogueStateTracker"
PATCHES = Patches(
    "undo",
    Patch(_TRACKER, "_undo_till_previous", undo_till_previous, static=True),
    Patch(
        _TRACKER,
        "_undo_till_previous_loop_execution",
        undo_till_previous_loop_execution,
        static=True,
    ),
)
