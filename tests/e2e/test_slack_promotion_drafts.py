"""Staff create a promotion in words on Slack, end to end (real Rasa and action servers, the
Slack stand-in, requests signed as Slack signs them): the request makes a draft and a Block Kit
preview with Confirm / Cancel; nothing is live before Confirm; Confirm makes it live once (a
second Confirm is answered politely); Cancel discards it; anyone else is refused. The staff
console gets the same preview as text with the two buttons."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid

import pytest
from sqlalchemy import select

from bot.identity import REFUSAL
from shop.promotions.admin import set_status
from shop.promotions.consent import opted_out_ids
from shop.promotions.targeting import latest_segment_run
from shop.store import make_engine, session_scope
from shop.store.models import CustomerSegment
from shop.store.promotion_models import Promotion
from support.abuse_support import slack_event
from support.handoff_support import post_slack
from support.servers import STAFF_CONSOLE_TOKEN, STAFF_SLACK_USER, STAFF_SLACK_USER_2
from support.shop_data import code_count
from support.slack_client import post, posts_to

pytestmark = pytest.mark.rasa
OUTSIDER = "UNOTSTAFF9"


@pytest.fixture
def shop(assistant):
    """The demo shop's database; every promotion a test made live is ended afterwards, so no
    other test's customer is offered it."""
    engine = make_engine(assistant.db_url)
    with session_scope(engine) as s:
        before = set(s.execute(select(Promotion.id)).scalars())
    yield engine
    with session_scope(engine) as s:
        for p in s.execute(select(Promotion).where(Promotion.id.not_in(before))).scalars():
            if p.status in ("active", "paused"):
                set_status(s, p.id, "ended")
    engine.dispose()


def _smallest_segment(engine) -> tuple[int, int]:
    """(segment number, customers eligible now: its members less those who said no more
    offers) of the newest segmentation's smallest segment."""
    with session_scope(engine) as s:
        run = latest_segment_run(s)
        rows = s.execute(
            select(CustomerSegment.segment, CustomerSegment.customer_id).where(
                CustomerSegment.run_id == run
            )
        ).all()
        out = opted_out_ids(s)
    members: dict[int, set[int]] = {}
    for segment, customer in rows:
        members.setdefault(int(segment), set()).add(int(customer))
    segment = min(members, key=lambda seg: len(members[seg]))
    return segment, len(members[segment] - out)


def _new_promotions(engine, before: set[int]) -> list[Promotion]:
    with session_scope(engine) as s:
        rows = s.execute(select(Promotion).where(Promotion.id.not_in(before))).scalars().all()
        s.expunge_all()
        return list(rows)


def _ids(engine) -> set[int]:
    with session_scope(engine) as s:
        return set(s.execute(select(Promotion.id)).scalars())


def _blocks(message) -> list[dict]:
    blocks = message.params["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def _ask(assistant, text: str, user: str = STAFF_SLACK_USER):
    """Posts a direct message to the bot; (channel, its first answer)."""
    event = slack_event(text, user)
    channel = event["event"]["channel"]
    assert post(assistant, event)[0] == 200
    calls = assistant.slack.wait_for(lambda c: posts_to(c, channel), timeout=90)
    return channel, posts_to(calls, channel)[0]


def _press(assistant, channel: str, preview, action_id: str, user: str = STAFF_SLACK_USER):
    """Presses a button of the preview as Slack's interactivity request does; the answer."""
    [actions] = [b for b in _blocks(preview) if b["type"] == "actions"]
    [button] = [e for e in actions["elements"] if e["action_id"] == action_id]
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": channel},
        "message": {"ts": assistant.slack.next_ts(), "thread_ts": preview.params["thread_ts"]},
        "actions": [
            {"type": "button", "action_id": action_id, "value": button["value"],
             "block_id": actions["block_id"], "action_ts": "1"}
        ],
    }  # fmt: skip
    seen = len(posts_to(list(assistant.slack.calls), channel))
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    assert post_slack(assistant.rasa_url, body, "application/x-www-form-urlencoded")[0] == 200
    calls = assistant.slack.wait_for(lambda c: len(posts_to(c, channel)) > seen, timeout=90)
    return posts_to(calls, channel)[seen]


def test_a_draft_goes_live_on_confirm_exactly_once(assistant, shop):
    segment, eligible = _smallest_segment(shop)
    before = _ids(shop)
    channel, preview = _ask(
        assistant, f"create a 10% offer on kitchenware for segment {segment} for two weeks"
    )
    blocks = _blocks(preview)
    assert blocks[0]["text"]["text"].startswith("Draft promotion ")
    fields = "\n".join(f["text"] for f in blocks[1]["fields"])
    assert "*Reward*\n10% off on home" in fields
    assert f"*Eligible now*\n{eligible:,} customers" in fields
    assert "*Caps*\n1 use per customer" in fields
    actions = next(b for b in blocks if b["type"] == "actions")
    assert [e["text"]["text"] for e in actions["elements"]] == ["Confirm", "Cancel"]
    assert preview.params["thread_ts"]  # answered in the request's thread

    [draft] = _new_promotions(shop, before)
    assert (draft.status, draft.categories, draft.target) == ("draft", ["home"],
                                                              {"segments": [str(segment)]})  # fmt: skip
    assert code_count(shop, draft.id) == 0  # nothing live before Confirm

    # Someone not on the staff list presses Confirm: refused, still a draft.
    refused = _press(assistant, channel, preview, "promotion_confirm", user=OUTSIDER)
    assert refused.params["text"] == REFUSAL
    assert _new_promotions(shop, before)[0].status == "draft"

    done = _press(assistant, channel, preview, "promotion_confirm")
    assert f"{draft.name} is live: {eligible} customers got a personal code" in done.params["text"]
    [live] = _new_promotions(shop, before)
    assert live.status == "active"
    assert code_count(shop, draft.id) == eligible

    # A second click (or a colleague's) changes nothing and says so.
    again = _press(assistant, channel, preview, "promotion_confirm", user=STAFF_SLACK_USER_2)
    assert f"{draft.name} is already live" in again.params["text"]
    assert code_count(shop, draft.id) == eligible
    assert [p.status for p in _new_promotions(shop, before)] == ["active"]


def test_cancel_discards_the_draft(assistant, shop):
    segment, _ = _smallest_segment(shop)
    before = _ids(shop)
    channel, preview = _ask(
        assistant, f"make a £5 off offer for segment {segment} until the end of the month"
    )
    [draft] = _new_promotions(shop, before)
    assert (draft.status, draft.reward_kind, float(draft.reward_value)) == ("draft", "fixed", 5.0)

    cancelled = _press(assistant, channel, preview, "promotion_cancel")
    assert f"Cancelled: the draft {draft.name} is discarded" in cancelled.params["text"]
    assert _new_promotions(shop, before) == []
    late = _press(assistant, channel, preview, "promotion_confirm")
    assert "I can't find that draft" in late.params["text"]
    assert _new_promotions(shop, before) == []


def test_what_cannot_be_read_gets_a_question(assistant, shop):
    before = _ids(shop)
    _, answer = _ask(assistant, "make a £5 off offer for champions until the end of the month")
    assert 'I don\'t know a segment called "champions"' in answer.params["text"]
    assert "The segments are: 0 " in answer.params["text"]
    assert _new_promotions(shop, before) == []


def test_customers_and_outsiders_are_refused(assistant, shop):
    segment, _ = _smallest_segment(shop)
    before = _ids(shop)
    text = f"create a 10% offer on kitchenware for segment {segment} for two weeks"
    _, answer = _ask(assistant, text, user=OUTSIDER)
    assert answer.params["text"] == REFUSAL
    sender = f"test-{uuid.uuid4().hex[:8]}"
    replies = assistant.say(text, sender=sender)
    assert [r.get("text") for r in replies] == [REFUSAL]
    assert _new_promotions(shop, before) == []

    # A customer sending the Confirm button's payload by hand gets the refusal, nothing more.
    _, preview = _ask(assistant, text)
    [draft] = _new_promotions(shop, before)
    payload = "/create_promotion" + json.dumps({"promotion_choice": f"confirm {draft.id}"})
    assert [r.get("text") for r in assistant.say(payload, sender=sender)] == [REFUSAL]
    assert [p.status for p in _new_promotions(shop, before)] == ["draft"]
    _press(assistant, preview.params["channel"], preview, "promotion_cancel")


def _console(assistant, sender: str, text: str) -> list[dict]:
    """The staff console's replies (bearer token), as scripts/staff-console gets them."""
    req = urllib.request.Request(
        f"{assistant.rasa_url}/webhooks/staff/webhook",
        data=json.dumps({"sender": sender, "message": text}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {STAFF_CONSOLE_TOKEN}"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def test_the_staff_console_drafts_and_confirms_with_its_buttons(assistant, shop):
    segment, eligible = _smallest_segment(shop)
    before = _ids(shop)
    sender = f"console-{uuid.uuid4().hex[:6]}"
    [preview] = _console(
        assistant, sender, f"create an offer of 10% for segment {segment} for a month"
    )
    assert preview["text"].startswith("Draft promotion ")
    assert f"- Eligible now: {eligible:,} customers" in preview["text"]
    confirm, cancel = preview["buttons"]
    assert (confirm["title"], cancel["title"]) == ("Confirm", "Cancel")
    [draft] = _new_promotions(shop, before)
    assert draft.status == "draft"
    # The console client sends a pressed button's payload as the message.
    [done] = _console(assistant, sender, confirm["payload"])
    assert done["text"].startswith(f"{draft.name} is live: {eligible} customers")
    [again] = _console(assistant, sender, confirm["payload"])
    assert "is already live" in again["text"]
    assert [p.status for p in _new_promotions(shop, before)] == ["active"]
    assert code_count(shop, draft.id) == eligible
