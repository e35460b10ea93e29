"""The action-response speed-up (bot/rasa_speedups.py) validates exactly like Rasa does, and the
Rasa server gets it by loading shopbot's channels."""

from __future__ import annotations

import time

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import bot.channels  # noqa: F401 - importing the channels installs the speed-up
from bot.rasa_speedups import validate_action_result

VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "email", "value": None, "timestamp": None}]},
    {
        "events": [
            {"event": "slot", "name": "order_number", "value": "104233"},
            {"event": "active_loop", "name": None},
            {"event": "followup", "name": "action_check_order_status"},
        ],
        "responses": [{"text": "hi", "buttons": [{"title": "Yes", "payload": "/affirm"}]}],
    },
    {},
]
INVALID = [
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot"}]},  # a slot event without its name
    {"responses": ["text instead of an object"]},
    [],
]


def test_the_channels_install_it():
    assert RemoteAction._validate_action_result is validate_action_result


@pytest.mark.parametrize("result", VALID)
def test_valid_responses_pass_as_in_rasa(result):
    jsonschema.validate(result, RemoteAction.action_response_format_spec())  # Rasa's own check
    assert RemoteAction("action_x", None)._validate_action_result(result) is True


@pytest.mark.parametrize("result", INVALID)
def test_invalid_responses_fail_with_rasas_error(result):
    with pytest.raises(jsonschema.ValidationError) as rasa_way:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError) as ours:
        RemoteAction("action_x", None)._validate_action_result(result)
    assert ours.value.message.startswith(rasa_way.value.message)
    assert "Failed to validate Action server response" in ours.value.message
    assert list(ours.value.path) == list(rasa_way.value.path)


def test_it_is_much_cheaper_than_validating_the_schema_each_time():
    result = VALID[2]
    action = RemoteAction("action_x", None)
    action._validate_action_result(result)  # builds the validator once

    def per_call(fn, n=10):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - started) / n

    schema = RemoteAction.action_response_format_spec()
    rasa_way = per_call(lambda: jsonschema.validate(result, schema))
    ours = per_call(lambda: action._validate_action_result(result))
    assert ours < rasa_way / 3


def test_events_read_back_the_same():
    from rasa.shared.core import events as ev
    from rasa.shared.utils.common import all_subclasses

    from bot.rasa_speedups import resolve_event_type

    assert ev.Event.resolve_by_type is resolve_event_type
    for cls in all_subclasses(ev.Event):
        # Rasa's own lookup: the first subclass with that type name.
        first = next(c for c in all_subclasses(ev.Event) if c.type_name == cls.type_name)
        assert ev.Event.resolve_by_type(cls.type_name) is first
        assert ev.Event.resolve_by_type(cls.type_name) is first  # remembered
    with pytest.raises(ValueError, match="Unknown event name"):
        ev.Event.resolve_by_type("no_such_event")
    assert ev.Event.resolve_by_type("no_such_event", ev.SlotSet) is ev.SlotSet
    assert ev.Event.resolve_by_type("topic") is None
    events = [
        ev.UserUttered("hi", {"name": "greet"}).as_dict(),
        ev.ActionExecuted("utter_greet").as_dict(),
        ev.SlotSet("email", "a@b.c").as_dict(),
        ev.ActiveLoop("return_form").as_dict(),
        ev.SessionStarted().as_dict(),
    ]
    assert [e.as_dict() for e in ev.deserialise_events(events)] == events
