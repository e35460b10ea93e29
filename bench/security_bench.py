"""What the guest look-up limits (issue 15) add to a customer's turn, measured in one run.

On a demo shop (300 customers, 100 products, 200 days, seed 7) in SQLite and in PostgreSQL (when
``--pg URL`` is given), a guest's order look-up (``shop.access.load_order``: the failure counts by
e-mail, order and client address, then the order) is timed against the same look-up without the
counting (the order query alone, as before the change), over 500 calls each, interleaved, with
an empty failure table and with 20,000 recorded failures (a brute-force attempt in progress).
A failed guess (which records a failure in its own transaction) and a signed-in customer's
look-up (never counted) are timed too, as are the signed-token and action-server-secret checks.

    .venv/bin/python -m bench.security_bench [--pg postgresql://localhost/postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import os
import platform
import secrets
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert, select, text

from bot.identity import issue_token, verify_token
from shop.access import Requester, load_order, order_with_lines
from shop.demo import build_demo
from shop.errors import OrderAccessDenied, TooManyAttempts
from shop.store import make_engine, session_scope, upgrade
from shop.store.models import LookupFailure, Order, utcnow

CALLS = 500
ATTACK_ROWS = 20_000
SECRET = "bench-secret-" + "x" * 32


def _ms(values, q) -> float:
    return float(np.percentile(values, q)) * 1000


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _attack(engine, rows: int) -> None:
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(LookupFailure),
            [
                {
                    # Within the day the failures count for, before the minute of the ceiling.
                    "at": now - dt.timedelta(minutes=2, seconds=i % 80_000),
                    "email_key": hashlib.sha256(f"e{i}".encode()).hexdigest()[:32],
                    "order_key": hashlib.sha256(f"o{i}".encode()).hexdigest()[:32],
                    "client_key": hashlib.sha256(f"c{i % 50}".encode()).hexdigest()[:32],
                }
                for i in range(rows)
            ],
        )


def _measure(label: str, engine) -> list[str]:
    with session_scope(engine) as s:
        order = s.execute(select(Order).where(Order.customer_id.isnot(None)).limit(1)).scalar_one()
        number, email, owner = order.order_number, order.email, order.customer_id
    guest = Requester(email=email, client=f"10.0.0.{secrets.randbelow(200)}")
    signed_in = Requester(customer_id=owner)
    rows = []
    for state in ("no failures", f"{ATTACK_ROWS:,} failures recorded"):
        if state != "no failures":
            _attack(engine, ATTACK_ROWS)
        counted, plain, member = [], [], []
        for _ in range(CALLS):
            with session_scope(engine) as s:
                counted.append(_timed(lambda: load_order(s, number, guest)))
            with session_scope(engine) as s:
                plain.append(_timed(lambda: order_with_lines(s, number)))
            with session_scope(engine) as s:
                member.append(_timed(lambda: load_order(s, number, signed_in)))
        ratio = np.median(counted) / np.median(plain)
        rows.append(
            f"| {label} | {state} | {_ms(plain, 50):.2f} / {_ms(plain, 95):.2f} | "
            f"{_ms(counted, 50):.2f} / {_ms(counted, 95):.2f} | {ratio:.2f}× | "
            f"{_ms(member, 50):.2f} |"
        )
    # Last: failed guesses fill the shop-wide ceiling for a minute.
    wrong = []
    for i in range(25):
        stranger = Requester(email=f"guess{uuid.uuid4().hex}@example.com", client=f"g{i}")
        with session_scope(engine) as s:

            def guess(s=s, stranger=stranger):
                try:
                    load_order(s, number, stranger)
                except (OrderAccessDenied, TooManyAttempts):
                    pass

            wrong.append(_timed(guess))
    rows.append(f"| {label} | a failed guess (recorded in its own transaction) | | "
                f"{_ms(wrong, 50):.2f} / {_ms(wrong, 95):.2f} | | |")  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="a PostgreSQL server URL; a throwaway database is made")
    args = parser.parse_args()
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; load average before "
        f"{os.getloadavg()[0]:.1f}. {CALLS} calls each, interleaved.\n"
    )
    print(
        "| store | failure table | order query alone p50 / p95 ms | guest look-up with the "
        "limits p50 / p95 ms | ratio (p50) | signed-in p50 ms |"
    )
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        engines = [("SQLite", make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}"))]
        name = None
        if args.pg:
            name = "shopbot_security_bench_" + uuid.uuid4().hex[:8]
            admin = create_engine(args.pg, isolation_level="AUTOCOMMIT", future=True)
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            engines.append(("PostgreSQL", make_engine(args.pg.rsplit("/", 1)[0] + "/" + name)))
        try:
            for label, engine in engines:
                upgrade(engine)
                build_demo(engine, seed=7, customers=300, products=100, days=200)
                for row in _measure(label, engine):
                    print(row, flush=True)
                engine.dispose()
        finally:
            if name:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    token = issue_token(1, secret=SECRET)
    checks = [_timed(lambda: verify_token(token, secret=SECRET)) for _ in range(2000)]
    given, expected = "a" * 64, "b" * 64
    secret_checks = [_timed(lambda: hmac.compare_digest(given, expected)) for _ in range(2000)]
    print(
        f"\nSigned session token check p50 {_ms(checks, 50) * 1000:.0f} µs; action-server secret "
        f"check p50 {_ms(secret_checks, 50) * 1000:.1f} µs. Load average after "
        f"{os.getloadavg()[0]:.1f}."
    )


if __name__ == "__main__":
    main()
