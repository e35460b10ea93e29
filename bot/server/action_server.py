"""The action server as shopbot starts it: ``python -m bot.server.action_server --port 5055``.

rasa-sdk's server with shopbot's actions, and what rasa-sdk's own command lacks: it listens on
127.0.0.1 unless told otherwise, sends no CORS headers (no web page may call it), and loads the
trained analytics and the product matcher at start (in the background, so ``/health`` answers at
once) instead of on the first customer's message.
"""

from __future__ import annotations

import argparse
import logging
import threading

ACTIONS_PACKAGE = "actions"


def build_app():
    """rasa-sdk's Sanic app serving shopbot's actions, warming them up when it starts."""
    from rasa_sdk.endpoint import create_app

    from actions.products import warm_up

    app = create_app(ACTIONS_PACKAGE, cors_origins=None)

    @app.listener("after_server_start")
    async def _warm_up(_app, _loop) -> None:
        threading.Thread(target=warm_up, name="shopbot-warm-up", daemon=True).start()

    return app


def main(argv: list[str] | None = None) -> None:
    from rasa_sdk import utils

    parser = argparse.ArgumentParser(description="shopbot's action server")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    build_app().run(args.host, args.port, workers=utils.number_of_sanic_workers(), access_log=False)


if __name__ == "__main__":
    main()
