"""The Rasa training data: valid, complete for the conversation contract, and test stories pass."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from rasa_sdk.executor import ActionExecutor

from support.rasa_support import ROOT, rasa

CUSTOMER_INTENTS = (
    "greet goodbye affirm deny thank bot_challenge order_status cancel_order request_return "
    "return_status product_recommendation product_search complaint human_handoff out_of_scope"
).split()
FAQ_INTENTS = [
    f"faq/{name}"
    for name in (
        "shipping_time shipping_cost international_shipping payment_methods return_policy "
        "refund_time warranty size_guide promo_codes account contact"
    ).split()
]
STAFF_INTENTS = {
    "stock_level": "action_stock_level",
    "demand_forecast": "action_demand_forecast",
    "reorder_advice": "action_reorder_advice",
    "segment_report": "action_segment_report",
    "sales_report": "action_sales_report",
    "handoff_list": "action_open_handoffs",
    "handoff_stats": "action_handoff_stats",
    "create_promotion": "action_create_promotion",
    "promotion_list": "action_promotion_list",
}
ENTITIES = "order_number email sku product category quantity time_period".split()
MIN_EXAMPLES = 25
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())


def _yaml_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.yml"))


def _nlu_items() -> list[dict]:
    items = []
    for path in _yaml_files("data/nlu"):
        items += yaml.safe_load(path.read_text()).get("nlu") or []
    return items


def _examples(block: str) -> list[str]:
    return [line[2:].strip() for line in block.splitlines() if line.startswith("- ")]


def example_counts() -> Counter:
    """Number of distinct examples per intent (FAQ sub-intents separately)."""
    counts: Counter = Counter()
    for item in _nlu_items():
        if "intent" in item:
            counts[item["intent"]] += len(set(_examples(item["examples"])))
    return counts


def _plain_text(example: str) -> str:
    """An example as the user types it: entity annotations dropped, lower case."""
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", example).strip().lower()


def test_no_held_out_message_is_in_the_training_data():
    # tests/rasa/nlu_holdout.yml measures the NLU on messages it has never seen: a copy in data/
    # would make that figure a memory test.
    holdout = yaml.safe_load((ROOT / "tests" / "rasa" / "nlu_holdout.yml").read_text())["nlu"]
    held_out = {_plain_text(e) for item in holdout for e in _examples(item["examples"])}
    trained = {
        _plain_text(e)
        for item in _nlu_items()
        if "intent" in item
        for e in _examples(item["examples"])
    }
    assert len(held_out) >= 250
    assert not held_out & trained, sorted(held_out & trained)


def _rules() -> list[dict]:
    rules = []
    for path in _yaml_files("data/rules"):
        rules += yaml.safe_load(path.read_text()).get("rules") or []
    return rules


def test_rasa_data_validate_passes_with_warnings_as_errors():
    result = rasa("data", "validate", "--fail-on-warnings", timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


@pytest.mark.parametrize("intent", CUSTOMER_INTENTS + FAQ_INTENTS + list(STAFF_INTENTS))
def test_contract_intent_has_enough_examples(intent):
    counts = example_counts()
    assert counts[intent] >= MIN_EXAMPLES, f"{intent}: {counts[intent]} examples"


def test_contract_intents_and_entities_are_in_the_domain():
    for intent in CUSTOMER_INTENTS + ["faq"] + list(STAFF_INTENTS):
        assert intent in DOMAIN["intents"]
    # An entity is a name, or {name: options} (promotion_choice: influence_conversation false).
    names = {e if isinstance(e, str) else next(iter(e)) for e in DOMAIN["entities"]}
    assert set(ENTITIES) <= names


def test_every_faq_sub_intent_has_an_answer_and_returns_are_30_days():
    responses = DOMAIN["responses"]
    for intent in FAQ_INTENTS:
        assert responses.get(f"utter_{intent}"), f"no answer for {intent}"
    assert "30 days" in responses["utter_faq/return_policy"][0]["text"]
    assert {i for i in example_counts() if i.startswith("faq/")} == set(FAQ_INTENTS)


def test_entities_appear_in_different_positions():
    # An entity at the start, in the middle and at the end of some example, per key entity.
    for entity in ("order_number", "sku", "email"):
        positions = set()
        for item in _nlu_items():
            for text in _examples(item.get("examples", "")) if "intent" in item else []:
                for match in re.finditer(r"\[[^\]]+\]\(" + entity + r"\)", text):
                    before, after = text[: match.start()].strip(), text[match.end() :].strip()
                    positions.add("start" if not before else "end" if not after else "middle")
        assert positions == {"start", "middle", "end"}, (entity, positions)


def test_regexes_and_category_lookup():
    regexes = {i["regex"]: _examples(i["examples"]) for i in _nlu_items() if "regex" in i}
    assert {"order_number", "sku", "email"} <= set(regexes)
    assert re.fullmatch(regexes["order_number"][0], "#104233")
    assert re.fullmatch(regexes["order_number"][0], "104233")
    assert re.search(regexes["sku"][0], "is CLO-0042 in stock")
    assert re.fullmatch(regexes["email"][0], "jane.doe@example.com")
    lookups = {i["lookup"]: _examples(i["examples"]) for i in _nlu_items() if "lookup" in i}
    assert {"clothing", "electronics", "home", "beauty", "food", "kitchen"} <= set(
        lookups["category"]
    )


def test_credentials_start_without_any_secret_in_the_environment(monkeypatch):
    from rasa.core.run import create_http_input_channels

    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SHOPBOT_STAFF_CONSOLE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    channels = create_http_input_channels(None, str(ROOT / "credentials.yml"))
    assert {"rest", "socketio"} <= {c.name() for c in channels}


def test_staff_intents_have_plain_rules_running_their_actions():
    for intent, action in STAFF_INTENTS.items():
        matching = [
            r
            for r in _rules()
            if r["steps"][0].get("intent") == intent and r["steps"][1].get("action") == action
        ]
        assert len(matching) == 1, intent


def test_every_custom_action_in_the_domain_is_registered():
    executor = ActionExecutor()
    executor.register_package("actions")
    registered = set(executor.actions)
    custom = {a for a in DOMAIN["actions"] if not a.startswith("utter_")}
    assert custom <= registered, custom - registered
    forms = {f"validate_{form}" for form in DOMAIN["forms"]}
    assert forms <= registered


def test_test_stories_pass(rasa_model, tmp_path):
    result = rasa(
        "test",
        "core",
        "--model",
        str(rasa_model),
        "--stories",
        "tests/rasa/stories",
        "--fail-on-prediction-errors",
        # also check the NLU on every user text of the stories
        "--e2e",
        "--out",
        str(tmp_path / "results"),
        timeout=1200,
    )
    failed = tmp_path / "results" / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, details[-6000:] or (result.stdout + result.stderr)[-4000:]
