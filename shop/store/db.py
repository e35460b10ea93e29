"""Engine and session handling: one engine per URL, one session per unit of work."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine import create_engine as _create_engine
from sqlalchemy.orm import Session, sessionmaker

from shop import settings

# Money columns are Numeric(…, 2); SQLite stores them as floats, which is exact enough at cents.
warnings.filterwarnings("ignore", message=r"Dialect sqlite\+pysqlite does \*not\* support Decimal")

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


class StoreError(RuntimeError):
    """The database cannot be reached or used; the message says what to do."""


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """A new engine for ``url`` (default: ``settings.database_url()``)."""
    url = url or settings.database_url()
    parsed = make_url(url)
    kwargs: dict = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 15, "check_same_thread": False}
    else:
        # Survive a database restart: test connections before use, recycle old ones.
        kwargs.update(pool_pre_ping=True, pool_recycle=1800, pool_size=5, max_overflow=10)
        kwargs["connect_args"] = {"connect_timeout": 5}
    engine = _create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for ``url`` (created once per process)."""
    url = url or settings.database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, forks)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success, rolls back on any error, and always closes."""
    factory = sessionmaker(bind=engine or get_engine(), future=True, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def begin_write(session: Session) -> None:
    """Make sure a SAVEPOINT will be nested in a real write transaction (pysqlite quirks).

    pysqlite only emits BEGIN before a data-changing statement. A SAVEPOINT issued when only
    SELECTs ran so far starts its own transaction, and releasing it then commits at once, so a
    return would survive the caller's rollback. Starting the transaction explicitly avoids that.
    It is BEGIN IMMEDIATE, taking the write lock now (waiting up to the busy timeout): in WAL
    mode a deferred transaction that reads (the RMA number check) and then writes fails at once
    with "database is locked" when another writer committed in between, which is exactly what
    concurrent requests for the same return do.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    dbapi_conn = conn.connection.dbapi_connection
    if not dbapi_conn.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
