"""A trivial action server: answers every ``/webhook`` call at once, so a benchmark can show what
the same Rasa setup costs when shopbot's actions do no work.

Form validation (``validate_*``) returns no events, like a validator that accepts what Rasa
extracted; every other action says one short text (so the customer is never left without a reply
and the turn is not counted as an error). It parses the request body like a real action server
must (Rasa sends the whole tracker), and nothing else.

    python -m bench.loadkit.stub_actions --port 5055
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web

STUB_TEXT = "stub reply"


async def webhook(request: web.Request) -> web.Response:
    """The action's result: no events, and one text unless it is a form validation."""
    body = json.loads(await request.read())
    name = body.get("next_action") or ""
    responses = [] if name.startswith("validate_") else [{"text": STUB_TEXT}]
    return web.json_response({"events": [], "responses": responses})


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application(client_max_size=64 * 1024 * 1024)  # long trackers are big
    app.add_routes([web.post("/webhook", webhook), web.get("/health", health)])
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
