"""A promotion asked for in words ("create a 10% offer on kitchenware for lapsed customers for two
weeks") read into its terms, or a question saying what is missing or unknown.

Nothing is guessed: no reward, two rewards, a segment or a category the shop does not have, a
date that does not exist each give an :class:`UnclearRequest` whose message says what to say
instead. The limits of the terms themselves (a percentage at most 100, a positive budget or cap,
the end after the start) are checked where every promotion is checked, by
``shop.promotions.admin.create_promotion``, when the draft is made. What may be left out
gets a default the preview shows: the window (:data:`DEFAULT_DAYS` days from now), one use per
customer, no budget and no global cap beyond the eligible customers.

Segments are those of the newest segmentation, named as its labels name them ("Lapsed customers",
"Electronics enthusiasts — …", "New customers", "Mixed shoppers …"), by number ("segment 2"), or
by a few common names for the same groups (:data:`SEGMENT_SYNONYMS`: "at-risk" customers are the
lapsed ones); the preview shows which segment a word was read as. Categories are the catalogue's,
with the matcher's synonyms (``shop.catalog.CATEGORY_SYNONYMS``: "kitchenware" is home).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from shop.catalog import CATEGORY_SYNONYMS
from shop.errors import ShopbotError

DEFAULT_DAYS = 14
MAX_DAYS = 366
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january february march april may june july august september october november december"
).split()
# The first word of a segment's label → other names staff use for that group.
SEGMENT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "lapsed": ("at-risk", "at risk", "churned", "churning", "inactive", "dormant", "lapsed"),
    "new": ("newcomers", "new buyers", "new shoppers", "first-time buyers", "first time buyers"),
}
# Words around a target or a category that name nothing ("for the whole order", "on everything").
FILLER = frozenset(
    "the a an our my all any every of and or segment segments group groups customer customers "
    "shoppers buyers people clients users everything everyone anything whole entire order orders "
    "their next purchase purchases basket cart it offer offers promotion promo discount deal "
    "items products stuff range".split()
)
CONNECTORS = r"for|to|until|till|til|through|from|starting|with|on|off|this|next|at|over"


class UnclearRequest(ShopbotError):
    """A request that cannot become a promotion as it stands; ``reason`` is stable (tests), the
    message says what to change."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class PromotionRequest:
    """The terms read from a request (a draft is made of them, nothing is stored here)."""

    reward_kind: str  # "percent" | "fixed"
    reward_value: Decimal
    segments: tuple[int, ...]  # segment numbers of the newest segmentation
    categories: tuple[str, ...]  # () = the whole order
    starts_at: dt.datetime
    ends_at: dt.datetime
    window_given: bool  # False: the default window
    budget: Decimal | None = None
    global_cap: int | None = None
    # segment number → the words it was read from, when they differ from its label
    read_as: dict[int, str] = field(default_factory=dict)


@dataclass
class _Text:
    """The request's text, with the parts already read blanked out."""

    text: str

    def take(self, match: re.Match[str]) -> None:
        start, end = match.span()
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'").replace("per cent", "percent")
    return re.sub(r"[–—]", "-", text)


def _number(word: str) -> int | None:
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word)


# ---- budget and cap ---------------------------------------------------------------------------

_AMOUNT = r"[£$€]?\s*(\d[\d,]*(?:\.\d{1,2})?)\s*(?:pounds?|gbp|euros?|dollars?)?"
_BUDGET = re.compile(
    rf"\b(?:with\s+)?(?:a\s+|the\s+)?(?:total\s+)?budget\s+(?:of\s+|is\s+|at\s+)?{_AMOUNT}"
    rf"|{_AMOUNT}\s+(?:total\s+)?budget\b"
)
_CAP = re.compile(
    r"\b(?:capped\s+at|cap(?:\s+of|\s+at)?|max(?:imum)?(?:\s+of)?|at\s+most|up\s+to|limit(?:ed)?"
    r"(?:\s+to)?)\s+(\d[\d,]*)\s+(?:uses|redemptions|orders|customers|codes)\b"
    r"|\bfirst\s+(\d[\d,]*)\s+(?:customers|orders|redemptions)\b"
)


def _budget_and_cap(text: _Text) -> tuple[Decimal | None, int | None]:
    budget = cap = None
    if m := _BUDGET.search(text.text):
        budget = Decimal((m.group(1) or m.group(2)).replace(",", ""))
        text.take(m)
    if m := _CAP.search(text.text):
        cap = int((m.group(1) or m.group(2)).replace(",", ""))
        text.take(m)
    return budget, cap


# ---- the reward --------------------------------------------------------------------------------

_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:%|percent\b|pc\b)")
_FIXED = re.compile(
    r"[£$€]\s*(\d+(?:\.\d{1,2})?)\b|(?<![\w.])(\d+(?:\.\d{1,2})?)\s*(?:pounds?|quid|gbp|euros?|dollars?)\b"
)
NO_REWARD = (
    'What should the offer give? Say a percentage ("10% off") or an amount ("£5 off"), '
    'e.g. "create a 10% offer on kitchenware for lapsed customers for two weeks".'
)


def _reward(text: _Text) -> tuple[str, Decimal]:
    found = [("percent", m) for m in _PERCENT.finditer(text.text)]
    found += [("fixed", m) for m in _FIXED.finditer(text.text)]
    values = {(kind, Decimal(m.group(1) or m.group(2))) for kind, m in found}
    if not values:
        raise UnclearRequest("no_reward", NO_REWARD)
    if len(values) > 1:
        said = ", ".join(m.group(0).strip() for _, m in found)
        raise UnclearRequest(
            "two_rewards", f"I read more than one reward ({said}); an offer has one. Which is it?"
        )
    for _, m in found:
        text.take(m)
    return values.pop()


# ---- the window ---------------------------------------------------------------------------------

_DURATION = re.compile(
    r"\b(?:for|over|during|lasting)\s+(?:the\s+next\s+|a\s+period\s+of\s+)?"
    r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+"
    r"(days?|weeks?|fortnights?|months?)\b"
)
_END_OF = re.compile(
    r"\b(?:until|till|til|through|to|by)\s+(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(next\s+)?"
    r"(week|month)\b"
)
_THIS = re.compile(r"\b(?:for\s+|during\s+)?(this|next)\s+(week|month)\b")
_WEEKDAY = re.compile(
    r"\b(?:until|till|til|through|to)\s+(?:next\s+)?(" + "|".join(WEEKDAYS) + r")\b"
)
_MONTH_NAMES = "|".join(m[:3] + r"[a-z]*" for m in MONTHS)
_DATE = re.compile(
    r"\b(?:until|till|til|through|to)\s+(?:the\s+)?(?:(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?"
    rf"({_MONTH_NAMES})|({_MONTH_NAMES})\s+(\d{{1,2}})(?:st|nd|rd|th)?)\b"
)


def _month_start(year: int, month: int) -> dt.datetime:
    return dt.datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _window(text: _Text, now: dt.datetime) -> tuple[dt.datetime, bool]:
    """The end of the offer (exclusive) and whether the request gave one."""
    today = dt.datetime(now.year, now.month, now.day)
    if m := _DURATION.search(text.text):
        n, unit = _number(m.group(1)), m.group(2).rstrip("s")
        text.take(m)
        days = (n or 0) * UNIT_DAYS[unit]
        if not 1 <= days <= MAX_DAYS:
            raise UnclearRequest("bad_window", f"An offer runs for 1 to {MAX_DAYS} days.")
        return now + dt.timedelta(days=days), True
    if m := _END_OF.search(text.text) or _THIS.search(text.text):
        nxt = (m.group(1) or "").strip() == "next"
        unit = m.group(2)
        text.take(m)
        if unit == "month":
            return _month_start(now.year, now.month + (2 if nxt else 1)), True
        monday = today - dt.timedelta(days=today.weekday())
        return monday + dt.timedelta(days=14 if nxt else 7), True
    if m := _WEEKDAY.search(text.text):
        ahead = (WEEKDAYS.index(m.group(1)) - today.weekday()) % 7 or 7
        text.take(m)
        return today + dt.timedelta(days=ahead + 1), True
    if m := _DATE.search(text.text):
        day = int(m.group(1) or m.group(4))
        month_word = m.group(2) or m.group(3)
        month = next(i for i, name in enumerate(MONTHS, 1) if name.startswith(month_word[:3]))
        text.take(m)
        year = today.year
        if day > calendar.monthrange(year, month)[1]:
            raise UnclearRequest("bad_window", f"{month_word.capitalize()} has no day {day}.")
        if dt.datetime(year, month, day) < today:
            year += 1  # "until 5 January" said in December
            if day > calendar.monthrange(year, month)[1]:
                raise UnclearRequest("bad_window", f"{month_word.capitalize()} has no day {day}.")
        return dt.datetime(year, month, day) + dt.timedelta(days=1), True
    return now + dt.timedelta(days=DEFAULT_DAYS), False


# ---- segments -----------------------------------------------------------------------------------


def segment_name(label: str) -> str:
    """The name part of a segment label: "Electronics enthusiasts — 2 orders/month" → "Electronics
    enthusiasts", "Mixed shoppers (home) — …" → "Mixed shoppers"."""
    return re.split(r"\s+[-—(\[]|\s*—", label, maxsplit=1)[0].strip()


def _segment_phrases(labels: Mapping[int, str]) -> list[tuple[str, int]]:
    """(phrase, segment) pairs, longest phrase first."""
    pairs: list[tuple[str, int]] = []
    for seg, label in labels.items():
        name = _normalise(segment_name(label))
        first = name.split()[0] if name else ""
        phrases = {name, name.rstrip("s"), f"{first} segment", f"{first} group"}
        # "lapsed" alone names the segment; "new", "mixed" or a category word alone do not
        if first not in ("new", "mixed") and first not in CATEGORY_SYNONYMS:
            phrases.add(first)
        for synonym in SEGMENT_SYNONYMS.get(first, ()):
            phrases.update({synonym, f"{synonym} customers", f"{synonym} segment"})
        pairs += [(p, seg) for p in phrases if p.strip()]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


_SEGMENT_NUMBERS = re.compile(
    r"\bsegments?\s*(?:no\.?|number|#)?\s*(\d+(?:\s*(?:,|and|&|or)\s*#?\d+)*)"
)
_ALL = re.compile(r"\b(?:everyone|everybody|all\s+(?:our\s+)?(?:customers|segments|shoppers))\b")


def _segments(text: _Text, labels: Mapping[int, str]) -> tuple[list[int], dict[int, str]]:
    found: list[int] = []
    read_as: dict[int, str] = {}
    if m := _ALL.search(text.text):
        text.take(m)
        return sorted(labels), {}
    for m in list(_SEGMENT_NUMBERS.finditer(text.text)):
        for number in re.findall(r"\d+", m.group(1)):
            if int(number) not in labels:
                raise UnclearRequest(
                    "unknown_segment",
                    f"There is no segment {number}. {segment_list(labels)}",
                )
            found.append(int(number))
        text.take(m)
    for phrase, seg in _segment_phrases(labels):
        pattern = re.compile(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])")
        while m := pattern.search(text.text):
            if seg not in found:
                found.append(seg)
            if _normalise(segment_name(labels[seg])) not in phrase:
                read_as.setdefault(seg, m.group(0))
            text.take(m)
            # every segment with the same phrase (two "Mixed shoppers" segments) counts
            for other_phrase, other in _segment_phrases(labels):
                if other_phrase == phrase and other not in found:
                    found.append(other)
    return found, read_as


def segment_list(labels: Mapping[int, str]) -> str:
    """ "The segments are: 0 Lapsed customers; 1 …" for an answer."""
    return (
        "The segments are: "
        + "; ".join(f"{seg} {label}" for seg, label in sorted(labels.items()))
        + "."
    )


# ---- categories ---------------------------------------------------------------------------------


def _category_patterns() -> list[tuple[re.Pattern[str], str]]:
    pairs = [(word, cat) for cat, words in CATEGORY_SYNONYMS.items() for word in words]
    pairs.sort(key=lambda pair: -len(pair[0]))
    return [(re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])"), cat) for word, cat in pairs]


_ON = re.compile(
    rf"\b(?:on|off|in)\s+(?!(?:{CONNECTORS}|and)\b)(?P<what>[a-z][a-z &'/-]*?)"
    rf"(?=\s*(?:[,.;:!?()]|$|\b(?:{CONNECTORS}|and)\b|\d))"
)


def _categories(text: _Text) -> list[str]:
    found: list[str] = []
    for pattern, category in _category_patterns():
        while m := pattern.search(text.text):
            if category not in found:
                found.append(category)
            text.take(m)
    for m in _ON.finditer(text.text):
        words = [w for w in re.findall(r"[a-z][a-z'-]*", m.group("what")) if w not in FILLER]
        if words:
            said = " ".join(words)
            raise UnclearRequest(
                "unknown_category",
                f"I don't know a category \"{said}\". The shop's categories are "
                f"{', '.join(CATEGORY_SYNONYMS)}; say one of them, or nothing for the whole order.",
            )
    return found


# ---- the target phrase left over ----------------------------------------------------------------

_FOR = re.compile(
    rf"\b(?:for|to|targeting|target)\s+(?!(?:{CONNECTORS}|and)\b)(?P<who>[a-z][a-z &'/-]*?)"
    rf"(?=\s*(?:[,.;:!?()]|$|\b(?:{CONNECTORS})\b|\d))"
)


def _unknown_target(text: _Text) -> str | None:
    """Words of a "for …" phrase that named no segment ("for champions" → "champions")."""
    for m in _FOR.finditer(text.text):
        words = [w for w in re.findall(r"[a-z][a-z'-]*", m.group("who")) if w not in FILLER]
        if words:
            return " ".join(words)
    return None


def parse_promotion_request(
    text: str, segments: Mapping[int, str], now: dt.datetime
) -> PromotionRequest:
    """The terms of the promotion ``text`` asks for, given the newest segmentation's
    ``segments`` (number → label) and ``now`` (naive UTC); UnclearRequest otherwise."""
    if not segments:
        raise UnclearRequest(
            "no_segmentation",
            "There are no customer segments yet, so I can't target an offer: run "
            "`shopbot segments` (or `shopbot train`) first.",
        )
    work = _Text(_normalise(text or ""))
    budget, cap = _budget_and_cap(work)
    ends_at, window_given = _window(work, now)
    kind, value = _reward(work)
    found, read_as = _segments(work, segments)
    categories = _categories(work)
    unknown = _unknown_target(work)
    if unknown:
        raise UnclearRequest(
            "unknown_segment",
            f'I don\'t know a segment called "{unknown}". {segment_list(segments)} '
            "Say which one (its name or number).",
        )
    if not found:
        raise UnclearRequest(
            "no_segment", f"Which customers is the offer for? {segment_list(segments)}"
        )
    return PromotionRequest(
        reward_kind=kind,
        reward_value=value,
        segments=tuple(found),
        categories=tuple(sorted(categories)),
        starts_at=now,
        ends_at=ends_at,
        window_given=window_given,
        budget=budget,
        global_cap=cap,
        read_as=read_as,
    )
