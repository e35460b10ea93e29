"""The Rasa server's endpoints file as ``shopbot run`` writes it: endpoints.yml, with the action
server's port and the tracker and lock stores taken from the environment.

Settings (all optional):

- ``SHOPBOT_TRACKER_STORE_URL`` — where conversations are kept: ``postgresql://user:pass@host/db``
  (SQL tracker store), ``sqlite:///path`` or ``redis://[:pass@]host:port/db`` (fast, but Redis must
  persist to disk or conversations are lost when it restarts). Unset: endpoints.yml's store (an
  SQLite file under var/).
- ``SHOPBOT_LOCK_STORE_URL`` — ``redis://[:pass@]host:port/db``: the lock store that several Rasa
  servers or workers share. Unset: in memory (one process only).
- ``SHOPBOT_RASA_WORKERS`` — Sanic workers of the Rasa server (more than one needs the Redis lock
  store, as Rasa itself requires).

Passwords never reach the file: it refers to them as ``${RASA_..._PASSWORD}``, which Rasa
expands from the environment the runner gives it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import yaml
from sqlalchemy.engine import make_url

from shop import settings

# Rasa's SQL tracker store, surviving a database restart and able to forget a failed turn.
SQL_STORE = "bot.server.tracker_store.ShopSQLTrackerStore"
# Rasa's Redis tracker store, storing no session tokens.
REDIS_STORE = "bot.server.tracker_store.ShopRedisTrackerStore"
# The header the Rasa server sends the action server its shared secret in.
ACTION_SECRET_HEADER = "X-Shopbot-Action-Secret"
# Rasa's Redis lock store, with atomic ticket changes (bot/lock_store.py).
REDIS_LOCK_STORE = "bot.server.lock_store.ShopRedisLockStore"
# Environment variables of the Rasa server's process only: Rasa expands them in the file.
TRACKER_PASSWORD_VAR = "RASA_TRACKER_STORE_PASSWORD"
LOCK_PASSWORD_VAR = "RASA_LOCK_STORE_PASSWORD"


class EndpointConfigError(ValueError):
    """A store URL or worker count that cannot be used; the message says what to write."""


def tracker_store_config(url: str, child_env: dict[str, str]) -> dict:
    """Rasa's ``tracker_store`` block for ``url``; a password goes into ``child_env``."""
    if url.startswith("redis://") or url.startswith("rediss://"):
        block = _redis_block(url, child_env, TRACKER_PASSWORD_VAR, default_db=0)
        days = settings.CONVERSATION_RETENTION_DAYS.number(1)
        return {"type": REDIS_STORE, **block, "record_exp": days * 86400}
    try:
        parsed = make_url(url)
    except Exception as err:  # sqlalchemy raises ArgumentError with a terse message
        raise EndpointConfigError(
            f"SHOPBOT_TRACKER_STORE_URL={url!r} is not a database URL "
            "(e.g. postgresql://user:pass@host:5432/rasa, sqlite:///var/tracker.db, "
            "redis://127.0.0.1:6379/0)"
        ) from err
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return {"type": SQL_STORE, "dialect": "sqlite", "db": parsed.database or "rasa.db"}
    if backend not in {"postgresql", "postgres"}:
        raise EndpointConfigError(
            f"SHOPBOT_TRACKER_STORE_URL: {backend!r} is not supported; use postgresql://, "
            "sqlite:/// or redis://"
        )
    block: dict = {
        "type": SQL_STORE,
        "dialect": "postgresql",
        "url": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "db": parsed.database or "rasa",
        # Rasa creates the tracker database through this one when it does not exist yet.
        "login_db": "postgres",
    }
    if parsed.username:
        block["username"] = parsed.username
    if parsed.password:
        child_env[TRACKER_PASSWORD_VAR] = str(parsed.password)
        block["password"] = "${" + TRACKER_PASSWORD_VAR + "}"
    return block


def lock_store_config(url: str, child_env: dict[str, str]) -> dict:
    """Rasa's ``lock_store`` block for a ``redis://`` URL; a password goes into ``child_env``."""
    if not (url.startswith("redis://") or url.startswith("rediss://")):
        raise EndpointConfigError(
            f"SHOPBOT_LOCK_STORE_URL={url!r}: only Redis is supported (redis://host:6379/1)"
        )
    block = _redis_block(url, child_env, LOCK_PASSWORD_VAR, default_db=1)
    return {"type": REDIS_LOCK_STORE, **block}


def _redis_block(url: str, child_env: dict[str, str], password_var: str, default_db: int) -> dict:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        port = parts.port or 6379
        db = int(parts.path.lstrip("/") or default_db)
    except ValueError as err:
        raise EndpointConfigError(f"{url!r} is not a Redis URL (redis://host:6379/0)") from err
    block: dict = {"url": parts.hostname or "127.0.0.1", "port": port, "db": db}
    if parts.scheme == "rediss":
        block["use_ssl"] = True
    if parts.password:
        child_env[password_var] = unquote(parts.password)
        block["password"] = "${" + password_var + "}"
    return block


def rasa_workers(env: dict[str, str], lock_store: dict) -> int:
    """The number of Sanic workers asked for, checked against the lock store."""
    raw = settings.RASA_WORKERS.get(env) or "1"
    try:
        workers = int(raw)
    except ValueError as err:
        raise EndpointConfigError(f"SHOPBOT_RASA_WORKERS={raw!r} is not a number") from err
    if workers < 1:
        raise EndpointConfigError("SHOPBOT_RASA_WORKERS must be at least 1")
    if workers > 1 and lock_store.get("type") not in ("redis", REDIS_LOCK_STORE):
        raise EndpointConfigError(
            "SHOPBOT_RASA_WORKERS > 1 needs a shared lock store: set "
            "SHOPBOT_LOCK_STORE_URL=redis://127.0.0.1:6379/1"
        )
    return workers


def write_endpoints(
    env: dict[str, str],
    child_env: dict[str, str],
    out_path: Path,
    *,
    action_port: int,
    base: Path,
) -> Path:
    """Writes the effective endpoints file to ``out_path`` and returns it.

    Starts from ``base`` (the shop's endpoints.yml), points the action endpoint at
    ``SHOPBOT_ACTION_URL`` or ``action_port`` on 127.0.0.1, and replaces the tracker and lock stores when their URLs are set.
    Sets ``SANIC_WORKERS`` in ``child_env`` from ``SHOPBOT_RASA_WORKERS``.
    """
    config = yaml.safe_load(base.read_text()) or {}
    # Rasa expands the unquoted ${VAR} from its environment: the secret never reaches the file.
    config["action_endpoint"] = {
        "url": settings.ACTION_URL.get(env) or f"http://127.0.0.1:{action_port}/webhook",
        "headers": {ACTION_SECRET_HEADER: "${" + settings.ACTION_SECRET.name + "}"},
    }
    tracker_url = settings.TRACKER_STORE_URL.get(env)
    if tracker_url:
        config["tracker_store"] = tracker_store_config(tracker_url, child_env)
    lock_url = settings.LOCK_STORE_URL.get(env)
    if lock_url:
        config["lock_store"] = lock_store_config(lock_url, child_env)
    child_env["SANIC_WORKERS"] = str(rasa_workers(env, config.get("lock_store") or {}))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(
        "# Written by `shopbot run` from endpoints.yml and the environment; edit those instead.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    return out_path


def ensure_tracker_database(env: dict[str, str]) -> None:
    """Creates the PostgreSQL tracker database named by ``SHOPBOT_TRACKER_STORE_URL`` if it is
    missing (Rasa would try too, but several workers race and log errors doing it)."""
    url = settings.TRACKER_STORE_URL.get(env)
    if not url or url.startswith(("redis://", "rediss://")):
        return
    parsed = make_url(url)
    if parsed.get_backend_name() not in {"postgresql", "postgres"} or not parsed.database:
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(
        parsed.set(drivername="postgresql", database="postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 10},
    )
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
            ).scalar()
            if not exists:
                quoted = '"' + parsed.database.replace('"', '""') + '"'
                conn.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        admin.dispose()


def describe(config_path: Path) -> str:
    """One line saying which tracker and lock stores a written endpoints file uses."""
    config = yaml.safe_load(config_path.read_text()) or {}
    tracker = config.get("tracker_store") or {"type": "in_memory"}
    lock = config.get("lock_store") or {"type": "in_memory"}
    where = tracker.get("db") if tracker.get("dialect") else tracker.get("url", "")
    kind = (
        "redis"
        if tracker.get("type") == REDIS_STORE
        else tracker.get("dialect", tracker.get("type"))
    )
    lock_kind = "redis" if lock.get("type") == REDIS_LOCK_STORE else lock.get("type")
    return f"tracker store {kind} ({where}), lock store {lock_kind}"
