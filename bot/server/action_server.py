"""The action server as shopbot starts it: ``python -m bot.server.action_server --port 5055``.

rasa-sdk's server with shopbot's actions, and what rasa-sdk's own command lacks:

- every request but ``/health`` must carry the shared secret ``SHOPBOT_ACTION_SECRET`` in the
  ``X-Shopbot-Action-Secret`` header (the Rasa server sends it: ``bot.server.endpoints``),
  compared in constant time before anything runs; without it the answer is 401. Without a secret
  set it listens on 127.0.0.1 only and refuses any other address;
- it sends no CORS headers (no web page may call it) and refuses bodies over
  ``MAX_BODY_BYTES`` before reading them;
- it loads the trained analytics and the product matcher at start (in the background, so
  ``/health`` answers at once) instead of on the first customer's message.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import logging
import sys
import threading

from shop import settings

ACTIONS_PACKAGE = "actions"
# A call carries the recent events of one conversation and, at times, the domain: well under this.
MAX_BODY_BYTES = 8 * 1024 * 1024
SECRET_HEADER = "X-Shopbot-Action-Secret"

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_app(secret: str | None):
    """rasa-sdk's Sanic app serving shopbot's actions behind ``secret`` (None: no check, for
    a server that listens on 127.0.0.1 only), warming them up when it starts."""
    from rasa_sdk.endpoint import create_app
    from sanic import response
    from sanic.exceptions import SanicException

    from actions.products import warm_up

    app = create_app(ACTIONS_PACKAGE, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    expected = secret.encode() if secret else None

    @app.on_request
    async def _check_secret(request):
        if expected is None or request.path == "/health":
            return None
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            return response.json({"error": "missing or wrong action server secret"}, status=401)
        return None

    # rasa-sdk answers every exception with a 500, a request too large for REQUEST_MAX_SIZE too:
    # HTTP errors keep their own status (413 for a body over the limit).
    @app.exception(SanicException)
    async def _http_error(_request, exception: SanicException):
        return response.json({"error": str(exception)}, status=exception.status_code)

    @app.listener("after_server_start")
    async def _warm_up(_app, _loop) -> None:
        threading.Thread(target=warm_up, name="shopbot-warm-up", daemon=True).start()

    return app


def main(argv: list[str] | None = None) -> int:
    from rasa_sdk import utils

    parser = argparse.ArgumentParser(description="shopbot's action server")
    parser.add_argument("--host", default=settings.ACTION_HOST.get(), help="address to listen on")
    parser.add_argument("--port", type=int, default=settings.ACTION_PORT.number(1))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    try:
        settings.check_secrets()
        secret = settings.ACTION_SECRET.secret_value()
    except settings.SettingError as err:
        print(f"action server: {err}", file=sys.stderr)
        return 2
    if not secret and not is_loopback(args.host):
        print(
            f"action server: refusing to listen on {args.host} without "
            f"{settings.ACTION_SECRET.name}: anyone who reaches it could run the actions "
            "(set the secret, or listen on 127.0.0.1)",
            file=sys.stderr,
        )
        return 2
    if not secret:
        log.warning("%s is not set: listening on %s only", settings.ACTION_SECRET.name, args.host)
    build_app(secret).run(
        args.host, args.port, workers=utils.number_of_sanic_workers(), access_log=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
