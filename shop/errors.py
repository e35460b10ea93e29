"""Errors that carry a message meant for people (CLI users, customers, staff): one home for
what the shop says when something cannot be done."""

# What a customer or member of staff is told when a turn fails on our side (the action server or
# the database down, an action crashed): the channels and the actions say exactly this.
APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."


class ShopbotError(Exception):
    """Something the user can act on; ``str(err)`` says what went wrong and what to do."""

    exit_code = 2


class NotFound(ShopbotError):
    """An order, customer, product or SKU that does not exist."""


class NoData(ShopbotError):
    """Not enough data to compute an answer (no sales, no ratings, empty database)."""


class ModelMissing(ShopbotError):
    """A trained artifact is missing; run ``shopbot train``."""


class ImportFailed(ShopbotError):
    """A file could not be imported; nothing was written."""


# ---- orders and returns: the answers a customer gets ---------------------------------------------


class OrderAccessDenied(NotFound):
    """The order does not exist or is not the requester's: one message for both, so the answer
    never tells which order numbers exist. ``left``: for a guest, the failed look-ups left
    before they have to wait (None for a signed-in customer)."""

    def __init__(self, order_number: int | str | None, left: int | None = None):
        self.order_number = order_number
        self.left = left
        super().__init__(
            f"I couldn't find order #{order_number} with those details. Please check the number "
            "on your confirmation email and the email address you ordered with."
        )


class ReturnAccessDenied(OrderAccessDenied):
    """The return does not exist or is not the requester's (one message for both: no leak)."""

    def __init__(self, rma_number: str, left: int | None = None):
        self.order_number = None
        self.left = left
        self.rma_number = rma_number
        NotFound.__init__(
            self,
            f"I couldn't find return {rma_number} with those details. Please check the return "
            "number in your return email and the email address you ordered with.",
        )


class InvalidOrderNumber(ShopbotError):
    """The text given is not an order number (6 digits, e.g. #104233)."""

    def __init__(self, text: object):
        self.text = text
        super().__init__(
            "Order numbers have 6 digits, like #104233; you'll find yours in the confirmation "
            "email. Which order do you mean?"
        )


class TooManyAttempts(ShopbotError):
    """Too many failed order look-ups: nothing is looked up for this guest for ``minutes``."""

    def __init__(self, minutes: int) -> None:
        self.minutes = minutes
        wait = "a minute" if minutes <= 1 else f"{minutes} minutes"
        if minutes >= 90:
            hours = round(minutes / 60)
            wait = f"{hours} hours" if hours > 1 else "an hour"
        super().__init__(
            "Those order details didn't match too many times, so I can't look up orders for "
            f"you right now. Please try again in {wait}, or sign in to your account to see your "
            "orders at once. You can also ask for a human and a colleague will help you."
        )


class CannotCancel(ShopbotError):
    """The order can't be cancelled; ``reason`` is "shipped", "delivered" or "cancelled"."""

    def __init__(self, message: str, reason: str):
        self.reason = reason
        super().__init__(message)


class NotReturnable(ShopbotError):
    """Nothing can be returned; ``reason``: not_delivered, cancelled, window_closed, all_returned."""

    def __init__(self, message: str, reason: str):
        self.reason = reason
        super().__init__(message)


class ItemNotIdentified(ShopbotError):
    """Which line of the order is meant is unclear; ``lines`` are the candidates to offer."""

    def __init__(self, message: str, lines: list, reason: str):
        self.lines = list(lines)
        self.reason = reason  # "ambiguous" | "not_in_order" | "not_specified"
        super().__init__(message)


class InvalidQuantity(ShopbotError):
    """The quantity to return is not between 1 and what was bought."""


class MissingDetails(ShopbotError):
    """The request lacks what is needed to look anything up."""
