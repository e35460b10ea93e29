"""A fix for Rasa 3.6's cost per custom action call, installed when the Rasa server loads
shopbot's channels (``bot/channels/__init__.py``).

Rasa checks every action server response with ``jsonschema.validate(result, schema)``, and
``validate`` first checks the *schema* against the JSON Schema meta-schema, every time. Rasa's
event schema is large, so that costs ~15 ms of CPU per custom action call on a quiet 2-core
machine (~50 ms on a busy one; the check of the response itself takes ~2 ms), on the event
loop, where it stalls every other conversation. A form turn makes two such calls. Measured in
bench/REPORT.md ("Conversation load").

Here the schema is checked once and its validator reused: the same schema, the same validation,
the same ``ValidationError`` with Rasa's message. It patches a private method, so it only
applies to the Rasa versions it was checked against and otherwise leaves Rasa alone (logged).
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


def install() -> bool:
    """Makes Rasa reuse one response validator; True if installed (now or before)."""
    global _installed
    if _installed:
        return True
    import rasa
    from rasa.core.actions.action import RemoteAction

    if not rasa.__version__.startswith(CHECKED_RASA) or not hasattr(
        RemoteAction, "_validate_action_result"
    ):
        log.warning(
            "shopbot's action-response speed-up was checked against Rasa %s, not %s: not "
            "installed (custom actions work, each call just costs more CPU)",
            "/".join(CHECKED_RASA),
            rasa.__version__,
        )
        return False
    RemoteAction._validate_action_result = validate_action_result
    _installed = True
    return True
