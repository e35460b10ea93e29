"""Terminal chat with the running assistant over the REST channel, as a guest customer.

scripts/chat [--url http://127.0.0.1:5005]   (buttons are numbered: type the number to press one)
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable

from shop import settings

DEFAULT_URL = settings.RASA_URL.get()


def post(url: str, body: dict, headers: dict[str, str] | None = None, timeout: float = 60):
    """The decoded JSON answer of a POST of ``body`` to ``url``."""
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def show(replies: list[dict]) -> list[dict]:
    """Prints the bot's replies and returns their buttons in the order they were numbered."""
    buttons: list[dict] = []
    for reply in replies:
        custom = reply.get("custom")
        if reply.get("text"):
            print(f"bot> {reply['text']}")
        elif custom and custom.get("type") == "product_cards":
            for p in custom.get("products") or []:
                print(f"bot>   {p.get('name')} ({p.get('sku')}) £{p.get('price')}")
        elif custom:
            print("bot> " + json.dumps(custom, indent=2))
        for button in reply.get("buttons") or []:
            buttons.append(button)
            print(f"       [{len(buttons)}] {button.get('title')}")
    return buttons


def repl(send: Callable[[str], list[dict]], intro: str, url: str) -> int:
    """Reads lines, sends them, prints the replies; a number presses that button. Ctrl-D quits."""
    print(intro)
    buttons: list[dict] = []
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if not text:
            continue
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = str(buttons[int(text) - 1].get("payload") or text)
        try:
            buttons = show(send(text))
        except urllib.error.HTTPError as err:
            print(f"shopbot: the server said {err.code}: {err.read().decode(errors='replace')}")
        except (urllib.error.URLError, OSError) as err:
            print(f"shopbot: can't reach {url} ({err}); is `make run` running?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chat with shopbot as a guest customer")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"Rasa server (default {DEFAULT_URL})")
    parser.add_argument("--sender", default=f"terminal-{uuid.uuid4().hex[:8]}")
    args = parser.parse_args(argv)
    endpoint = f"{args.url.rstrip('/')}/webhooks/rest/webhook"

    def send(text: str) -> list[dict]:
        return post(endpoint, {"sender": args.sender, "message": text})

    return repl(
        send, "shopbot customer chat — ask about orders, returns, products. Ctrl-D quits.", args.url
    )


if __name__ == "__main__":
    sys.exit(main())
