"""Terminal client for the staff console channel: type questions, read the reports.

SHOPBOT_STAFF_CONSOLE_TOKEN=... scripts/staff-console [--url http://127.0.0.1:5005]
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.cli.chat_client import DEFAULT_URL, post, repl
from shop import settings


def ask(url: str, token: str, sender: str, text: str, timeout: float = 60) -> list[dict]:
    """The bot's replies to ``text`` on the staff console channel."""
    return post(
        f"{url.rstrip('/')}/webhooks/staff/webhook",
        {"sender": sender, "message": text},
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="shopbot staff console")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--sender", default=getpass.getuser())
    args = parser.parse_args(argv)
    token = settings.STAFF_CONSOLE_TOKEN.get()
    if not token:
        print(
            "Set SHOPBOT_STAFF_CONSOLE_TOKEN (the same value the Rasa server has).", file=sys.stderr
        )
        return 2
    return repl(
        lambda text: ask(args.url, token, args.sender, text),
        "shopbot staff console — ask about stock, forecasts, reordering, segments, sales. "
        "Ctrl-D quits.",
        args.url,
    )


if __name__ == "__main__":
    sys.exit(main())
