"""Staff answer to "which promotions are running?": every promotion still in play with its
terms and how far it has got (codes issued, uses, discount given against its budget)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine

from analytics.reports.base import StaffReport, Table, money, number
from shop.promotions.admin import describe, last_day, list_promotions, reward_text
from shop.promotions.drafts import can_confirm
from shop.promotions.errors import InvalidPromotion
from shop.promotions.targeting import matching_segments
from shop.store import session_scope
from shop.store.models import utcnow
from shop.store.promotion_models import Promotion

ORDER = {"active": 0, "paused": 1, "draft": 2}
MAX_ROWS = 15
NONE_YET = (
    'There are no promotions yet. Ask me for one, e.g. "create a 10% offer on kitchenware for '
    'lapsed customers for two weeks", or use `shopbot promotion create`.'
)


def _who(session, promotion: Promotion) -> str:
    target = promotion.target or {}
    if "rule" in target:
        return "rule " + ", ".join(f"{k}={v}" for k, v in sorted(target["rule"].items()))
    wanted = [str(s) for s in target.get("segments", [])]
    try:
        return "; ".join(label for _, label in sorted(matching_segments(session, wanted).items()))
    except InvalidPromotion:  # segmented again since: say what it was made for
        return ", ".join(wanted)


def _in_play(promotion: Promotion, now: dt.datetime) -> bool:
    """Active, paused, or a draft that can still be confirmed."""
    if promotion.status == "draft":
        return can_confirm(promotion, now)
    return promotion.status in ORDER


def promotions_report(engine: Engine, now: dt.datetime | None = None) -> StaffReport:
    """Active promotions first, then paused ones and drafts waiting for a confirmation."""
    now = now or utcnow()
    with session_scope(engine) as session:
        everything = list_promotions(session)  # newest first
        shown = sorted((p for p in everything if _in_play(p, now)), key=lambda p: ORDER[p.status])
        rows = []
        for p in shown[:MAX_ROWS]:
            info = describe(session, p)
            cats = f" on {', '.join(p.categories)}" if p.categories else ""
            spent = money(info["spent"]) + (
                f" of {money(info['budget'])}" if info["budget"] is not None else ""
            )
            until = "ended" if p.ends_at <= now else f"{last_day(p.ends_at):%d %b}"
            rows.append([p.name, p.status, reward_text(p.reward_kind, p.reward_value) + cats,
                         _who(session, p), until, number(info["codes"]),
                         number(info["redemptions"]), spent])  # fmt: skip
    if not everything:
        return StaffReport(title="Promotions", summary=NONE_YET)
    counts = {status: sum(p.status == status for p in shown) for status in ORDER}
    summary = f"{counts['active']} active, {counts['paused']} paused, {counts['draft']} drafts"
    others = len(everything) - len(shown)
    summary += f"; {others} ended or expired drafts not shown." if others else "."
    notes = [f"Showing {MAX_ROWS} of {len(shown)}."] if len(shown) > MAX_ROWS else []
    notes.append('"Pause <name>" pauses one; "how is the <key> experiment doing?" tests it.')
    return StaffReport(
        title="Promotions",
        summary=summary,
        table=Table(
            ["promotion", "status", "reward", "who", "until", "codes", "used", "discount given"],
            rows,
            align=["l", "l", "l", "l", "l", "r", "r", "r"],
        ),
        notes=notes,
        data={"shown": len(shown), **counts},
    )
