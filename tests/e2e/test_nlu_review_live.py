"""`shopbot nlu review` on what a running assistant stored: a customer's unclear message, the
"did you mean" buttons, the customer's pick, and the review file that comes out of it."""

from __future__ import annotations

import uuid

import pytest
import yaml

from bot.cli.main import main

pytestmark = pytest.mark.rasa


def test_a_message_not_understood_and_the_customers_pick_reach_the_review(
    assistant, tmp_path, monkeypatch, capsys
):
    sender = f"review-{uuid.uuid4().hex[:8]}"
    replies = assistant.say("my parcel thing from order 104233 is weird", sender=sender)
    buttons = [b for r in replies for b in r.get("buttons") or []]
    offered = [b["payload"] for b in buttons if b["payload"] != "/out_of_scope"]
    assert offered, f"no intents offered: {replies}"
    assistant.say(offered[0], sender=sender)  # the customer clicks the first one

    monkeypatch.setenv("SHOPBOT_TRACKER_STORE_URL", assistant.tracker_url)
    out = tmp_path / "review.yml"
    assert main(["nlu", "review", "--days", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    entries = {e["text"]: e for e in yaml.safe_load(out.read_text())}
    entry = entries["my parcel thing from order 100000 is weird"]  # masked
    assert entry["customer_chose"] == offered[0].lstrip("/")
    assert entry["intent"] == entry["customer_chose"]
    assert len(entry["assistant_guessed"]) == 1 and entry["times"] == 1
    assert "104233" not in out.read_text()
