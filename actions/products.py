"""Product questions (price, availability, similar products) and recommendations."""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

from rasa_sdk.events import EventType

from actions.common import ShopAction, latest_entity, latest_text, verified_customer
from actions.offers import offer_after_reply
from analytics.serving import get_analytics
from shop.catalog import CatalogMatcher, product_info
from shop.errors import ModelMissing, NotFound
from shop.store import get_engine, session_scope

# How often the product matcher checks whether the catalogue changed (one cheap query).
CATALOG_REFRESH_SECONDS = 60.0
RECOMMENDATIONS = 5
SIMILAR = 3
# Fuzzy matches this close to the best one are offered as alternatives instead of guessing.
AMBIGUITY_MARGIN = 0.1
# Below this similarity the closest product may not be what was asked for, only near it (demo
# shop: "a laptop" 0.67, "for dry skin" 0.50; "running shoes" 0.34, "dog food" 0.44, "a tent" 0.38).
CLOSE_IN_MEANING = 0.45
_SIMILAR_WORDS = re.compile(r"\b(similar|alternative|alternatives|like it|instead|else)\b", re.I)

log = logging.getLogger(__name__)

_matchers: dict[str, CatalogMatcher] = {}
_matchers_lock = threading.Lock()


def catalog_matcher() -> CatalogMatcher:
    """The process-wide product matcher for the current database, refreshed at most every 60 s."""
    engine = get_engine()
    key = str(engine.url)
    with _matchers_lock:
        matcher = _matchers.get(key)
        if matcher is None:
            matcher = _matchers[key] = CatalogMatcher.build(engine)
            return matcher
    matcher.refresh_if_changed(engine, min_interval=CATALOG_REFRESH_SECONDS)
    return matcher


def reset_catalog_matchers() -> None:
    """Forget built matchers (tests, or after a catalogue import in the same process)."""
    with _matchers_lock:
        _matchers.clear()


def _price(value: Any) -> str:
    return f"{float(value):.2f}"


def product_cards(products: list[Any]) -> dict[str, Any]:
    """The custom payload the storefront widget shows as product cards."""
    return {
        "type": "product_cards",
        "products": [
            {"sku": p.sku, "name": p.name, "price": _price(p.price), "category": p.category}
            for p in products
        ],
    }


def product_list_text(products: list[Any]) -> str:
    """The same products as text, for channels that can't show cards."""
    return "\n".join(f"• {p.name} ({p.sku}) — {_price(p.price)}" for p in products)


# Channels whose client draws product cards: they get the intro and the cards, no text list.
CARD_CHANNELS = frozenset({"socketio"})


def send_products(dispatcher, tracker, intro: str, products: list[Any]) -> None:
    """The products as cards after an intro; channels that may not draw cards also get them as
    a text list."""
    if tracker.get_latest_input_channel() in CARD_CHANNELS:
        dispatcher.utter_message(text=intro)
    else:
        dispatcher.utter_message(text=f"{intro}\n{product_list_text(products)}")
    dispatcher.utter_message(json_message=product_cards(products))


def need_answer(dispatcher, tracker, customer_id: int | None, asked_for: bool = False) -> bool:
    """Answers a request that states a need ("something for the kitchen") with the products
    that meet it; False when the text states no need or search by need is not available.

    ``asked_for``: the customer asked for a thing ("do you have running shoes?") that no product
    name matched; when nothing is close in meaning either, the products are offered as the
    closest there is, not as what was asked for (vague needs score low too: "for the kitchen"
    0.43, so the words must stay true for them).
    """
    try:
        found = get_analytics().for_need(customer_id, latest_text(tracker), RECOMMENDATIONS)
    except ModelMissing:
        return False
    if found is None:
        return False
    need, matches = found.need, found.products
    if not matches:
        dispatcher.utter_message(
            text=(
                f"I couldn't find anything in the shop for “{need}”, sorry. Could you tell me "
                "a bit more about what you're looking for, or name a category?"
            )
        )
        return True
    if asked_for and found.closeness < CLOSE_IN_MEANING:
        intro = f"Nothing in the shop matches “{need}” exactly; these come closest:"
    else:
        intro = f"For “{need}”, you could look at:"
    send_products(dispatcher, tracker, intro, matches)
    return True


class ActionProductInfo(ShopAction):
    """Price and availability of the product the customer names, and similar products."""

    NAME = "action_product_info"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        text = latest_text(tracker)
        sku = latest_entity(tracker, "sku")
        matcher = catalog_matcher()
        matches = matcher.find(text)
        if sku and not any(m.sku.upper() == sku.upper() for m in matches):
            chosen_sku = sku
        elif matches:
            close = [m for m in matches if m.score >= matches[0].score - AMBIGUITY_MARGIN]
            if matches[0].score < 1.0 and len(close) > 1:
                dispatcher.utter_message(
                    text="I found a few products that could match. Which one do you mean?",
                    buttons=[
                        {
                            "title": f"{m.name} ({m.sku})",
                            "payload": "/product_search" + json.dumps({"sku": m.sku}),
                        }
                        for m in close[:4]
                    ],
                )
                return []
            chosen_sku = matches[0].sku
        else:
            if need_answer(dispatcher, tracker, verified_customer(tracker), asked_for=True):
                return []
            category = matcher.find_category(text)
            hint = f" in {category}" if category else ""
            dispatcher.utter_message(
                text=(
                    f"I couldn't find that product{hint}. Could you give me its name as shown "
                    "in the shop, or its product code (like HOM-0001)?"
                )
            )
            return []
        try:
            with session_scope() as session:
                info = product_info(session, chosen_sku)
        except NotFound as err:
            dispatcher.utter_message(text=str(err))
            return []
        dispatcher.utter_message(text=info.describe())
        if _SIMILAR_WORDS.search(text) or not info.in_stock:
            try:
                similar = get_analytics().similar(info.sku, SIMILAR)
            except (ModelMissing, NotFound):
                similar = []
            if similar:
                send_products(dispatcher, tracker, f"Similar to {info.name}:", similar)
        return []


class ActionRecommendProducts(ShopAction):
    """Personal recommendations for a signed-in customer, popular products for a guest."""

    NAME = "action_recommend_products"

    def work(self, dispatcher, tracker, domain) -> list[EventType]:
        customer_id = verified_customer(tracker)
        category = latest_entity(tracker, "category")
        if need_answer(dispatcher, tracker, customer_id):
            if customer_id is not None:  # a guest never sees a personal code
                offer_after_reply(dispatcher, tracker, customer_id)
            return []
        if category is None:
            category = catalog_matcher().find_category(latest_text(tracker))
        try:
            recommendations = get_analytics().recommend(customer_id, RECOMMENDATIONS, category)
        except ModelMissing:
            dispatcher.utter_message(
                text=(
                    "Sorry, I can't make recommendations right now. Please have a look at the "
                    "bestsellers on our home page, or ask me about a specific product."
                )
            )
            return []
        where = f" in {category}" if category else ""
        if not recommendations:
            dispatcher.utter_message(
                text=f"I have no suggestions{where} right now, sorry. Try another category?"
            )
            return []
        if customer_id is not None:
            intro = f"Here are some picks{where} for you:"
        else:
            intro = f"Here's what's popular{where} right now:"
        send_products(dispatcher, tracker, intro, recommendations)
        if customer_id is not None:  # a guest never sees a personal code
            offer_after_reply(dispatcher, tracker, customer_id)
        return []


def warm_up() -> None:
    """Loads the trained analytics and builds the product matcher now (failures are logged)."""
    try:
        get_analytics()
        catalog_matcher()
    except Exception:  # the first request retries; the server must start anyway
        log.warning("warm-up of analytics and product matcher failed", exc_info=True)
