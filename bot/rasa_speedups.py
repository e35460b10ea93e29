"""Two fixes for Rasa 3.6's CPU cost per turn, installed when the Rasa server loads shopbot's
channels (``bot/channels/__init__.py``). Both are measured in bench/REPORT.md.

**Checking action server responses.** Rasa checks every action server response with ``jsonschema.validate(result, schema)``, and
``validate`` first checks the *schema* against the JSON Schema meta-schema, every time. Rasa's
event schema is large, so that costs ~15 ms of CPU per custom action call on a quiet 2-core
machine (~50 ms on a busy one; the check of the response itself takes ~2 ms), on the event
loop, where it stalls every other conversation. A form turn makes two such calls. Measured in
bench/REPORT.md ("Conversation load"). Here the schema is checked once and its validator reused:
the same schema, the same validation, the same ``ValidationError`` with Rasa's message.

**Reading a conversation back.** Every turn, the tracker store turns each stored event of the
conversation's session back into an ``Event``, and ``Event.resolve_by_type`` finds the event's
class by listing every subclass of ``Event`` (walking the class tree) and comparing type names,
for every event: ~0.05–0.17 ms each, so a 400-turn conversation (2,500 events) spends most of
each turn there. Here the class found for a type name is remembered (event classes are all
defined when Rasa is imported; unknown names still go to Rasa's lookup, and its errors).

Both patch Rasa internals, so they only apply to the Rasa versions they were checked against and
otherwise leave Rasa alone (logged).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

log = logging.getLogger(__name__)

CHECKED_RASA = ("3.6.",)
_installed = False


@functools.lru_cache(maxsize=1)
def _response_validator():
    """A validator for Rasa's action response schema, the schema checked once."""
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """True if ``result`` is a valid action server response; else Rasa's ValidationError."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


_event_classes: dict[str, type] = {}
_rasa_resolve_by_type = None


def resolve_event_type(type_name: str, default: type | None = None) -> type | None:
    """The Event class for ``type_name``, as ``Event.resolve_by_type`` gives it (remembered)."""
    try:
        return _event_classes[type_name]
    except (KeyError, TypeError):  # TypeError: an unhashable name, Rasa's lookup says why
        pass
    cls = _rasa_resolve_by_type(type_name, default)
    if cls is not None and getattr(cls, "type_name", None) == type_name:
        _event_classes[type_name] = cls
    return cls


def install() -> bool:
    """Makes Rasa reuse one response validator and remember event classes; True if installed
    (now or before)."""
    global _installed, _rasa_resolve_by_type
    if _installed:
        return True
    import rasa
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event

    if not rasa.__version__.startswith(CHECKED_RASA) or not (
        hasattr(RemoteAction, "_validate_action_result") and hasattr(Event, "resolve_by_type")
    ):
        log.warning(
            "shopbot's speed-ups were checked against Rasa %s, not %s: not installed "
            "(everything works, turns just cost more CPU)",
            "/".join(CHECKED_RASA),
            rasa.__version__,
        )
        return False
    RemoteAction._validate_action_result = validate_action_result
    _rasa_resolve_by_type = Event.resolve_by_type
    Event.resolve_by_type = staticmethod(resolve_event_type)
    _installed = True
    return True
