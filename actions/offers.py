"""A signed-in customer's offer, shown once after a helpful answer (a recommendation, an order's
status): ``shop.promotions.offers`` decides and records the exposure."""

from __future__ import annotations

import logging

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from shop.promotions.offers import offer_for
from shop.store import session_scope

log = logging.getLogger(__name__)


def offer_after_reply(dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: int) -> None:
    """The customer's offer, once, after a helpful answer (recorded as an exposure); a failure
    here never spoils the answer it follows."""
    try:
        with session_scope() as session:
            offer = offer_for(
                session, customer_id, channel=tracker.get_latest_input_channel() or "chat"
            )
    except Exception:
        log.warning("could not check offers for customer %s", customer_id, exc_info=True)
        return
    if offer is not None:
        dispatcher.utter_message(text=offer.text)
