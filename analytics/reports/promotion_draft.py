"""The preview of a drafted promotion for Slack (Block Kit): what, for whom, how many customers are
eligible now, from and until when, the caps, and the Confirm / Cancel buttons."""

from __future__ import annotations

from typing import Any

from analytics.reports.slack import fit
from shop.promotions.drafts import DraftPreview, draft_hours

CONFIRM, CANCEL = "promotion_confirm", "promotion_cancel"


def draft_blocks(view: DraftPreview, confirm_value: str, cancel_value: str) -> dict[str, Any]:
    """{"text": fallback, "blocks": [...]}; the buttons carry ``confirm_value`` and
    ``cancel_value`` (what the channel sends back when one is pressed). Every text is escaped."""
    title = f"Draft promotion {view.name}"
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{fit(value, 1900)}"} for name, value in view.lines()
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": fit(title, 150)}},
        {"type": "section", "fields": fields[:10]},
        {
            "type": "actions",
            "block_id": f"promotion-draft-{view.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": CONFIRM,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Confirm"},
                    "value": confirm_value,
                },
                {
                    "type": "button",
                    "action_id": CANCEL,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Cancel"},
                    "value": cancel_value,
                },
            ],
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Nothing is live until you press Confirm; the draft waits "
                    f"{draft_hours()} hours. Cancel discards it.",
                }
            ],
        },
    ]
    fallback = f"{title}: " + "; ".join(f"{n}: {v}" for n, v in view.lines())
    return {"text": fit(fallback, 3000), "blocks": blocks}
