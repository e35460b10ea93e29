"""Offers and experiments in the chat: a customer's "no more offers" (and "send me offers again"),
and staff creating a promotion in words, asking how an experiment is doing or pausing a promotion
(staff channel only)."""

from __future__ import annotations

import json
import re

from rasa_sdk.events import EventType
from rasa_sdk.types import DomainDict
from sqlalchemy import select

from actions.common import (
    ShopAction,
    latest_entity,
    latest_text,
    on_staff_channel,
    verified_customer,
)
from actions.staff import StaffAction, refused_unless_staff
from analytics.experiments.staff_report import experiment_staff_report
from analytics.reports.base import StaffReport
from analytics.reports.promotion_draft import draft_blocks
from analytics.reports.promotions import promotions_report
from bot.identity import SLACK_CHANNEL
from shop.promotions.admin import set_status
from shop.promotions.consent import opted_out, record_choice
from shop.promotions.drafts import cancel_draft, confirm_draft, create_draft, preview
from shop.promotions.errors import InvalidPromotion
from shop.promotions.request import UnclearRequest, parse_promotion_request
from shop.promotions.targeting import segment_labels
from shop.store import get_engine, session_scope
from shop.store.models import utcnow
from shop.store.promotion_models import Promotion

OPTED_OUT = (
    "Done: you won't get any more offers from me. If you change your mind, just say \"send me "
    'offers again".'
)
OPTED_IN = (
    'Done: I\'ll show you personal offers again when you have one. Say "no more offers" any '
    "time to stop them."
)
ALREADY_OPTED_IN = "You already get personal offers from me; there's nothing to turn back on."
GUEST_OFFERS = (
    "Personal offers are for signed-in customers: sign in and ask me again if you'd like them."
)
GUEST_NO_OFFERS = (
    "I only make personal offers to signed-in customers, so there's nothing to stop for you. "
    "Anything else I can help with?"
)


class ActionStopOffers(ShopAction):
    """ "No more offers": stored at once in the consent ledger with the words used."""

    NAME = "action_stop_offers"

    def work(self, dispatcher, tracker, domain: DomainDict) -> list[EventType]:
        customer_id = verified_customer(tracker)
        if customer_id is None:
            dispatcher.utter_message(text=GUEST_NO_OFFERS)
            return []
        with session_scope() as session:
            record_choice(session, customer_id, "opt_out", reason=latest_text(tracker),
                          source="chat")  # fmt: skip
        dispatcher.utter_message(text=OPTED_OUT)
        return []


class ActionResumeOffers(ShopAction):
    """ "Send me offers again": an opt-in in the consent ledger (the newest choice counts)."""

    NAME = "action_resume_offers"

    def work(self, dispatcher, tracker, domain: DomainDict) -> list[EventType]:
        customer_id = verified_customer(tracker)
        if customer_id is None:
            dispatcher.utter_message(text=GUEST_OFFERS)
            return []
        with session_scope() as session:
            was_out = opted_out(session, customer_id)
            if was_out:
                record_choice(session, customer_id, "opt_in", reason=latest_text(tracker),
                              source="chat")  # fmt: skip
        dispatcher.utter_message(text=OPTED_IN if was_out else ALREADY_OPTED_IN)
        return []


class ActionExperimentReport(StaffAction):
    NAME = "action_experiment_report"

    def report(self, tracker) -> StaffReport | None:
        return experiment_staff_report(get_engine(), latest_text(tracker))


class ActionPromotionList(StaffAction):
    """Staff: "which promotions are running?". A customer whose words were read so (they are
    close to "do you have any offers?") gets the promo-code FAQ answer, not a refusal."""

    NAME = "action_promotion_list"

    def work(self, dispatcher, tracker, domain: DomainDict) -> list[EventType]:
        if not on_staff_channel(tracker):
            dispatcher.utter_message(response="utter_faq/promo_codes")
            return []
        return super().work(dispatcher, tracker, domain)

    def report(self, tracker) -> StaffReport | None:
        return promotions_report(get_engine())


def promotion_named(text: str) -> str | None:
    """The promotion the text names, else the only active one; None if that is ambiguous."""
    with session_scope() as s:
        rows = s.execute(select(Promotion.name, Promotion.status)).all()
    lowered = text.lower()
    named = [name for name, _ in rows if name.lower() in lowered]
    if named:
        return max(named, key=len)
    active = [name for name, status in rows if status == "active"]
    return active[0] if len(active) == 1 else None


class ActionPausePromotion(ShopAction):
    """Staff: "pause it" / "pause the autumn10 offer" — codes stop working until resumed."""

    NAME = "action_pause_promotion"

    def work(self, dispatcher, tracker, domain: DomainDict) -> list[EventType]:
        if refused_unless_staff(dispatcher, tracker):
            return []
        name = promotion_named(latest_text(tracker))
        if name is None:
            dispatcher.utter_message(text="Which promotion should I pause? Tell me its name.")
            return []
        try:
            with session_scope() as session:
                set_status(session, name, "paused")
        except InvalidPromotion as err:
            dispatcher.utter_message(text=str(err))
            return []
        dispatcher.utter_message(
            text=f"Paused {name}: its codes are refused until you resume it "
            f"(`shopbot promotion resume {name}`)."
        )
        return []


# The preview's buttons send the intent back with the draft's id ("confirm 12" / "cancel 12").
CHOICE = re.compile(r"(confirm|cancel) (\d{1,12})")


def choice_payload(choice: str, promotion_id: int) -> str:
    """The message a preview button sends: the intent with the choice as an entity."""
    entity = json.dumps({"promotion_choice": f"{choice} {promotion_id}"})
    return f"/create_promotion{entity}"


class ActionCreatePromotion(ShopAction):
    """Staff: "create a 10% offer on kitchenware for lapsed customers for two weeks" → a draft
    and its preview with Confirm / Cancel; the buttons come back here (``promotion_choice``).
    Nothing goes live before Confirm, and Confirm makes it live once."""

    NAME = "action_create_promotion"

    def work(self, dispatcher, tracker, domain: DomainDict) -> list[EventType]:
        if refused_unless_staff(dispatcher, tracker):
            return []
        channel = tracker.get_latest_input_channel()
        choice = latest_entity(tracker, "promotion_choice")
        if choice is not None:
            dispatcher.utter_message(text=decide(choice))
            return []
        now = utcnow()
        try:
            with session_scope() as session:
                request = parse_promotion_request(
                    latest_text(tracker), segment_labels(session), now
                )
                draft = create_draft(session, request, now)
                view = preview(session, draft, request)
        except (UnclearRequest, InvalidPromotion) as err:
            dispatcher.utter_message(text=str(err))
            return []
        confirm, cancel = choice_payload("confirm", view.id), choice_payload("cancel", view.id)
        if channel == SLACK_CHANNEL:
            dispatcher.utter_message(json_message=draft_blocks(view, confirm, cancel))
        else:
            dispatcher.utter_message(
                text=view.to_text(),
                buttons=[
                    {"title": "Confirm", "payload": confirm},
                    {"title": "Cancel", "payload": cancel},
                ],
            )
        return []


def decide(choice: str) -> str:
    """What pressing Confirm or Cancel on a preview did, in words."""
    match = CHOICE.fullmatch(choice.strip())
    if match is None:
        return "I can't tell which draft that button was for. Ask me again to make a new one."
    with session_scope() as session:
        if match.group(1) == "confirm":
            decision = confirm_draft(session, int(match.group(2)))
        else:
            decision = cancel_draft(session, int(match.group(2)))
    return decision.message()
