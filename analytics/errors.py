"""Errors that carry a message meant for people (CLI users, customers, staff)."""


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
