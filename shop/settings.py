"""Every setting shopbot reads from the environment, in one place, each with what it means.

The README's configuration table lists them all (a test checks it), and no other module reads
these variables itself (a test checks that too). Values are read when asked for, so a changed
environment (or a test's ``monkeypatch.setenv``) takes effect at once. A ``.env`` file at the
project root (see :func:`load_env_file`) fills in what the real environment leaves unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_FALSE = {"false", "0", "no", "off"}
_TRUE = {"true", "1", "yes", "on"}


class SettingError(ValueError):
    """A variable is set to something unusable; the message names it and says what fits."""


# Secrets shopbot keys HMACs and bearer checks with must be at least this long.
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, its default (None: unset) and what it is for."""

    name: str
    default: str | None
    doc: str
    secret: bool = False

    def get(self, env: Mapping[str, str] | None = None) -> str | None:
        """The value in ``env`` (default: the process environment), surrounding spaces removed;
        the default when unset or empty."""
        value = (os.environ if env is None else env).get(self.name, "").strip()
        return value if value else self.default

    def is_set(self, env: Mapping[str, str] | None = None) -> bool:
        """True when the variable is set to something (not empty) in ``env`` or the process."""
        return bool((os.environ if env is None else env).get(self.name, "").strip())

    def flag(self, env: Mapping[str, str] | None = None) -> bool:
        """The value as a yes/no ("true"/"false", "1"/"0", "yes"/"no", "on"/"off")."""
        value = (self.get(env) or "").lower()
        if value in _TRUE:
            return True
        if value in _FALSE or not value:
            return False
        raise SettingError(f"{self.name}={value!r}: say true or false")

    def number(self, minimum: int | None = None, env: Mapping[str, str] | None = None) -> int:
        """The value as a whole number, at least ``minimum``."""
        raw = self.get(env)
        try:
            value = int(raw or "")
        except ValueError:
            raise SettingError(f"{self.name}={raw!r} is not a whole number") from None
        if minimum is not None and value < minimum:
            raise SettingError(f"{self.name} must be at least {minimum}, got {value}")
        return value

    def secret_value(self, env: Mapping[str, str] | None = None) -> str | None:
        """The value of a secret (None when unset), refused when shorter than MIN_SECRET_BYTES."""
        value = self.get(env)
        if value is not None and len(value.encode()) < MIN_SECRET_BYTES:
            raise SettingError(
                f"{self.name} is {len(value.encode())} bytes long; use at least "
                f"{MIN_SECRET_BYTES} (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`)"
            )
        return value

    def items(self, env: Mapping[str, str] | None = None) -> list[str]:
        """The value as a comma-separated list (blanks dropped)."""
        return [item.strip() for item in (self.get(env) or "").split(",") if item.strip()]


SETTINGS: dict[str, Setting] = {}


def check_secrets(env: Mapping[str, str] | None = None) -> None:
    """SettingError naming the first secret that is set but too short (shopbot's own secrets;
    Slack's are Slack's)."""
    for setting in (SESSION_SECRET, ACTION_SECRET, STAFF_CONSOLE_TOKEN, RASA_API_TOKEN):
        setting.secret_value(env)


def _setting(name: str, default: str | None, doc: str, *, secret: bool = False) -> Setting:
    setting = SETTINGS[name] = Setting(name, default, doc, secret)
    return setting


# ---- the shop's data --------------------------------------------------------------------------
DATABASE_URL = _setting(
    "DATABASE_URL", None, "the shop database (default: an SQLite file var/shop.db)"
)
VAR_DIR = _setting("SHOPBOT_VAR_DIR", None, "folder for local state (default: var/)")
MODELS_DIR = _setting(
    "SHOPBOT_MODELS_DIR", None, "where trained analytics live (default: models/analytics)"
)
ENV_FILE = _setting(
    "SHOPBOT_ENV_FILE", None, "the env file the shopbot commands read (`off`: none; default .env)"
)

# ---- customers ---------------------------------------------------------------------------------
SESSION_SECRET = _setting(
    "SHOPBOT_SESSION_SECRET",
    None,
    "HMAC secret the shop's site signs customer session tokens with (HS256 JWT)",
    secret=True,
)
SESSION_TTL = _setting(
    "SHOPBOT_SESSION_TTL", "28800", "lifetime in seconds of the demo sign-in's session tokens"
)
DEMO_LOGIN = _setting(
    "SHOPBOT_DEMO_LOGIN",
    "false",
    "`true` shows the storefront page's demo sign-in (demo accounts only; `make run` on the demo "
    "shop turns it on)",
)
GUEST_LOOKUP_FAILURES = _setting(
    "SHOPBOT_GUEST_LOOKUP_FAILURES",
    "5",
    "failed guest order look-ups allowed per e-mail, per order number and per client address in "
    "a day before each further one doubles the wait (1, 2, 4… minutes)",
)
GUEST_LOOKUP_CEILING = _setting(
    "SHOPBOT_GUEST_LOOKUP_CEILING",
    "30",
    "failed guest order look-ups per minute for the whole shop; above it every guest look-up "
    "waits until the minute is over",
)
TRUSTED_PROXIES = _setting(
    "SHOPBOT_TRUSTED_PROXIES",
    "",
    "addresses or networks (comma-separated, e.g. 127.0.0.1,10.0.0.0/8) of reverse proxies whose "
    "X-Forwarded-For is believed",
)

# ---- staff -------------------------------------------------------------------------------------
STAFF_SLACK_USERS = _setting(
    "SHOPBOT_STAFF_SLACK_USERS",
    "",
    "Slack user ids allowed to ask staff questions (comma-separated)",
)
STAFF_CONSOLE_TOKEN = _setting(
    "SHOPBOT_STAFF_CONSOLE_TOKEN", None, "bearer token of the staff console channel", secret=True
)
SLACK_BOT_TOKEN = _setting("SLACK_BOT_TOKEN", None, "the Slack app's bot token", secret=True)
SLACK_SIGNING_SECRET = _setting(
    "SLACK_SIGNING_SECRET", None, "the Slack app's signing secret", secret=True
)
SLACK_API_BASE_URL = _setting(
    "SLACK_API_BASE_URL", None, "Slack's Web API address (tests point it at a stand-in)"
)

PROMOTION_DRAFT_HOURS = _setting(
    "SHOPBOT_PROMOTION_DRAFT_HOURS",
    "24",
    "hours a promotion drafted from Slack or the staff console can be confirmed; after that its "
    "Confirm button is refused and staff ask again",
)

# ---- hand-offs to the team (Slack) -------------------------------------------------------------
SLACK_SUPPORT_CHANNEL = _setting(
    "SHOPBOT_SLACK_SUPPORT_CHANNEL",
    None,
    "Slack channel id (C…) where hand-offs are posted as context cards and answered in threads "
    "(unset: hand-offs only create tickets)",
)
SLACK_SUPPORT_GROUP = _setting(
    "SHOPBOT_SLACK_SUPPORT_GROUP",
    None,
    "Slack user group id (S…) the SLA reminder mentions (default: @here)",
)
HANDOFF_SLA_MINUTES = _setting(
    "SHOPBOT_HANDOFF_SLA_MINUTES",
    "10",
    "minutes a hand-off may wait for a colleague before a reminder is posted in its thread",
)
SUPPORT_HOURS = _setting(
    "SHOPBOT_SUPPORT_HOURS",
    "mon-fri 08:00-20:00, sat 09:00-17:00",
    "when the team answers hand-offs (out of hours the customer is told when to expect an answer)",
)
SUPPORT_TIMEZONE = _setting(
    "SHOPBOT_SUPPORT_TIMEZONE", "UTC", "time zone of SHOPBOT_SUPPORT_HOURS (e.g. Europe/Berlin)"
)

# ---- the servers -------------------------------------------------------------------------------
RASA_HOST = _setting("SHOPBOT_RASA_HOST", "127.0.0.1", "address the Rasa server listens on")
RASA_PORT = _setting("SHOPBOT_RASA_PORT", "5005", "port of the Rasa server")
RASA_URL = _setting(
    "SHOPBOT_RASA_URL", "http://127.0.0.1:5005", "where scripts/chat and the console connect"
)
ACTION_HOST = _setting("SHOPBOT_ACTION_HOST", "127.0.0.1", "address the action server listens on")
ACTION_PORT = _setting("SHOPBOT_ACTION_PORT", "5055", "port of the action server")
ACTION_URL = _setting(
    "SHOPBOT_ACTION_URL",
    None,
    "the action server's webhook as the Rasa server reaches it, when it runs on another machine "
    "(default: http://127.0.0.1:$SHOPBOT_ACTION_PORT/webhook)",
)
ACTION_SECRET = _setting(
    "SHOPBOT_ACTION_SECRET",
    None,
    "shared secret the Rasa server sends the action server with every call (random per run; "
    "required to listen on anything but 127.0.0.1)",
    secret=True,
)
RASA_WORKERS = _setting(
    "SHOPBOT_RASA_WORKERS",
    "1",
    "worker processes of the Rasa server (more than 1: Redis lock store)",
)
ACTION_WORKERS = _setting("SHOPBOT_ACTION_WORKERS", "1", "worker processes of the action server")
TRACKER_STORE_URL = _setting(
    "SHOPBOT_TRACKER_STORE_URL",
    None,
    "where conversations are kept: postgresql://…, sqlite:///… or redis://… "
    "(default: SQLite var/rasa_tracker.db)",
)
CONVERSATION_RETENTION_DAYS = _setting(
    "SHOPBOT_CONVERSATION_RETENTION_DAYS",
    "90",
    "days conversations and ticket transcripts are kept (`shopbot privacy purge` deletes older ones)",
)
LOCK_STORE_URL = _setting(
    "SHOPBOT_LOCK_STORE_URL", None, "redis://…: the lock store several Rasa workers share"
)
DASK_SCHEDULER = _setting(
    "SHOPBOT_DASK_SCHEDULER",
    "local",
    "where `shopbot train`/`evaluate` run per-SKU forecasts: `local` (a Dask cluster of this "
    "machine's processes, started for the run), `tcp://host:8786` (an existing Dask cluster) or "
    "`off` (a plain local process pool, no Dask)",
)
RASA_API_TOKEN = _setting(
    "RASA_API_TOKEN", None, "token of Rasa's HTTP API (default: random per run)", secret=True
)
MODEL_CACHE = _setting(
    "SHOPBOT_MODEL_CACHE",
    None,
    "cache of trained Rasa models (`off` disables; default ~/.cache/shopbot/rasa-models)",
)
TELEMETRY = _setting(
    "RASA_TELEMETRY_ENABLED", "false", "Rasa's telemetry; shopbot's commands always set false"
)

# ---- development -------------------------------------------------------------------------------
CHROMIUM = _setting(
    "SHOPBOT_CHROMIUM", None, "the Chromium the browser tests drive (default: /usr/bin/chromium)"
)
SHARED_DATA = _setting(
    "SHOPBOT_SHARED_DATA",
    None,
    "the shared public data sets the real-data tests read (default: ../shared/data beside the repo)",
)


# ---- derived values ----------------------------------------------------------------------------


def _path(setting: Setting, default: Path) -> Path:
    value = setting.get()
    return Path(value) if value else default


def var_dir() -> Path:
    """Folder for local state (the default SQLite database, logs)."""
    return _path(VAR_DIR, PROJECT_ROOT / "var")


def models_dir() -> Path:
    """Folder where trained analytics artifacts are kept (versioned sub-folders)."""
    return _path(MODELS_DIR, PROJECT_ROOT / "models" / "analytics")


def database_url() -> str:
    """The database to use: ``DATABASE_URL`` or an SQLite file under ``var/``."""
    url = DATABASE_URL.get()
    if url:
        # Heroku-style URLs say postgres://, which SQLAlchemy 1.4 no longer accepts.
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        return url
    return f"sqlite:///{var_dir() / 'shop.db'}"


def env_file() -> Path | None:
    """The env file read at start: ``SHOPBOT_ENV_FILE``, else ``.env`` at the project root;
    ``SHOPBOT_ENV_FILE=off`` reads none (the tests do that)."""
    value = ENV_FILE.get() or ""
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
