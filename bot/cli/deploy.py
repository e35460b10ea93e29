"""``shopbot deploy nginx``: the nginx configuration for several Rasa servers (deploy/README.md)."""

from __future__ import annotations

import sys


def register(sub, _evaluate_sub) -> None:
    p = sub.add_parser(
        "deploy",
        help="configuration for running shopbot on several servers",
        description="Prints configuration for a deployment of several Rasa servers behind a load "
        "balancer (deploy/README.md explains the whole set-up).",
    )
    what = p.add_subparsers(dest="what", required=True)
    nginx = what.add_parser("nginx", help="an nginx.conf balancing the Rasa servers")
    nginx.add_argument(
        "--rasa",
        required=True,
        help="the Rasa servers, comma-separated host:port (e.g. 10.0.0.2:5005,10.0.0.3:5005)",
    )
    nginx.add_argument("--listen", default="80", help="nginx's listen address (default 80)")
    nginx.add_argument("--user", default="www-data", help="nginx workers' user (www-data)")
    nginx.set_defaults(handler=_nginx)


def _nginx(args) -> int:
    from bot.server.balancer import nginx_config

    upstreams = [u.strip() for u in args.rasa.split(",") if u.strip()]
    bad = [u for u in upstreams if ":" not in u or not u.rsplit(":", 1)[1].isdigit()]
    if not upstreams or bad:
        print(f"shopbot: --rasa needs host:port items, got {args.rasa!r}", file=sys.stderr)
        return 2
    sys.stdout.write(nginx_config(upstreams, args.listen, user=args.user))
    return 0
