"""A patch of one method: which class and attribute it replaces, with what, for which Rasa
versions; installing it keeps the original on the patch object, uninstalling puts it back.

Targets are named as ``"module:Class"`` and imported only when a patch is installed, so
importing the patch modules changes nothing and loads no Rasa code.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

# The exact Rasa versions the patches were read against and tested with.
CHECKED_RASA = ("3.6.21",)

# Attributes the patches keep on Rasa's objects (trackers, stores, policies) start with this;
# a clone of a tracker leaves them behind.
PRIVATE_PREFIX = "_shopbot_"

_INHERITED = object()  # the class had no attribute of its own: uninstall deletes the patch's


def _resolve(path: str) -> Any:
    """The object named ``"module:Class"`` or ``"module:Class.attribute"``."""
    module, _, qualname = path.partition(":")
    found: Any = importlib.import_module(module)
    for name in qualname.split("."):
        found = getattr(found, name)
    return found


def rasa_version() -> str:
    import rasa

    return rasa.__version__


class Patch:
    """Replaces ``target``'s ``attribute`` with ``replacement`` while installed.

    ``requires`` names the other ``"module:Class.attribute"`` the replacement relies on; the
    patch installs only on a Rasa version in ``checked`` where all of them exist, and
    otherwise logs why and leaves Rasa alone."""

    def __init__(
        self,
        target: str,
        attribute: str,
        replacement: Callable[..., Any],
        *,
        static: bool = False,
        requires: Iterable[str] = (),
        checked: tuple[str, ...] = CHECKED_RASA,
    ) -> None:
        self.target = target
        self.attribute = attribute
        self.replacement = replacement
        self.static = static
        self.requires = tuple(requires)
        self.checked = checked
        self.original: Callable[..., Any] | None = None  # the method as the class gave it
        self._saved: Any = None  # the class's own entry, or _INHERITED

    def __repr__(self) -> str:
        return f"<Patch {self.name}{' (installed)' if self.installed else ''}>"

    @property
    def name(self) -> str:
        return f"{self.target}.{self.attribute}"

    @property
    def installed(self) -> bool:
        return self.original is not None

    def target_class(self) -> type:
        return _resolve(self.target)

    def why_not(self) -> str | None:
        """Why this patch cannot be installed on the Rasa here (None if it can)."""
        version = rasa_version()
        if version not in self.checked:
            return f"checked against Rasa {'/'.join(self.checked)}, not {version}"
        for path in (self.name, *self.requires):
            try:
                _resolve(path)
            except (ImportError, AttributeError):
                return f"Rasa {version} has no {path}"
        return None

    def install(self) -> bool:
        """Puts the replacement in place; True if it is installed (now or before)."""
        if self.installed:
            return True
        reason = self.why_not()
        if reason is not None:
            log.warning("%s not patched (%s): Rasa's own code runs", self.name, reason)
            return False
        cls = self.target_class()
        self._saved = cls.__dict__.get(self.attribute, _INHERITED)
        original = getattr(cls, self.attribute)
        setattr(
            cls,
            self.attribute,
            staticmethod(self.replacement) if self.static else self.replacement,
        )
        self.original = original
        return True

    def uninstall(self) -> None:
        """Puts the class's own attribute back (nothing if not installed)."""
        if not self.installed:
            return
        cls = self.target_class()
        if self._saved is _INHERITED:
            delattr(cls, self.attribute)
        else:
            setattr(cls, self.attribute, self._saved)
        self.original = self._saved = None


class Patches:
    """Patches installed and uninstalled together: all of them, or none."""

    def __init__(self, name: str, *patches: Patch) -> None:
        self.name = name
        self.patches = patches

    def __iter__(self):
        return iter(self.patches)

    @property
    def installed(self) -> bool:
        return all(patch.installed for patch in self.patches)

    def install(self) -> bool:
        """Installs every patch; False (and nothing changed) if any cannot be installed."""
        if self.installed:
            return True
        reasons = {r for p in self.patches if (r := p.why_not()) is not None}
        if reasons:
            log.warning(
                "shopbot's Rasa patches (%s) not installed: %s. Everything works, turns just "
                "cost more CPU",
                self.name,
                "; ".join(sorted(reasons)),
            )
            return False
        for patch in self.patches:
            patch.install()
        return True

    def uninstall(self) -> None:
        for patch in reversed(self.patches):
            patch.uninstall()


def is_live_tracker(tracker: Any) -> bool:
    """True for a conversation's tracker (not a training tracker with its own state cache)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    return type(tracker) is DialogueStateTracker and not tracker.is_rule_tracker


def clone_tracker(tracker: Any) -> Any:
    """A tracker in ``tracker``'s state that shares no mutable part of it but its events (and
    none of what the patches keep on it)."""
    import copy
    import dataclasses
    from collections import deque

    new = type(tracker).__new__(type(tracker))
    new.__dict__.update(
        (key, value)
        for key, value in tracker.__dict__.items()
        if not key.startswith(PRIVATE_PREFIX)
    )
    new.events = deque(tracker.events, tracker.events.maxlen)
    new.slots = {name: copy.copy(slot) for name, slot in tracker.slots.items()}
    if tracker.active_loop is not None:
        new.active_loop = dataclasses.replace(tracker.active_loop)
    if isinstance(tracker.latest_action, dict):
        new.latest_action = dict(tracker.latest_action)
    return new
