"""``shopbot privacy``: retention of conversations and transcripts, and a customer's data on
request (export, erasure), each reporting what it found or changed."""

from __future__ import annotations

import json
import sys

from bot.cli.main import add_json_flag, emit
from bot.server.conversations import Conversations
from shop import privacy, settings
from shop.customers import find_customer
from shop.errors import ShopbotError
from shop.store import get_engine, session_scope


def register(sub, _evaluate_sub) -> None:
    p = sub.add_parser(
        "privacy",
        help="delete old conversations; export or erase a customer's data",
        description="Retention (purge) and data requests (export, erase). Conversations are "
        "read from the tracker store (SHOPBOT_TRACKER_STORE_URL, default var/rasa_tracker.db).",
    )
    psub = p.add_subparsers(dest="privacy_command", metavar="ACTION")
    psub.required = True
    purge = psub.add_parser(
        "purge",
        help="delete conversations and ticket transcripts older than the retention period",
    )
    purge.add_argument(
        "--days",
        type=int,
        default=None,
        help="keep this many days (default: SHOPBOT_CONVERSATION_RETENTION_DAYS, 90)",
    )
    add_json_flag(purge)
    purge.set_defaults(handler=_purge)
    export = psub.add_parser(
        "export", help="print everything kept about a customer, as JSON (orders, tickets, chats)"
    )
    export.add_argument("customer", help="customer id, e-mail or imported id")
    export.set_defaults(handler=_export)
    erase = psub.add_parser(
        "erase",
        help="anonymise a customer and delete their personal data and conversations",
    )
    erase.add_argument("customer", help="customer id, e-mail or imported id")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_json_flag(erase)
    erase.set_defaults(handler=_erase)


def _purge(args) -> int:
    days = args.days if args.days is not None else settings.CONVERSATION_RETENTION_DAYS.number(1)
    if days < 1:
        raise ShopbotError("--days must be at least 1")
    with session_scope() as session:
        changed = privacy.purge(session, days=days)
    store = Conversations()
    try:
        changed["conversation_events"] = store.purge(days)
        changed["session_tokens"] = store.scrub_tokens()
    finally:
        store.close()
    emit(
        args,
        {"days": days, **changed},
        f"kept the last {days} days: deleted {changed['conversation_events']:,} conversation "
        f"event(s), removed {changed['ticket_transcripts']:,} ticket transcript(s), "
        f"{changed['handoff_messages']:,} hand-off message(s), "
        f"{changed['lookup_failures']:,} old failed look-up(s); removed "
        f"{changed['session_tokens']:,} session token(s) still stored",
    )
    return 0


def _export(args) -> int:
    customer = find_customer(get_engine(), args.customer)
    store = Conversations()
    try:
        with session_scope() as session:
            data = privacy.export_customer(session, customer["id"])
            conversations = store.of_customer(customer["id"]) | privacy.ticket_conversations(
                session, customer["id"]
            )
        data["conversations"] = store.export(conversations)
    finally:
        store.close()
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    return 0


def _erase(args) -> int:
    customer = find_customer(get_engine(), args.customer)
    who = (
        f"customer {customer['id']} ({customer.get('name') or customer.get('email') or 'no name'})"
    )
    if not args.yes:
        if not sys.stdin.isatty():
            raise ShopbotError(f"erasing {who} cannot be undone: add --yes to confirm")
        answer = input(f"Erase {who}? This cannot be undone. Type yes: ")
        if answer.strip().lower() != "yes":
            print("nothing changed")
            return 1
    store = Conversations()
    try:
        # Conversations first: the tickets that name them are erased after.
        with session_scope() as session:
            conversations = store.of_customer(customer["id"]) | privacy.ticket_conversations(
                session, customer["id"]
            )
        deleted = store.delete(conversations)
        with session_scope() as session:
            changed = privacy.erase_customer(session, customer["id"])
        changed["conversation_events"] = deleted
        changed["conversations"] = len(conversations)
    finally:
        store.close()
    emit(
        args,
        {"customer_id": customer["id"], **changed},
        f"erased {who}: "
        + ", ".join(f"{name.replace('_', ' ')} {count:,}" for name, count in changed.items()),
    )
    return 0
