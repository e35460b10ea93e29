"""Per-customer codes: unguessable (``secrets``, 60 random bits), unique, issued in bulk."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.promotions.targeting import eligible_customer_ids
from shop.store.promotion_models import Promotion, PromotionCode

# No 0/O, 1/I/L: codes are read aloud and typed from e-mails.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
GROUPS, GROUP_LEN = 3, 4


def new_code() -> str:
    """A fresh random code like ``SB-7KQ2-M9XD-RT4P`` (about 59 bits from ``secrets``)."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LEN))
    groups = [chars[i : i + GROUP_LEN] for i in range(0, len(chars), GROUP_LEN)]
    return "SB-" + "-".join(groups)


def normalise_code(text: str) -> str:
    """The code as stored: upper case, spaces removed, ``SB-`` and dashes as issued."""
    raw = "".join(ch for ch in str(text).upper() if ch.isalnum())
    if raw.startswith("SB"):
        raw = raw[2:]
    if len(raw) != GROUPS * GROUP_LEN:
        return str(text).strip().upper()
    return "SB-" + "-".join(raw[i : i + GROUP_LEN] for i in range(0, len(raw), GROUP_LEN))


def issue_codes(session: Session, promotion: Promotion, now: dt.datetime | None = None) -> int:
    """How many new codes were issued: one for each eligible customer who has none yet."""
    have = set(
        session.execute(
            select(PromotionCode.customer_id).where(PromotionCode.promotion_id == promotion.id)
        ).scalars()
    )
    taken = set(session.execute(select(PromotionCode.code)).scalars())
    new = 0
    for customer_id in sorted(eligible_customer_ids(session, promotion, now) - have):
        code = new_code()
        while code in taken:  # 2^-59 per pair; the unique constraint is the final guard
            code = new_code()
        taken.add(code)
        session.add(PromotionCode(code=code, promotion_id=promotion.id, customer_id=customer_id))
        new += 1
    session.flush()
    return new
