"""Reading and writing the shop's small values in text: order numbers, e-mails, RMA numbers,
SKUs, money and dates. One set of rules, used by the store, the actions and the reports.

Order numbers have 6 digits ("#104233"); SKUs are a 2–4 letter category code, a dash and 3–5
digits ("CLO-0042"); RMA numbers are "RMA-" and 6 digits.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from decimal import Decimal

# An RMA number must not be read as an order number ("RMA-104233").
_RMA_IN_TEXT = re.compile(r"\brma[\s#:\-]*\d+", re.IGNORECASE)
_ORDER_NUMBER = re.compile(r"(?<![A-Za-z0-9\-])#?\s?([1-9]\d{5})(?![\d])")
_EMAIL = re.compile(
    r"^[a-z0-9._%+\-']+@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)+$"
)
_RMA = re.compile(r"^\s*rma[\s#:\-]*(\d{6})\s*$", re.IGNORECASE)
# SKUs as the design fixes them; imported files may use other shapes, which the catalogue
# matcher recognises through its per-product patterns instead.
SKU_PATTERN = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2,4}-\d{3,5})(?![A-Za-z0-9])")
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


def parse_order_number(text: object) -> int | None:
    """The 6-digit order number in ``text`` ("#104233", "order 104233", 104233), else None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if 100000 <= text <= 999999 else None
    if not isinstance(text, str) or len(text) > 1000:
        return None
    match = _ORDER_NUMBER.search(_RMA_IN_TEXT.sub(" ", text))
    return int(match.group(1)) if match else None


def normalise_email(text: object) -> str | None:
    """``text`` as a trimmed, lower-case email address, or None if it doesn't look like one."""
    if not isinstance(text, str):
        return None
    value = text.strip().strip("<>").strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :]
    # People end sentences with their address: "it's ada@example.com."
    value = value.rstrip(".,;:!?").lower()
    if len(value) > 254 or not _EMAIL.match(value) or ".." in value:
        return None
    return value


def email_in_text(text: str) -> str | None:
    """The first word of ``text`` that is an e-mail address (normalised), or None."""
    return next(filter(None, map(normalise_email, text.split())), None)


def parse_rma_number(text: object) -> str | None:
    """``text`` as a canonical RMA number ("rma 123456" → "RMA-123456"), or None."""
    if not isinstance(text, str):
        return None
    match = _RMA.match(text)
    return f"RMA-{match.group(1)}" if match else None


def find_skus(text: str | None) -> list[str]:
    """The SKUs written in ``text`` ("how many clo-0042?" → ["CLO-0042"]), upper-cased."""
    return [m.group(1).upper() for m in SKU_PATTERN.finditer((text or "")[:2000])]


def find_sku(text: str | None) -> str | None:
    """The first SKU written in ``text``, upper-cased, or None."""
    found = find_skus(text)
    return found[0] if found else None


def money(value: Decimal | float | int | str, *, grouped: bool = False) -> str:
    """An amount with two decimals and no currency sign ("39.90"), as customers see prices;
    ``grouped`` adds thousands separators ("12,345.60"), as staff reports show revenue."""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    return f"{amount:,}" if grouped else str(amount)


def rough_money(value: float) -> str:
    """An amount rounded to two significant figures with thousands separators ("2,000"), for
    typical spends where the exact cents would mislead."""
    if value <= 0 or not math.isfinite(value):
        rounded = 0.0
    else:
        rounded = round(value, 1 - int(math.floor(math.log10(value))))
    return f"{rounded:,.0f}" if rounded >= 10 else f"{rounded:,.1f}"


def long_date(value: dt.date | dt.datetime | None) -> str:
    """ "5 November 2026" (no locale: the bot speaks English); "" for None."""
    if value is None:
        return ""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def iso(value: dt.date | dt.datetime | None) -> str | None:
    """``value`` in ISO 8601, or None."""
    return value.isoformat() if value is not None else None


# ---- product names in what customers type ----------------------------------------------------

# Words that say nothing about which product is meant.
_STOPWORDS = frozenset(
    """a an the my your our this that these those of for to and or with in on at by from is are
    was be do does did you we i me have has had any some got get want would like need looking
    look find buy price prices cost costs much how many what which there it its one ones
    available availability stock sell sold please can could show tell about still item items
    product products thing things hi hello hey what whats where when who s d ll re ve t m
    im id dont don show search sale shop store just also too them us am so if return returning
    send back order orders""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*")
# A word within this similarity of a name's word is a typo of it, and counts this much.
TYPO_CUTOFF = 0.8
TYPO_WEIGHT = 0.8
# Below this a name shares nothing with the text.
MIN_NAME_SCORE = 0.3


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """The lower-case words of ``text`` that can name a product (no "the", "price", "return")."""
    return [w for w in _words(text) if w not in _STOPWORDS]


def match_names(text: str, names: list[str]) -> list[int]:
    """Indices of the ``names`` that ``text`` names best (a short list: an order's lines).

    A name scores one for every word of the text it contains and 0.8 for a close typo; words
    that say nothing about a product ("the", "return", "item") do not count. Empty when no name
    shares a word with the text; several indices when the best names tie (ask which one).
    """
    words = content_words(text or "")
    scores = []
    for name in names:
        name_words = content_words(name)
        score = 0.0
        for word in words:
            if word in name_words:
                score += 1
            elif len(word) >= 4 and difflib.get_close_matches(
                word, name_words, n=1, cutoff=TYPO_CUTOFF
            ):
                score += TYPO_WEIGHT
        scores.append(score)
    best = max(scores, default=0.0)
    if best < MIN_NAME_SCORE:
        return []
    return [i for i, score in enumerate(scores) if score >= best - 1e-9]
