"""Settings read from the environment, in one place."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _path(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value) if value else default


def var_dir() -> Path:
    """Folder for local state (the default SQLite database, logs)."""
    return _path("SHOPBOT_VAR_DIR", PROJECT_ROOT / "var")


def models_dir() -> Path:
    """Folder where trained analytics artifacts are kept (versioned sub-folders)."""
    return _path("SHOPBOT_MODELS_DIR", PROJECT_ROOT / "models" / "analytics")


def database_url() -> str:
    """The database to use: ``DATABASE_URL`` or an SQLite file under ``var/``."""
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs say postgres://, which SQLAlchemy 1.4 no longer accepts.
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        return url
    return f"sqlite:///{var_dir() / 'shop.db'}"


def env_file() -> Path | None:
    """The env file read at start: ``SHOPBOT_ENV_FILE``, else ``.env`` at the project root;
    ``SHOPBOT_ENV_FILE=off`` reads none (the tests do that)."""
    value = os.environ.get("SHOPBOT_ENV_FILE", "")
    if value.lower() in {"off", "none", "0", "false"}:
        return None
    return Path(value) if value else PROJECT_ROOT / ".env"


def load_env_file(path: Path | None = None) -> list[str]:
    """Names of the variables set from the env file into ``os.environ``.

    ``KEY=VALUE`` lines (optionally ``export KEY=VALUE``, values optionally quoted); ``#`` starts
    a comment line. Variables already in the environment win, and an empty value means "unset",
    so a copied .env.example with blanks changes nothing.
    """
    path = path or env_file()
    if path is None or not path.is_file():
        return []
    loaded = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if not key.isidentifier() or not value or key in os.environ:
            continue
        os.environ[key] = value
        loaded.append(key)
    return loaded
