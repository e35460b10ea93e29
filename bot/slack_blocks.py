"""Staff reports as Slack Block Kit messages (with a plain-text fallback and an optional chart)."""

from __future__ import annotations

import base64
from typing import Any

from analytics.report import StaffReport

MAX_SECTION_CHARS = 2900  # Slack's limit for a section's text is 3000
MAX_FIELDS = 10


def escape(text: Any) -> str:
    """Text safe inside Slack mrkdwn: &, < and > escaped as Slack asks (no links or mentions
    can be smuggled in through product names or customer input)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    # Inside ``` a backtick run could end the block early; neutralise it.
    return "```" + escape(text).replace("```", "'''") + "```"


def to_slack(report: StaffReport) -> dict[str, Any]:
    """{"text": fallback, "blocks": [...], "chart"?: {png_b64, filename, title}}."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": report.title[:150]}}
    ]
    if report.summary:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": escape(report.summary)[:MAX_SECTION_CHARS]},
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
                "elements": [
                    {"type": "mrkdwn", "text": escape(n)[:2000]} for n in report.notes[:10]
                ],
            }
        )
    message: dict[str, Any] = {"text": report.to_text()[:3900], "blocks": blocks}
    if report.chart_png:
        message["chart"] = {
            "png_b64": base64.b64encode(report.chart_png).decode("ascii"),
            "filename": report.chart_name,
            "title": report.title,
        }
    return message
