"""Learning from the shop's own customers (`shopbot nlu review` / `shopbot nlu learn`), on a real
SQLite tracker store written by shopbot's store and on Redis: the fallback messages found,
merged, masked and ranked; the customers' own button choices (tasks and FAQ topics) as labels;
the labelled ones added to an NLU file Rasa reads, never twice, and nothing written when a label
is unknown."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.loading import load_data

from bot.cli.main import main
from bot.nlu.review import known_intents, mask, unclear_messages
from bot.server.conversations import Conversations
from bot.server.tracker_store import ShopRedisTrackerStore, ShopSQLTrackerStore

REDIS_URL = "redis://127.0.0.1:6379/13"
DOMAIN = {
    "intents": ["order_status", "complaint", "faq", "greet", "out_of_scope"],
    "responses": {"utter_faq/shipping_time": [{"text": "3-5 days"}], "utter_greet": []},
}


def said(text: str, intent: str, confidence: float, ranking=(), at: float | None = None):
    ranked = [{"name": n, "confidence": c} for n, c in ranking]
    return UserUttered(
        text,
        {"name": intent, "confidence": confidence},
        parse_data={
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "intent_ranking": [{"name": intent, "confidence": confidence}, *ranked],
            "entities": [],
        },
        timestamp=at,
    )


def conversations(now: float):
    old = now - 40 * 86400
    unclear = ("order_status", 0.55), ("complaint", 0.3)
    return {
        # the same unclear message twice, once answered by a button, plus an ordinary one
        "web:a": [
            said("parcel never turned up, order 104233", "nlu_fallback", 0.55, unclear, now),
            BotUttered("Did you mean one of these?", timestamp=now),
            said("/order_status", "order_status", 1.0, at=now),
            said("parcel never turned up, order 104233", "order_status", 1.0, at=now),
            said("hello", "greet", 0.99, at=now),
        ],
        "web:b": [
            said("Parcel never  turned up, order #105120", "nlu_fallback", 0.5, unclear, now),
            said("/out_of_scope", "out_of_scope", 1.0, at=now),  # "Something else"
        ],
        "web:c": [
            said("mail jo.bloggs@example.com or +44 7700 900123", "nlu_fallback", 0.4, at=now),
            said("how long does shipping take", "faq", 0.95, at=now),  # typed: no choice
        ],
        # an FAQ topic's button sends its topic's question (shop.faq_topics), exactly
        "web:d": [
            said("when will my stuff get here??", "nlu_fallback", 0.45, at=now),
            said("how long does shipping take?", "faq", 0.97, at=now),
        ],
        # older than the look-back: not read
        "web:old": [said("ancient unclear message", "nlu_fallback", 0.2, at=old)],
    }


def store_all(store, now: float) -> None:
    for sender, events in conversations(now).items():
        tracker = DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen")])
        for event in events:
            tracker.update(event)
        asyncio.run(store.save(tracker))


@pytest.fixture
def sqlite_url(tmp_path):
    path = tmp_path / "tracker.db"
    store = ShopSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(path))
    store_all(store, time.time())
    store.engine.dispose()
    return f"sqlite:///{path}"


def _check_found(found) -> None:
    assert [(u.text, u.times) for u in found] == [
        ("parcel never turned up, order 100000", 2),  # merged: masked, case and spaces
        ("mail someone@example.com or 0000000", 1),
        ("when will my stuff get here??", 1),
    ]
    top = found[0].as_entry()
    assert top["assistant_guessed"] == ["order_status"]
    assert top["customer_chose"] == "order_status"  # the button, not "Something else"
    assert top["intent"] == "order_status"
    assert found[1].as_entry()["intent"] == ""  # the FAQ question was typed, not a button
    assert found[2].as_entry()["customer_chose"] == "faq/shipping_time"  # the topic's button


def test_review_finds_merges_masks_and_ranks_the_fallbacks(sqlite_url):
    since = time.time() - 30 * 86400
    _check_found(unclear_messages(Conversations(sqlite_url).user_messages(since)))


def test_review_reads_redis_the_same():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    store = ShopRedisTrackerStore(Domain.empty(), host="127.0.0.1", port=6379, db=13)
    try:
        store_all(store, time.time())
        since = time.time() - 30 * 86400
        _check_found(unclear_messages(Conversations(REDIS_URL).user_messages(since)))
    finally:
        client.flushdb()


def test_masks_personal_data_but_keeps_the_wording():
    assert mask("RMA-104233 for jo@x.org, card 4111 1111 1111 1111, see https://a.b/c") == (
        "RMA-100000 for someone@example.com, card 0000000, see https://example.com"
    )
    assert mask("2 mugs from order #104233") == "2 mugs from order #100000"
    assert mask("I ordered 3 (three) mugs") == "I ordered 3 (three) mugs"


def test_known_labels_are_intents_and_faq_questions():
    # "faq" alone is no label: an example of it would have no answer
    assert known_intents(DOMAIN) == {
        "order_status",
        "complaint",
        "greet",
        "out_of_scope",
        "faq/shipping_time",
    }


def test_review_then_learn_through_the_cli(sqlite_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHOPBOT_TRACKER_STORE_URL", sqlite_url)
    review = tmp_path / "review.yml"
    assert main(["nlu", "review", "--days", "30", "--out", str(review), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "file": str(review),
        "messages": 3,
        "times": 4,
        "customer_chose": 2,
    }
    text = review.read_text()
    assert "jo.bloggs" not in text and "7700" not in text and "104233" not in text
    assert "web:a" not in text  # no conversation ids
    entries = yaml.safe_load(text)
    entries[1]["intent"] = "complaint"  # staff label the second one
    entries.append({"text": "where is my parcel", "intent": "order_status"})  # already known
    entries.append({"text": "what [is] the delivery time", "intent": "faq/shipping_time"})
    review.write_text(yaml.safe_dump(entries))

    data = tmp_path / "nlu"
    data.mkdir()
    (data / "orders.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: order_status\n  examples: |\n    - Where is my parcel\n'
    )
    assert main(["nlu", "learn", str(review), "--data", str(data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["added"] == 4 and result["already_known"] == 1 and result["unlabelled"] == 0
    assert result["by_intent"] == {"complaint": 1, "faq/shipping_time": 2, "order_status": 1}

    learnt = load_data(str(data / "reviewed.yml"))  # Rasa reads it
    assert sorted((e.get_full_intent(), e.get("text")) for e in learnt.intent_examples) == [
        ("complaint", "mail someone@example.com or 0000000"),
        ("faq/shipping_time", "what (is) the delivery time"),  # no entity syntax
        ("faq/shipping_time", "when will my stuff get here??"),
        ("order_status", "parcel never turned up, order 100000"),
    ]
    assert not learnt.entity_examples

    # learning the same file again adds nothing
    assert main(["nlu", "learn", str(review), "--data", str(data), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["added"] == 0 and again["already_known"] == 5


def test_an_unknown_label_writes_nothing(tmp_path, capsys):
    review = tmp_path / "review.yml"
    review.write_text(
        yaml.safe_dump(
            [
                {"text": "my parcel is late", "intent": "order_status"},
                {"text": "hmm", "intent": "order_staus"},
            ]
        )
    )
    data = tmp_path / "nlu"
    data.mkdir()
    assert main(["nlu", "learn", str(review), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "unknown intent(s) order_staus" in err and "order_status" in err
    assert not (data / "reviewed.yml").exists()


def test_not_a_review_file_is_refused(tmp_path, capsys):
    bad = tmp_path / "review.yml"
    bad.write_text("nlu: [1, 2]\n")
    data = tmp_path / "nlu"
    data.mkdir()
    assert main(["nlu", "learn", str(bad), "--data", str(data)]) == 2
    assert "is not a review file" in capsys.readouterr().err


def test_an_empty_store_gives_an_empty_review(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHOPBOT_TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    out = tmp_path / "review.yml"
    assert main(["nlu", "review", "--out", str(out)]) == 0
    assert "0 messages" in capsys.readouterr().out
    assert yaml.safe_load(out.read_text()) == []


def test_a_store_that_is_down_gets_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHOPBOT_TRACKER_STORE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(["nlu", "review", "--out", str(tmp_path / "review.yml")]) == 2
    assert "cannot read the conversations" in capsys.readouterr().err
    assert not (tmp_path / "review.yml").exists()
