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
