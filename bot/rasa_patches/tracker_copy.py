"""Copying a tracker without replaying its whole history.

``DialogueStateTracker.copy`` builds a fresh tracker and applies every event to it again. The
message processor copies the conversation's tracker before every action it runs, so each turn
replays the whole conversation several times. Here the tracker keeps the fresh tracker of its
previous copy, applies to it only the events added since, and hands out a clone of that
tracker's state: the same events (the same objects, as Rasa's copy shares them too), slots,
loop, latest action and message, paused flag and follow-up action that replaying them gives.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from bot.rasa_patches.base import PRIVATE_PREFIX, Patch, Patches, clone_tracker, is_live_tracker

# On a tracker: (its replayed copy, how many events that has seen, the first and the last).
REPLAYED_ATTR = PRIVATE_PREFIX + "replayed"


def copy_tracker(self: Any) -> Any:
    """``DialogueStateTracker.copy``: a new tracker with the same events, in the state they
    give, made from the state of the previous copy and the events added since."""
    if not is_live_tracker(self) or self._max_event_history:
        return PATCH.original(self)
    events = self.events
    n = len(events)
    replayed = self.__dict__.get(REPLAYED_ATTR)
    done = 0
    if replayed is not None:
        fresh, done, first, last = replayed
        if not (done <= n and (done == 0 or (events[0] is first and events[done - 1] is last))):
            replayed = None
    if replayed is None:
        fresh, done = self.init_copy(), 0
    for event in itertools.islice(events, done, None):
        if not event.timestamp <= math.inf:
            return PATCH.original(self)  # Rasa's copy stops at such an event
        fresh.update(event)
    remember_replay(self, fresh)
    return clone_tracker(fresh)


def remember_replay(tracker: Any, replayed: Any) -> None:
    """Keeps ``replayed`` (a tracker with all of ``tracker``'s events applied, not shared with
    anything else) as the state ``tracker``'s next copy starts from."""
    events = tracker.events
    n = len(events)
    tracker.__dict__[REPLAYED_ATTR] = (
        replayed,
        n,
        events[0] if n else None,
        events[-1] if n else None,
    )


PATCH = Patch(
    "rasa.shared.core.trackers:DialogueStateTracker",
    "copy",
    copy_tracker,
    requires=["rasa.shared.core.trackers:DialogueStateTracker.init_copy"],
)
PATCHES = Patches("tracker copy", PATCH)
