"""What staff and customers are told when a promotion or a code cannot be used."""

from __future__ import annotations

from shop.errors import NotFound, ShopbotError

# Why a code is refused, and what the customer reads. ``reason`` is stable (tests, analytics).
REFUSALS = {
    "unknown": "I don't recognise the code {code}. Please check it and try again.",
    "not_yours": "The code {code} belongs to another account, so it can't be used on yours.",
    "not_active": "The offer for code {code} hasn't started yet.",
    "not_started": "The offer for code {code} starts on {starts}.",
    "paused": "The offer for code {code} is paused at the moment. Please try again later.",
    "ended": "The offer for code {code} has ended.",
    "expired": "The code {code} expired on {ends}.",
    "used": "You've already used the code {code} as many times as the offer allows.",
    "exhausted": "Sorry, the offer for code {code} has run out: all its redemptions are taken.",
    "budget_spent": "Sorry, the offer for code {code} has run out (its budget is spent).",
    "no_eligible_items": "The code {code} only applies to {categories}, and this order has none.",
    "order_has_code": "This order already uses a promotion code; only one code per order.",
    "order_closed": "The code can't be added to an order that is {status}.",
}


class PromotionNotFound(NotFound):
    def __init__(self, name: object) -> None:
        self.name = name
        super().__init__(
            f"There is no promotion called {name!r}. `shopbot promotion list` shows them."
        )


class InvalidPromotion(ShopbotError):
    """A promotion (or a change to one) that cannot be accepted; the message says why."""


class CodeRefused(ShopbotError):
    """A code that cannot be used on this order; ``reason`` is a key of ``REFUSALS``."""

    def __init__(self, reason: str, code: str, **details: object) -> None:
        self.reason = reason
        self.code = code
        super().__init__(REFUSALS[reason].format(code=code, **details))
