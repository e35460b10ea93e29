"""Terminal client for the staff console channel: type questions, read the reports.

SHOPBOT_STAFF_CONSOLE_TOKEN=... scripts/staff-console [--url http://127.0.0.1:5005]
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import urllib.error
import urllib.request


def ask(url: str, token: str, sender: str, text: str, timeout: float = 60) -> list[dict]:
    """The bot's replies to ``text`` on the staff console channel."""
    req = urllib.request.Request(
        f"{url.rstrip('/')}/webhooks/staff/webhook",
        data=json.dumps({"sender": sender, "message": text}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="shopbot staff console")
    parser.add_argument(
        "--url", default=os.environ.get("SHOPBOT_RASA_URL", "http://127.0.0.1:5005")
    )
    parser.add_argument("--sender", default=getpass.getuser())
    args = parser.parse_args(argv)
    token = os.environ.get("SHOPBOT_STAFF_CONSOLE_TOKEN")
    if not token:
        print(
            "Set SHOPBOT_STAFF_CONSOLE_TOKEN (the same value the Rasa server has).", file=sys.stderr
        )
        return 2
    print(
        "shopbot staff console — ask about stock, forecasts, reordering, segments, sales. "
        "Ctrl-D quits."
    )
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if not text:
            continue
        try:
            replies = ask(args.url, token, args.sender, text)
        except urllib.error.HTTPError as err:
            print(f"shopbot: the server said {err.code}: {err.read().decode(errors='replace')}")
            continue
        except (urllib.error.URLError, OSError) as err:
            print(f"shopbot: can't reach {args.url} ({err}); is `make run` running?")
            continue
        for reply in replies:
            print(reply.get("text") or json.dumps(reply.get("custom"), indent=2))
            for button in reply.get("buttons") or []:
                print(f"  [{button.get('title')}]")


if __name__ == "__main__":
    sys.exit(main())
