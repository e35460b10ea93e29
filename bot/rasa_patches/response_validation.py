"""Checking an action server response against a validator built once.

Rasa checks every action server response with ``jsonschema.validate(result, schema)``
(``RemoteAction._validate_action_result``), and ``validate`` first checks the *schema* against
the JSON Schema meta-schema, every time. Rasa's event schema is large, so that costs far more
than checking the response itself, on the event loop, for every custom action call. Here the
schema is checked once and its validator reused: the same schema, the same validation, the same
``ValidationError`` with Rasa's message.
"""

from __future__ import annotations

from typing import Any

from bot.rasa_patches.base import Patch, Patches


class ResponseValidation(Patch):
    """The patch, with the validator it builds on first use."""

    def __init__(self) -> None:
        super().__init__(
            "rasa.core.actions.action:RemoteAction",
            "_validate_action_result",
            validate_action_result,
            requires=["rasa.core.actions.action:RemoteAction.action_response_format_spec"],
        )
        self._validator: Any = None

    def validator(self) -> Any:
        """A validator for Rasa's action response schema, the schema checked once."""
        if self._validator is None:
            from jsonschema.validators import validator_for
            from rasa.core.actions.action import RemoteAction

            schema = RemoteAction.action_response_format_spec()
            cls = validator_for(schema)
            cls.check_schema(schema)
            self._validator = cls(schema)
        return self._validator


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """True if ``result`` is a valid action server response; else Rasa's ValidationError."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(PATCH.validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


PATCH = ResponseValidation()
PATCHES = Patches("response validation", PATCH)
