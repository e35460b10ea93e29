"""Staff reports as Slack Block Kit messages (with a plain-text fallback and an optional chart)."""

from __future__ import annotations

import base64
import re
from typing import Any

from analytics.reports.base import StaffReport

MAX_SECTION_CHARS = 2900  # Slack's limit for a section's text is 3000
MAX_HEADER_CHARS = 150
MAX_FALLBACK_CHARS = 3900
MAX_FIELDS = 10
_CUT_ENTITY = re.compile(r"&[a-z]*$")


def escape(text: Any) -> str:
    """Text safe inside any Slack text: &, < and > escaped as Slack asks (no links or mentions
    can be smuggled in through product names or customer input)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: Any, limit: int) -> str:
    """``text`` escaped and cut to at most ``limit`` characters, never inside an entity (a cut
    ends with "…")."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    return _CUT_ENTITY.sub("", escaped[: limit - 1]) + "…"


def _code(text: str) -> str:
    # Inside ``` a backtick run could end the block early; neutralise it.
    return "```" + escape(text).replace("```", "'''") + "```"


def to_slack(report: StaffReport) -> dict[str, Any]:
    """{"text": fallback, "blocks": [...], "chart"?: {png_b64, filename, title}}."""
    blocks: list[dict[str, Any]] = [
        # plain_text forms no links or mentions, but Slack decodes entities in every text
        # object, so one rule for all: escape.
        {
            "type": "header",
            "text": {"type": "plain_text", "text": fit(report.title, MAX_HEADER_CHARS)},
        }
    ]
    if report.summary:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": fit(report.summary, MAX_SECTION_CHARS)},
            }
        )
    if report.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{escape(k)}*\n{escape(v)}"}
                    for k, v in report.fields[:MAX_FIELDS]
                ],
            }
        )
    if report.table is not None and report.table.rows:
        text = report.table.to_text()
        # Long tables are cut to fit Slack's limit, saying so.
        if len(text) > MAX_SECTION_CHARS - 20:
            text = text[: MAX_SECTION_CHARS - 40].rsplit("\n", 1)[0] + "\n…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _code(text)}})
    if report.notes:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": fit(n, 2000)} for n in report.notes[:10]],
            }
        )
    # The fallback text shows in notifications and is parsed like mrkdwn: escaped as well.
    message: dict[str, Any] = {"text": fit(report.to_text(), MAX_FALLBACK_CHARS), "blocks": blocks}
    if report.chart_png:
        message["chart"] = {
            "png_b64": base64.b64encode(report.chart_png).decode("ascii"),
            "filename": report.chart_name,
            "title": report.title,
        }
    return message
