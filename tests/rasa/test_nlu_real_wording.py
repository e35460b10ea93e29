"""The real-wording set: real people's messages, every intent covered, each with its source, and
never trained on (no training example is the same or nearly the same message)."""

from __future__ import annotations

import re

import pytest
import yaml

from bot.nlu.real_wording import (
    NEAR_DUPLICATE_JACCARD,
    REAL_WORDING_SET,
    STAFF_INTENTS,
    jaccard,
    load_real_set,
    near_duplicates,
    word_set,
)
from support.rasa_support import ROOT

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
MESSAGES = load_real_set()


def _training_examples() -> list[str]:
    examples = []
    for path in sorted((ROOT / "data").rglob("*.yml")):
        for item in yaml.safe_load(path.read_text()).get("nlu") or []:
            if "intent" in item:
                examples += [
                    line[2:].strip()
                    for line in item["examples"].splitlines()
                    if line.startswith("- ")
                ]
    return examples


def test_the_set_is_large_and_rasa_can_read_it():
    from rasa.shared.nlu.training_data.loading import load_data

    assert len(MESSAGES) >= 550
    assert len(load_data(str(REAL_WORDING_SET)).intent_examples) == len(MESSAGES)
    assert len({word_set(m.text) for m in MESSAGES}) == len(MESSAGES), "repeated messages"


def test_every_intent_and_every_answered_faq_is_covered():
    covered = {m.intent for m in MESSAGES}
    intents = {i for i in DOMAIN["intents"] if i != "faq"}
    answered_faqs = {r[len("utter_") :] for r in DOMAIN["responses"] if r.startswith("utter_faq/")}
    assert intents - covered == set()
    assert answered_faqs - covered == set()
    assert covered <= intents | answered_faqs, covered - intents - answered_faqs


def test_every_message_has_a_source_and_the_right_channel():
    for m in MESSAGES:
        assert len(m.source) >= 8, m
        assert re.search(r"https?://|\w+ \d|data|twcs|abcd|amazon", m.source, re.I), m
        assert m.channel == ("staff" if m.intent in STAFF_INTENTS else "customer"), m


def test_no_real_wording_message_is_trained_on():
    trained = _training_examples()
    assert len(trained) > 1000
    found = near_duplicates([m.text for m in MESSAGES], trained)
    assert not found, found[:20]


@pytest.mark.parametrize(
    "a, b, near",
    [
        ("Where is my refund?", "where is my refund", True),
        ("How do I [delete](x) my account", "how do i delete my account", True),
        ("has my order shipped yet?", "Has my order shipped?", True),  # 4 of 5 words
        ("where is my parcel", "where is my order", False),
        ("cancel my user account", "cancel my order", False),
    ],
)
def test_near_duplicates_are_word_sets_overlapping_by_four_fifths(a, b, near):
    assert (jaccard(word_set(a), word_set(b)) >= NEAR_DUPLICATE_JACCARD) is near
    assert bool(near_duplicates([a], [b])) is near
