"""The shop's database: tables, engine and sessions, migrations."""

from shop.store.db import get_engine, make_engine, session_scope
from shop.store.migrate import upgrade

__all__ = ["get_engine", "make_engine", "session_scope", "upgrade"]
