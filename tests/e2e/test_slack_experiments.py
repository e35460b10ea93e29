"""Staff on Slack, end to end (real Rasa and action servers, the Slack stand-in): "how is the X
experiment doing?" gets the report with a chart in the thread, "pause it" pauses the offer."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shop.experiments.registry import create_experiment, start_experiment
from shop.promotions.admin import create_promotion, get_promotion, set_status
from shop.store import make_engine, session_scope
from shop.store.models import utcnow
from support.abuse_support import slack_event
from support.servers import STAFF_SLACK_USER
from support.slack_client import post, posts_to

pytestmark = pytest.mark.rasa


@pytest.fixture
def offer(assistant):
    """A live promotion that targets nobody (so no other test's customer is offered anything)
    and an experiment on it."""
    engine = make_engine(assistant.db_url)
    now = utcnow()
    with session_scope(engine) as s:
        p = create_promotion(
            s, name="slack-e2e", target={"rule": {"spend_min": 10**9}}, reward_kind="percent",
            reward_value=10, starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(days=7),
        )  # fmt: skip
        set_status(s, "slack-e2e", "active")
        create_experiment(
            s, key="slackwinter", metric="conversion", mde=0.05, sample_size_per_arm=400,
            arms=[{"name": "control"}, {"name": "offer", "promotion_id": p.id}],
        )  # fmt: skip
        start_experiment(s, "slackwinter")
    yield engine
    engine.dispose()


def test_staff_ask_about_the_experiment_then_pause_the_offer(assistant, offer):
    payload = slack_event("how is the slackwinter experiment doing?", STAFF_SLACK_USER)
    channel = payload["event"]["channel"]
    assert post(assistant, payload)[0] == 200

    def uploaded(c):
        return [x for x in c if x.method == "files.completeUploadExternal"
                and x.params.get("channel_id") == channel]  # fmt: skip

    calls = assistant.slack.wait_for(lambda c: posts_to(c, channel), timeout=90)
    [msg] = posts_to(calls, channel)
    blocks = json.loads(msg.params["blocks"]) if isinstance(msg.params["blocks"], str) else (
        msg.params["blocks"]
    )  # fmt: skip
    assert blocks[0]["text"]["text"] == "Experiment slackwinter: collecting data"
    assert "Too few exposed customers" in msg.params["text"]
    assert "400 per arm, at least 7 days" in msg.params["text"]
    assert msg.params["thread_ts"] == payload["event"]["ts"]
    # Nobody exposed yet: nothing to chart (the lift chart comes with data, test_experiments).
    assert not uploaded(list(assistant.slack.calls))

    pause = slack_event("ok, pause it", STAFF_SLACK_USER)
    assert post(assistant, pause)[0] == 200
    replies = assistant.slack.wait_for(lambda c: posts_to(c, pause["event"]["channel"]), timeout=90)
    assert "Paused slack-e2e" in posts_to(replies, pause["event"]["channel"])[0].params["text"]
    with session_scope(offer) as s:
        assert get_promotion(s, "slack-e2e").status == "paused"
