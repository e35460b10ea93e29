"""Who may ask staff questions: only on a staff channel, only allowed staff.

- ``slack``: the Slack user id (put into the metadata by our signed-request-checking Slack
  channel) must be in ``SHOPBOT_STAFF_SLACK_USERS`` (comma-separated ids).
- ``staff``: the local staff console; the channel itself demands ``SHOPBOT_STAFF_CONSOLE_TOKEN``.
Everything else (REST, socket.io, the storefront) is a customer channel and gets no staff data.
"""

from __future__ import annotations

import os
from typing import Any

SLACK_CHANNEL = "slack"
CONSOLE_CHANNEL = "staff"
REFUSAL = (
    "Sorry, I can only answer questions about stock, forecasts, reordering, segments and sales "
    "for shop staff on the staff channel."
)


def allowed_slack_users() -> frozenset[str]:
    raw = os.environ.get("SHOPBOT_STAFF_SLACK_USERS", "")
    return frozenset(u.strip() for u in raw.split(",") if u.strip())


def is_staff(input_channel: str | None, metadata: dict[str, Any] | None) -> bool:
    """True only for an allowed Slack user on Slack, or anyone on the authenticated console."""
    metadata = metadata if isinstance(metadata, dict) else {}
    if input_channel == CONSOLE_CHANNEL:
        return True
    if input_channel == SLACK_CHANNEL:
        user = metadata.get("slack_user")
        return isinstance(user, str) and user in allowed_slack_users()
    return False
