"""Staff answers about hand-offs: the open ones, and the weekly figures with a chart."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine

from analytics.reports.base import StaffReport, Table, number
from analytics.reports.charts import bar_chart
from shop import handoffs
from shop.store import session_scope
from shop.store.models import utcnow

STATE_NAMES = {"waiting": "waiting", "agent": "with a colleague"}


def _minutes(span: dt.timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def open_handoffs_report(engine: Engine, now: dt.datetime | None = None) -> StaffReport:
    """Every waiting or taken hand-off: ticket, state, owner, and how long it has been open."""
    now = now or utcnow()
    with session_scope(engine) as session:
        items = handoffs.open_handoffs(session)
    if not items:
        return StaffReport(
            title="Open hand-offs", summary="No hand-offs are open: every customer is answered."
        )
    waiting = sum(1 for h in items if h.state == "waiting")
    rows = [
        [
            f"#{h.ticket_id}",
            STATE_NAMES.get(h.state, h.state),
            h.assignee_name or "–",
            _minutes(now - h.opened_at),
            (h.reason or "")[:40],
        ]
        for h in items
    ]
    return StaffReport(
        title="Open hand-offs",
        summary=f"{len(items)} open, {waiting} waiting for someone to take over.",
        table=Table(["ticket", "state", "with", "open for", "reason"], rows),
        data={"open": len(items), "waiting": waiting},
    )


def handoff_stats_report(
    engine: Engine, weeks: int = 8, now: dt.datetime | None = None
) -> StaffReport:
    """Per week: hand-offs, median minutes to the first response and to resolution, a chart."""
    with session_scope(engine) as session:
        stats = handoffs.weekly_stats(session, weeks=weeks, now=now)
    rows = [
        [
            f"{w.week:%d %b}",
            number(w.count),
            number(w.median_first_response_min, 1),
            number(w.median_resolution_min, 1),
        ]
        for w in stats
    ]
    total = sum(w.count for w in stats)
    latest = stats[-1]
    summary = (
        f"{total} hand-offs in the last {weeks} weeks; this week {latest.count}, median first "
        f"response {number(latest.median_first_response_min, 1)} min, median resolution "
        f"{number(latest.median_resolution_min, 1)} min."
    )
    chart = bar_chart(
        "Hand-offs per week", [f"{w.week:%d %b}" for w in stats], [w.count for w in stats], "count"
    )
    return StaffReport(
        title="Hand-off stats",
        summary=summary,
        table=Table(
            ["week of", "hand-offs", "first response (min)", "resolution (min)"],
            rows,
            align=["l", "r", "r", "r"],
        ),
        notes=["Times are medians of the hand-offs opened that week; first response = taken over."],
        chart_png=chart,
        chart_name="handoff-stats.png",
        data={"weeks": [dict(w.__dict__, week=w.week.isoformat()) for w in stats]},
    )
