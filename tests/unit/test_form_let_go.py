"""When a form stops asking: counting the customer's turns spent elsewhere, on event lists shaped
as Rasa writes them (a digression rejects the form, a rule answers, the form comes back)."""

from __future__ import annotations

from pathlib import Path

import yaml
from rasa_sdk import Tracker

from actions import forms

DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text())
FORM = "order_lookup_form"


def user(text: str) -> list[dict]:
    return [{"event": "action", "name": "action_listen"}, {"event": "user", "text": text}]


def started() -> list[dict]:
    return user("where is my order?") + [
        {"event": "action", "name": FORM},
        {"event": "active_loop", "name": FORM},
        {"event": "slot", "name": "requested_slot", "value": "order_number"},
        {"event": "bot", "text": "What's your order number?"},
    ]


def digression(text: str = "how much is shipping?", form: str = FORM) -> list[dict]:
    """A message the form cannot use: rejected, answered by a rule, then the form asks again."""
    return user(text) + [
        {"event": "action", "name": form},
        {"event": "action_execution_rejected", "name": form},
        {"event": "action", "name": "utter_faq"},
        {"event": "bot", "text": "Shipping is free over £50."},
        {"event": "action", "name": form},
        {"event": "slot", "name": "requested_slot", "value": "order_number"},
        {"event": "bot", "text": "What's your order number?"},
    ]


def answer(text: str = "104233") -> list[dict]:
    """A message the form used (here a wrong number: cleared, asked again — still an answer)."""
    return user(text) + [
        {"event": "action", "name": FORM},
        {"event": "slot", "name": "order_number", "value": None},
        {"event": "bot", "text": "What's your order number?"},
    ]


def back_after(events: list[dict]) -> Tracker:
    """The tracker the form's validation sees on its way back after the latest digression:
    the digression's answer is the latest action."""
    until = len(events) - 3  # before the form's second run of that turn
    shown = events[:until]
    return Tracker("c", {"requested_slot": "order_number"}, {}, shown, False, None,
                   {"name": FORM}, shown[-2]["name"])  # fmt: skip


def test_consecutive_digressions_are_counted_from_the_forms_start():
    events = started()
    assert forms.turns_elsewhere(events, FORM) == 0
    for n in range(1, 5):
        events += digression()
        assert forms.turns_elsewhere(events, FORM) == n


def test_an_answer_even_a_wrong_one_starts_the_count_again():
    events = started() + digression() + digression() + answer() + digression()
    assert forms.turns_elsewhere(events, FORM) == 1
    assert forms.turns_elsewhere(events + answer(), FORM) == 0


def test_an_earlier_run_of_the_form_and_other_forms_do_not_count():
    earlier = started() + digression() + digression()
    earlier += [{"event": "active_loop", "name": None}]
    events = earlier + started() + digression()
    assert forms.turns_elsewhere(events, FORM) == 1
    other = started() + digression(form="cancel_form")
    assert forms.turns_elsewhere(other, FORM) == 0


def test_the_form_lets_go_on_its_way_back_after_the_patience_th_digression():
    events = started()
    for _ in range(forms.PATIENCE - 1):
        events += digression()
        assert not forms.should_let_go(back_after(events), FORM)
    events += digression()
    assert forms.should_let_go(back_after(events), FORM)


def test_never_while_reading_a_new_message_which_may_be_the_answer():
    events = started()
    for _ in range(forms.PATIENCE):
        events += digression()
    reading = events + user("104233")
    tracker = Tracker("c", {}, {}, reading, False, None, {"name": FORM}, "action_listen")
    assert not forms.should_let_go(tracker, FORM)


def test_the_action_after_the_form_is_silent_only_in_the_turn_it_let_go():
    let_go = [{"event": "slot", "name": forms.LET_GO_SLOT, "value": FORM}]
    now = started() + digression() + let_go + [{"event": "active_loop", "name": None}]
    tracker = Tracker("c", {}, {}, now, False, None, {}, FORM)
    assert forms.was_let_go(tracker, FORM)
    assert not forms.was_let_go(tracker, "cancel_form")
    later = now + started()  # the customer asked again: the new form's end is not silent
    tracker = Tracker("c", {}, {}, later, False, None, {}, FORM)
    assert not forms.was_let_go(tracker, FORM)


def test_every_form_has_its_words_and_the_mark_is_a_slot():
    assert set(forms.LET_GO) == set(DOMAIN["forms"])
    assert forms.LET_GO_SLOT in DOMAIN["slots"]
