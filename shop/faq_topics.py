"""The FAQ topics a customer can be offered when the assistant is unsure what they asked: each
topic's button title and the question the button sends, one of the topic's own training examples,
so the FAQ answers it (tests/e2e check each is answered by its own topic). ``shopbot nlu review``
takes a message that is exactly a topic's question for a click on its button (a customer who
typed that very question after a fallback meant the topic as well)."""

from __future__ import annotations

FAQ_TOPICS = {
    "faq/shipping_time": ("Delivery times", "how long does shipping take?"),
    "faq/shipping_cost": ("Delivery costs", "how much is shipping?"),
    "faq/international_shipping": ("Delivery abroad", "do you ship internationally?"),
    "faq/payment_methods": ("Ways to pay", "what payment methods do you accept?"),
    "faq/return_policy": ("Return policy", "what is your return policy?"),
    "faq/refund_time": ("Refund times", "how long does a refund take?"),
    "faq/warranty": ("Warranty", "do your products have a warranty?"),
    "faq/size_guide": ("Size guide", "where is your size guide?"),
    "faq/promo_codes": ("Promo codes", "how do I use a promo code?"),
    "faq/account": ("Your account", "how do I create an account?"),
    "faq/contact": ("Contact us", "how can I contact you?"),
}
_BY_QUESTION = {question: topic for topic, (_title, question) in FAQ_TOPICS.items()}


def topic_of_button(text: str) -> str | None:
    """The FAQ topic (``faq/shipping_time``) whose button sends exactly ``text``, if any."""
    return _BY_QUESTION.get(text.strip())
