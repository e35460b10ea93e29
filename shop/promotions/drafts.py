"""Promotions drafted from words (Slack, the staff console): stored as a draft, previewed, and
made live only when a member of staff confirms it, exactly once.

A draft is an ordinary promotion in status ``draft`` (``shop.promotions.admin.create_promotion``
checks its terms). Confirming is one conditional UPDATE (``draft`` → ``active``), so a second
click, a second colleague or a retry finds it active and is told so; the codes are issued in the
same transaction, as ``shopbot promotion codes`` does. Cancelling deletes the draft (nothing was
ever live). A draft can be confirmed for ``SHOPBOT_PROMOTION_DRAFT_HOURS`` after it was made.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shop import settings
from shop.promotions.admin import create_promotion, last_day, reward_text
from shop.promotions.codes import issue_codes
from shop.promotions.request import PromotionRequest, segment_name
from shop.promotions.targeting import eligible_customer_ids, matching_segments
from shop.store.db import begin_write
from shop.store.models import utcnow
from shop.store.promotion_models import Promotion

DECISIONS = {
    "activated": "{name} is live: {codes} customers got a personal code. It runs until {until}.",
    "cancelled": "Cancelled: the draft {name} is discarded and nothing went live.",
    "already_active": "{name} is already live (confirmed at {when} UTC); nothing changed.",
    "already_paused": "{name} is already confirmed and now paused; nothing changed.",
    "already_ended": "{name} has ended; nothing changed.",
    "expired": (
        "The draft {name} has expired (drafts wait {hours} hours, and its end date must not have "
        "passed), so nothing went live. Ask me again to make a new one."
    ),
    "unknown": (
        "I can't find that draft: it was cancelled or never existed, so nothing went live. Ask "
        "me again to make a new one."
    ),
    "live_not_cancelled": (
        '{name} is already live, so there is no draft to cancel; to stop it, say "pause '
        '{name}" or run `shopbot promotion end {name}`.'
    ),
}


@dataclass(frozen=True)
class Decision:
    """What a click on Confirm or Cancel did; ``outcome`` is a key of :data:`DECISIONS`."""

    outcome: str
    name: str = ""
    codes: int = 0
    until: str = ""
    when: str = ""

    def message(self) -> str:
        return DECISIONS[self.outcome].format(
            name=self.name, codes=self.codes, until=self.until, when=self.when, hours=draft_hours()
        )


@dataclass(frozen=True)
class DraftPreview:
    """What staff check before confirming: the terms and who would get the offer now."""

    id: int
    name: str
    reward: str  # "10% off", "5.00 off"
    where: str  # "home", "the whole order"
    segments: tuple[str, ...]  # labels, with the words they were read from
    eligible: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    window_given: bool
    per_customer_cap: int
    global_cap: int | None
    budget: Decimal | None
    expires_at: dt.datetime

    def lines(self) -> list[tuple[str, str]]:
        """(field, value) pairs the preview shows, in order."""
        until = f"{last_day(self.ends_at):%d %b %Y}" + (
            "" if self.window_given else " (default: two weeks)"
        )
        return [
            ("Reward", f"{self.reward} {self.where}"),
            ("Who", "; ".join(self.segments)),
            (
                "Eligible now",
                f"{self.eligible:,} customers (not counting those who said no more offers)",
            ),
            ("From", f"{self.starts_at:%d %b %Y %H:%M} UTC"),
            ("Until", f"{until}, inclusive"),
            ("Caps", self.caps()),
        ]

    def caps(self) -> str:
        total = "no global cap" if self.global_cap is None else f"{self.global_cap:,} uses in all"
        budget = "no budget" if self.budget is None else f"budget {self.budget:,.2f}"
        return f"{self.per_customer_cap} use per customer, {total}, {budget}"

    def to_text(self) -> str:
        """The preview as plain text (the staff console)."""
        head = f"Draft promotion {self.name} (nothing is live until you confirm):"
        body = "\n".join(f"- {field}: {value}" for field, value in self.lines())
        return f"{head}\n{body}\nConfirm or cancel it (the draft waits {draft_hours()} hours)."


def draft_hours() -> int:
    return settings.PROMOTION_DRAFT_HOURS.number(minimum=1)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _free_name(session: Session, base: str) -> str:
    base = base[:100]
    taken = set(
        session.execute(select(Promotion.name).where(Promotion.name.like(f"{base}%"))).scalars()
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def create_draft(
    session: Session, request: PromotionRequest, now: dt.datetime | None = None
) -> Promotion:
    """The draft promotion for ``request``: one use per customer and, unless the request set
    them, a global cap of the customers eligible now and no budget (the preview shows both)."""
    now = now or utcnow()
    labels = matching_segments(session, [str(s) for s in request.segments])
    first = segment_name(labels[request.segments[0]]).split()[0] if request.segments else "all"
    reward = f"{float(request.reward_value):g}pct" if request.reward_kind == "percent" else (
        f"{float(request.reward_value):g}off"
    )  # fmt: skip
    parts = [first, reward, *request.categories, f"{now:%Y%m%d}"]
    promotion = create_promotion(
        session,
        name=_free_name(session, _slug("-".join(parts))),
        target={"segments": [str(s) for s in request.segments]},
        reward_kind=request.reward_kind,
        reward_value=request.reward_value,
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        categories=list(request.categories) or None,
        global_cap=request.global_cap,
        per_customer_cap=1,
        budget=request.budget,
    )
    if request.global_cap is None:
        eligible = len(eligible_customer_ids(session, promotion, now))
        promotion.global_cap = eligible or None
        session.flush()
    return promotion


def preview(
    session: Session, promotion: Promotion, request: PromotionRequest | None = None
) -> DraftPreview:
    """The preview of a draft: its terms and how many customers are eligible now."""
    numbers = [str(s) for s in (promotion.target or {}).get("segments", [])]
    labels = matching_segments(session, numbers)
    read_as = request.read_as if request else {}
    segments = tuple(
        label + (f' (for "{read_as[seg]}")' if seg in read_as else "")
        for seg, label in sorted(labels.items())
    )
    return DraftPreview(
        id=promotion.id,
        name=promotion.name,
        reward=reward_text(promotion.reward_kind, promotion.reward_value),
        where=f"on {' and '.join(promotion.categories)}" if promotion.categories else
        "on the whole order",
        segments=segments,
        eligible=len(eligible_customer_ids(session, promotion)),
        starts_at=promotion.starts_at,
        ends_at=promotion.ends_at,
        window_given=request.window_given if request else True,
        per_customer_cap=promotion.per_customer_cap,
        global_cap=promotion.global_cap,
        budget=promotion.budget,
        expires_at=draft_expires_at(promotion),
    )  # fmt: skip


def _until(promotion: Promotion) -> str:
    return f"{last_day(promotion.ends_at):%d %b %Y}"


def draft_expires_at(promotion: Promotion) -> dt.datetime:
    """When a draft's Confirm stops working (``SHOPBOT_PROMOTION_DRAFT_HOURS`` after it was made)."""
    return promotion.created_at + dt.timedelta(hours=draft_hours())


def can_confirm(promotion: Promotion, now: dt.datetime) -> bool:
    """True for a draft that Confirm would still make live: not expired, its window not over."""
    return (
        promotion.status == "draft"
        and draft_expires_at(promotion) >= now
        and promotion.ends_at > now
    )


def confirm_draft(session: Session, promotion_id: int, now: dt.datetime | None = None) -> Decision:
    """Makes the draft live (and issues its codes) if it still is a draft and not expired; what
    happened otherwise. Exactly one of several confirmations activates it."""
    now = now or utcnow()
    begin_write(session)  # SQLite: the write lock first, so racing confirmations queue up
    promotion = session.get(Promotion, promotion_id)
    if promotion is None:
        return Decision("unknown")
    if promotion.status != "draft":
        return _not_a_draft(promotion)
    if not can_confirm(promotion, now):
        return Decision("expired", promotion.name)
    changed = session.execute(
        update(Promotion)
        .where(Promotion.id == promotion_id, Promotion.status == "draft")
        .values(status="active", updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(promotion)
    if changed != 1:  # someone else confirmed (or cancelled) it in between
        return _not_a_draft(promotion)
    codes = issue_codes(session, promotion, now)
    return Decision("activated", promotion.name, codes=codes, until=_until(promotion))


def _not_a_draft(promotion: Promotion) -> Decision:
    return Decision(
        f"already_{promotion.status}",
        promotion.name,
        until=_until(promotion),
        when=f"{promotion.updated_at:%d %b %H:%M}",
    )


def cancel_draft(session: Session, promotion_id: int) -> Decision:
    """Discards the draft; a live promotion is left alone (and staff are told how to stop it)."""
    begin_write(session)
    promotion = session.get(Promotion, promotion_id)
    if promotion is None:
        return Decision("unknown")
    name = promotion.name
    if promotion.status != "draft":
        return Decision("live_not_cancelled" if promotion.status != "ended" else "already_ended",
                        name)  # fmt: skip
    deleted = session.execute(
        delete(Promotion)
        .where(Promotion.id == promotion_id, Promotion.status == "draft")
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expunge(promotion)
    return Decision("cancelled" if deleted == 1 else "unknown", name)
