"""Finding an event's class by its type name without walking the class tree every time.

Turning a stored or received event back into an ``Event`` calls ``Event.resolve_by_type``,
which lists every subclass of ``Event`` (walking the class tree) and compares type names, for
every event. Here the class found for a type name is remembered: at most one entry per
``Event`` subclass, since only names that a class answers to are kept (unknown names still go
to Rasa's lookup, and its errors).
"""

from __future__ import annotations

from bot.rasa_patches.base import Patch, Patches


class EventTypes(Patch):
    """The patch, with the classes it has found by type name."""

    def __init__(self) -> None:
        super().__init__(
            "rasa.shared.core.events:Event", "resolve_by_type", self.resolve, static=True
        )
        self.classes: dict[str, type] = {}

    def resolve(self, type_name: str, default: type | None = None) -> type | None:
        """The Event class for ``type_name``, as ``Event.resolve_by_type`` gives it."""
        try:
            return self.classes[type_name]
        except (KeyError, TypeError):  # TypeError: an unhashable name, Rasa's lookup says why
            pass
        cls = self.original(type_name, default)
        if cls is not None and getattr(cls, "type_name", None) == type_name:
            self.classes[type_name] = cls
        return cls

    def uninstall(self) -> None:
        super().uninstall()
        self.classes.clear()


PATCH = EventTypes()
PATCHES = Patches("event types", PATCH)
