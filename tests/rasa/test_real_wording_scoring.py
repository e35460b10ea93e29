"""Scoring of the real-wording evaluation: known answers on fabricated parses, and the command on
the trained model."""

from __future__ import annotations

import json

import pytest

from bot.cli.evaluate_nlu import _real_text
from bot.nlu.real_wording import Parse, RealMessage, load_real_set, outcome, score


def _m(intent: str, channel: str = "customer") -> RealMessage:
    return RealMessage(
        text=f"a message for {intent}", intent=intent, source="test", channel=channel
    )


CASES = [
    (_m("order_status"), Parse("order_status", 0.9)),  # right
    (_m("order_status"), Parse("nlu_fallback", 0.7)),  # asked to rephrase
    (_m("order_status"), Parse("complaint", 0.8)),  # confidently wrong
    (_m("faq/account"), Parse("faq", 0.9, "faq/account")),  # right answer
    (_m("faq/account"), Parse("faq", 0.9, "faq/contact")),  # FAQ, but the wrong answer
    (_m("faq/return_policy"), Parse("nlu_fallback", 0.6)),
    (_m("out_of_scope"), Parse("out_of_scope", 0.9)),  # declined
    (_m("out_of_scope"), Parse("nlu_fallback", 0.9)),  # declined too
    (_m("out_of_scope"), Parse("product_search", 0.9)),  # answered as if in scope
    (_m("stock_level", "staff"), Parse("stock_level", 0.9)),
    (_m("sales_report", "staff"), Parse("greet", 0.9)),
]


def test_outcomes_of_single_messages():
    assert [outcome(m, p) for m, p in CASES] == [
        "right",
        "fallback",
        "wrong",
        "right",
        "wrong",
        "fallback",
        "declined",
        "declined",
        "wrong",
        "right",
        "wrong",
    ]
    # The FAQ intent without an answer key is not an answer.
    assert outcome(_m("faq/account"), Parse("faq", 0.9, None)) == "wrong"


def test_shares_are_computed_per_channel_over_in_scope_messages():
    report = score([m for m, _ in CASES], [p for _, p in CASES])
    customer, staff = report["channels"]["customer"], report["channels"]["staff"]
    assert report["messages"] == 11
    assert (customer["messages"], customer["in_scope"], customer["out_of_scope"]) == (9, 6, 3)
    assert customer["right"] == pytest.approx(2 / 6, abs=1e-4)
    assert customer["fallback"] == pytest.approx(2 / 6, abs=1e-4)
    assert customer["confidently_wrong"] == pytest.approx(2 / 6, abs=1e-4)
    assert customer["out_of_scope_declined"] == pytest.approx(2 / 3, abs=1e-4)
    assert (customer["faq"], customer["faq_accuracy"]) == (3, pytest.approx(1 / 3, abs=1e-4))
    assert customer["per_intent"]["order_status"] == {
        "n": 3,
        "right": 1,
        "fallback": 1,
        "wrong": 1,
        "wrong_as": {"complaint": 1},
    }
    assert customer["per_intent"]["faq/account"]["wrong_as"] == {"faq/contact": 1}
    assert customer["per_intent"]["out_of_scope"]["wrong_as"] == {"product_search": 1}
    assert (staff["right"], staff["confidently_wrong"], staff["fallback"]) == (0.5, 0.5, 0.0)
    assert staff["out_of_scope_declined"] is None and staff["faq_accuracy"] is None
    text = _real_text({**report, "model": "m.tar.gz", "report": "r.json"})
    assert "right 33.3%" in text and "out of scope declined 66.7%" in text


def test_a_parse_is_needed_for_every_message():
    with pytest.raises(ValueError):
        score([_m("greet")], [])


def test_the_set_file_gives_text_intent_source_and_channel(tmp_path):
    path = tmp_path / "set.yml"
    path.write_text(
        'version: "3.1"\nnlu:\n- intent: stock_level\n  examples:\n'
        '  - text: "how many left?"\n    metadata:\n      source: "https://example.org/q"\n'
        "      channel: staff\n- intent: greet\n  examples:\n  - hi there\n"
        "- regex: sku\n  examples: |\n    - [A-Z]+-\\d+\n"
        "- intent: order_status\n  examples: |\n    - where is [#104233](order_number)?\n"
        "- intent: sales_report\n  examples: |\n    - sales this week\n"
    )
    assert load_real_set(path) == [
        RealMessage("how many left?", "stock_level", "https://example.org/q", "staff"),
        RealMessage("hi there", "greet", "", "customer"),
        RealMessage("where is #104233?", "order_status", "", "customer"),
        RealMessage("sales this week", "sales_report", "", "staff"),
    ]


def test_the_command_scores_a_small_set_with_the_trained_model(rasa_model, tmp_path):
    from bot.cli.main import main

    path = tmp_path / "set.yml"
    path.write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: order_status\n  examples:\n"
        '  - text: "where is my order 104233"\n    metadata: {source: "test", channel: customer}\n'
        "- intent: out_of_scope\n  examples:\n"
        '  - text: "what is the capital of peru"\n    metadata: {source: "test"}\n'
        "- intent: stock_level\n  examples:\n"
        '  - text: "how many CLO-0042 do we have"\n'
        "    metadata: {source: test, channel: staff}\n"
    )
    out = tmp_path / "out"
    args = ["evaluate", "nlu", "--real", "--model", str(rasa_model), "--set", str(path)]
    assert main([*args, "--out", str(out), "--json"]) == 0
    report = json.loads((out / "real_wording.json").read_text())
    details = json.loads((out / "real_wording_messages.json").read_text())
    assert report["messages"] == 3 and len(details) == 3
    assert report["channels"]["customer"]["in_scope"] == 1
    assert report["channels"]["staff"]["in_scope"] == 1
    assert {d["outcome"] for d in details} <= {"right", "fallback", "wrong", "declined"}
    assert details[0]["predicted"] == "order_status"  # the plainest of messages
