"""The Rasa server as shopbot starts it: ``python -m bot.server.rasa_server run …`` is
``rasa run …`` with shopbot's changes to Rasa's code (:mod:`bot.rasa_patches`) installed first,
in this one explicit place, before Rasa loads anything."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Installs the Rasa patches, then runs Rasa's command line with ``argv``."""
    from bot.rasa_patches import install

    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
