"""The Rasa server as shopbot starts it: ``python -m bot.server.rasa_server run …`` is
``rasa run …`` with what shopbot adds, in this one explicit place, before Rasa loads anything:

- shopbot's changes to Rasa's code (:mod:`bot.rasa_patches`) are installed;
- the HTTP API token comes from ``RASA_API_TOKEN`` in the environment, never from the command
  line (which every user of the machine can read in ``ps``);
- request bodies over ``MAX_BODY_BYTES`` are refused before they are read (Sanic's default
  would buffer 100 MB; the channels' own limit for a message body is 64 KB);
- secrets shorter than 32 bytes stop the server with a clear message.
"""

from __future__ import annotations

import os
import sys

from shop import settings

# Larger than any channel accepts (REST 64 KB), so their own 413 answers stay the polite ones.
MAX_BODY_BYTES = 256 * 1024


def rasa_argv(argv: list[str]) -> list[str]:
    """Rasa's command line for ``argv``, with ``--auth-token`` from ``RASA_API_TOKEN``."""
    token = settings.RASA_API_TOKEN.get()
    if token and "--auth-token" not in argv and argv[:1] == ["run"]:
        argv = [*argv, "--auth-token", token]
    return ["rasa", *argv]


def main(argv: list[str] | None = None) -> None:
    """Installs the Rasa patches, then runs Rasa's command line with ``argv``."""
    try:
        settings.check_secrets()
    except settings.SettingError as err:
        print(f"Rasa server: {err}", file=sys.stderr)
        sys.exit(2)
    from bot.rasa_patches import install

    install()
    os.environ.setdefault("SANIC_REQUEST_MAX_SIZE", str(MAX_BODY_BYTES))
    from rasa.__main__ import main as rasa_main

    sys.argv = rasa_argv(sys.argv[1:] if argv is None else argv)
    rasa_main()


if __name__ == "__main__":
    main()
