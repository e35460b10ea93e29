"""``shopbot run``: start the whole assistant (action server, Rasa server)."""

from __future__ import annotations


def register(sub, _evaluate_sub) -> None:
    p = sub.add_parser(
        "run",
        help="start the action server and the Rasa server (Ctrl-C stops them)",
        description="Train the Rasa model if its data changed, start the action server and the "
        "Rasa server with every channel, print where to chat, and stop everything on Ctrl-C. "
        "Use `make run` to also build the demo shop and train the analytics first.",
    )
    p.add_argument(
        "--demo-login",
        action="store_true",
        help="switch the storefront page's demo sign-in on if the database is the demo shop "
        "(unless SHOPBOT_DEMO_LOGIN says otherwise); it signs in only the demo shop's own "
        "customers. `make run` does this.",
    )
    p.add_argument(
        "--only",
        choices=("rasa", "actions"),
        help="start only the Rasa server or only the action server (several machines: "
        "deploy/README.md)",
    )
    p.set_defaults(handler=_run)


def _run(args) -> int:
    from bot.server.runner import run

    return run(demo_login=args.demo_login, only=args.only)
