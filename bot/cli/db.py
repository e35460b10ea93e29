"""``shopbot db``: schema migrations."""

from __future__ import annotations

from bot.cli.main import add_json_flag, emit
from shop.store import migrate


def register(sub, _evaluate_sub) -> None:
    p = sub.add_parser("db", help="create or migrate the database schema")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dbsub.required = True
    up = dbsub.add_parser("upgrade", help="apply migrations (default: to the newest)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=_upgrade)
    down = dbsub.add_parser("downgrade", help="revert migrations (default: all)")
    down.add_argument("revision", nargs="?", default="base")
    down.set_defaults(handler=_downgrade)
    cur = dbsub.add_parser("current", help="show the schema revision of the database")
    add_json_flag(cur)
    cur.set_defaults(handler=_current)


def _upgrade(args) -> int:
    migrate.upgrade(revision=args.revision)
    print(f"database at revision {migrate.current_revision()}")
    return 0


def _downgrade(args) -> int:
    migrate.downgrade(revision=args.revision)
    print(f"database at revision {migrate.current_revision() or 'base (empty)'}")
    return 0


def _current(args) -> int:
    cur, head = migrate.current_revision(), migrate.head_revision()
    emit(
        args,
        {"current": cur, "head": head, "up_to_date": cur == head},
        f"current: {cur or 'base (empty)'}  head: {head}",
    )
    return 0
