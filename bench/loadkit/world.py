"""A throwaway world for the conversation benchmarks: a demo shop with trained analytics in a temp
folder, and the real servers (or the Rasa server with a trivial action server) on free ports,
configured through the same variables as ``shopbot run`` (``bot.server.endpoints.write_endpoints``).

Everything it creates is removed by ``close()``/``stop()``: the temp folder, the PostgreSQL
databases it created (named ``shopbot_bench_<random>``), the Redis databases it used (checked to
be empty before use, flushed after), and every process it started (SIGTERM to the process group,
then SIGKILL).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.server.endpoints import describe, ensure_tracker_database, write_endpoints
from bot.server.rasa_model import ROOT, ensure_model, rasa_env
from bot.server.runner import Service, build_services, effective_credentials, with_secrets

SHOPBOT = str(Path(sys.executable).parent / "shopbot")
PG_URL = os.environ.get("SHOPBOT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("SHOPBOT_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
# The Redis database the benchmark uses. Its keys carry a prefix of their own (Rasa's
# ``key_prefix``), so it can share a database with others; they are deleted afterwards.
REDIS_DB = int(os.environ.get("SHOPBOT_BENCH_REDIS_DB", "11"))
# Starting Rasa loads TensorFlow and the model: ~25 s on a quiet 2-core machine, minutes when
# the cores are busy.
START_TIMEOUT = 420.0
# Variables of the caller's shell that would change what the servers do (a developer's .env
# exported, Slack keys): the benchmark sets its own.
CLEARED_VARS = (
    "DATABASE_URL",
    "SHOPBOT_TRACKER_STORE_URL",
    "SHOPBOT_LOCK_STORE_URL",
    "SHOPBOT_RASA_WORKERS",
    "SHOPBOT_ACTION_WORKERS",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SHOPBOT_STAFF_SLACK_USERS",
)


class _Terminated(KeyboardInterrupt):
    """SIGTERM: unwind like Ctrl-C so every ``finally`` stops what it started."""


def _on_sigterm(_signum, _frame) -> None:
    raise _Terminated


def stop_on_sigterm() -> None:
    """Makes SIGTERM unwind the stack (so servers are stopped) instead of killing us outright."""
    signal.signal(signal.SIGTERM, _on_sigterm)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_average() -> float:
    """The 1-minute load average now."""
    return os.getloadavg()[0]


def log(msg: str) -> None:
    """Progress goes to stderr: stdout carries only the Markdown tables."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- throwaway PostgreSQL and Redis databases --------------------------------------------------


def create_pg_database() -> str:
    """The URL of a new empty PostgreSQL database (dropped by ``drop_pg_database``)."""
    from sqlalchemy import create_engine, text

    name = f"shopbot_bench_{secrets.token_hex(4)}"
    admin = create_engine(f"{PG_URL}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return f"{PG_URL}/{name}"


def drop_pg_database(url: str) -> None:
    """Drops the database at ``url`` (closing its connections first); errors are only logged."""
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    if not name.startswith("shopbot_bench_"):
        raise ValueError(f"refusing to drop {name}: not a benchmark database")
    admin = create_engine(f"{PG_URL}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception as err:  # cleanup must not hide the real error
        log(f"could not drop the PostgreSQL database {name}: {err}")
    finally:
        admin.dispose()


def redis_client():
    import redis

    return redis.Redis.from_url(f"{REDIS_URL}/{REDIS_DB}", socket_timeout=10)


def delete_redis_keys(prefix: str) -> None:
    """Deletes every key starting with ``prefix:`` (errors are only logged)."""
    client = redis_client()
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])
    except Exception as err:
        log(f"could not delete the Redis keys {prefix}:*: {err}")
    finally:
        client.close()


def add_redis_key_prefix(endpoints: Path, prefix: str) -> None:
    """Gives the Redis tracker and lock stores of an endpoints file Rasa's ``key_prefix``."""
    import yaml

    text = endpoints.read_text()
    config = yaml.safe_load(text)
    for block in ("tracker_store", "lock_store"):
        if (config.get(block) or {}).get("type") == "redis":
            config[block]["key_prefix"] = prefix
    head = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    endpoints.write_text(head + yaml.safe_dump(config, sort_keys=False))


# ---- the shop ------------------------------------------------------------------------------------


class World:
    """A demo shop with trained analytics in a temp folder, and the secrets the servers use."""

    def __init__(
        self, customers: int = 600, days: int = 400, shop_db: str = "sqlite", keep: bool = False
    ):
        self.customers, self.days, self.shop_db, self.keep = customers, days, shop_db, keep
        self.workdir = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
        self.session_secret = secrets.token_urlsafe(32)
        self.staff_token = "bench-staff-" + secrets.token_hex(16)
        self.pg_shop_url: str | None = None
        self.db_url = f"sqlite:///{self.workdir / 'shop.db'}"
        self.timings: dict[str, float] = {}
        self.model, _ = ensure_model()
        env = {k: v for k, v in rasa_env().items() if k not in CLEARED_VARS}
        env.update(
            SHOPBOT_ENV_FILE="off",  # a developer's .env must not change the benchmark
            SHOPBOT_VAR_DIR=str(self.workdir / "var"),
            SHOPBOT_MODELS_DIR=str(self.workdir / "analytics-models"),
            SHOPBOT_SESSION_SECRET=self.session_secret,
            SHOPBOT_STAFF_CONSOLE_TOKEN=self.staff_token,
            PYTHONPATH=str(ROOT),
        )
        # Random Rasa API token and action-server secret, as `shopbot run` gives them; a short
        # secret fails here, not after the shop is built.
        self.env = with_secrets(env)

    def build(self) -> None:
        """Builds the demo shop and trains the analytics (timed into ``self.timings``)."""
        if self.shop_db == "postgres":
            self.pg_shop_url = create_pg_database()
            self.db_url = self.pg_shop_url
        self.env["DATABASE_URL"] = self.db_url
        size = ["--customers", str(self.customers), "--days", str(self.days)]
        for name, cmd in (
            ("setup-demo", [SHOPBOT, "setup-demo", *size, "--json"]),
            ("train", [SHOPBOT, "train", "--json"]),
        ):
            log(f"shopbot {name} ({self.customers} customers, {self.days} days, {self.shop_db})")
            started = time.perf_counter()
            proc = subprocess.run(cmd, env=self.env, cwd=ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"shopbot {name} failed:\n{proc.stderr[-3000:]}")
            self.timings[name] = time.perf_counter() - started

    def token_for(self, customer_id: int, ttl_seconds: int = 6 * 3600) -> str:
        """A session token the shop's site would give ``customer_id`` (valid for hours)."""
        from bot.identity import issue_token

        return issue_token(customer_id, secret=self.session_secret, ttl_seconds=ttl_seconds)

    def describe(self) -> str:
        return (
            f"demo shop {self.customers} customers × {self.days} days on "
            f"{'PostgreSQL' if self.shop_db == 'postgres' else 'SQLite'}"
        )

    def close(self) -> None:
        if self.pg_shop_url:
            drop_pg_database(self.pg_shop_url)
            self.pg_shop_url = None
        if self.keep:
            log(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---- a configuration of the servers ------------------------------------------------------------


@dataclass(frozen=True)
class StackConfig:
    """How the servers run: the knobs ``shopbot run`` reads from the environment."""

    name: str
    rasa_workers: int = 1
    action_workers: int = 1
    tracker: str = "sqlite"  # sqlite | postgres | redis
    lock: str = "memory"  # memory | redis
    # TensorFlow threads per Rasa process (Rasa reads TF_INTRA/INTER_OP_PARALLELISM_THREADS);
    # None: TensorFlow's default (one per core).
    tf_threads: int | None = None

    def describe(self) -> str:
        tf = f", TensorFlow {self.tf_threads} thread(s) per process" if self.tf_threads else ""
        return (
            f"{self.rasa_workers} Rasa worker{'s' if self.rasa_workers > 1 else ''}, "
            f"{self.action_workers} action worker{'s' if self.action_workers > 1 else ''}, "
            f"tracker store {self.tracker}, lock store {self.lock}{tf}"
        )


CONFIGS = {
    c.name: c
    for c in (
        # What `shopbot run` does out of the box.
        StackConfig("default"),
        # The scaled set-up: Sanic workers need the Redis lock store; a fast tracker store.
        StackConfig("scaled", rasa_workers=2, tracker="redis", lock="redis"),
        StackConfig("scaled-pg", rasa_workers=2, tracker="postgres", lock="redis"),
        StackConfig("scaled-3", rasa_workers=3, tracker="redis", lock="redis"),
        StackConfig("scaled-2x2", rasa_workers=2, action_workers=2, tracker="redis", lock="redis"),
        StackConfig("scaled-tf1", rasa_workers=2, tracker="redis", lock="redis", tf_threads=1),
        # One worker, but the faster stores: separates the workers' effect from the stores'.
        StackConfig("redis-1", tracker="redis", lock="redis"),
        StackConfig("pg-1", tracker="postgres"),
    )
}


class Stack:
    """The action server (shopbot's, or the trivial stub) and the Rasa server for one config."""

    def __init__(
        self,
        world: World,
        config: StackConfig,
        stub: bool = False,
        profile: Path | None = None,
    ):
        """``profile``: run the Rasa server under cProfile, writing its stats there on stop
        (one worker only: Sanic's worker processes would not be profiled)."""
        self.world, self.config, self.stub, self.profile = world, config, stub, profile
        self.label = f"{config.name}{'-stub' if stub else ''}"
        self.action_port, self.rasa_port = free_port(), free_port()
        self.rasa_url = f"http://127.0.0.1:{self.rasa_port}"
        self.services: list[Service] = []
        self._pg_tracker: str | None = None
        self._redis_prefix: str | None = None
        self.stores = ""

    def _env(self) -> dict[str, str]:
        env = dict(self.world.env)
        cfg = self.config
        if cfg.tracker == "postgres":
            self._pg_tracker = create_pg_database()
            env["SHOPBOT_TRACKER_STORE_URL"] = self._pg_tracker
        elif cfg.tracker == "redis":
            env["SHOPBOT_TRACKER_STORE_URL"] = f"{REDIS_URL}/{REDIS_DB}"
        else:  # the default store, but in our temp folder rather than var/
            env["SHOPBOT_TRACKER_STORE_URL"] = f"sqlite:///{self.workdir / 'tracker.db'}"
        if cfg.lock == "redis":
            env["SHOPBOT_LOCK_STORE_URL"] = f"{REDIS_URL}/{REDIS_DB}"
        if cfg.tf_threads:
            env["TF_INTRA_OP_PARALLELISM_THREADS"] = str(cfg.tf_threads)
            env["TF_INTER_OP_PARALLELISM_THREADS"] = str(cfg.tf_threads)
        env["SHOPBOT_RASA_WORKERS"] = str(cfg.rasa_workers)
        env["SHOPBOT_ACTION_WORKERS"] = str(cfg.action_workers)
        return env

    @property
    def workdir(self) -> Path:
        path = self.world.workdir / self.label
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self) -> Stack:
        env = self._env()
        rasa_extra: dict[str, str] = {}
        endpoints = write_endpoints(
            env,
            rasa_extra,
            self.workdir / "endpoints.yml",
            action_port=self.action_port,
            base=ROOT / "endpoints.yml",
        )
        if "redis" in (self.config.tracker, self.config.lock):
            self._redis_prefix = f"bench{secrets.token_hex(4)}"
            add_redis_key_prefix(endpoints, self._redis_prefix)
        ensure_tracker_database(env)
        self.stores = describe(endpoints)
        actions, rasa = build_services(
            self.world.model,
            env,
            self.workdir / "logs",
            action_port=self.action_port,
            rasa_port=self.rasa_port,
            rasa_host="127.0.0.1",
            endpoints=endpoints,
            credentials=effective_credentials(env, self.workdir),
            rasa_extra_env=rasa_extra,
        )
        if self.stub:
            actions = Service(
                "stub action server",
                [
                    sys.executable,
                    "-m",
                    "bench.loadkit.stub_actions",
                    "--port",
                    str(self.action_port),
                ],
                f"http://127.0.0.1:{self.action_port}/health",
                env,
                self.workdir / "logs" / "stub-actions.log",
            )
        if self.profile is not None:
            rasa.cmd = [sys.executable, "-m", "cProfile", "-o", str(self.profile), *rasa.cmd]
        self.services = [actions, rasa]
        try:
            for svc in self.services:
                log(f"{self.label}: starting the {svc.name}")
                started = time.perf_counter()
                svc.start()
                svc.wait_healthy(timeout=START_TIMEOUT)
                log(f"{self.label}: {svc.name} up after {time.perf_counter() - started:.0f} s")
        except BaseException:
            self.print_logs()
            self.stop()
            raise
        return self

    @property
    def pids(self) -> dict[str, int]:
        """Process-group leader of each running server ("rasa", "actions")."""
        names = ("actions", "rasa")
        return {
            n: s.proc.pid
            for n, s in zip(names, self.services)
            if s.proc is not None and s.proc.poll() is None
        }

    def print_logs(self, chars: int = 4000) -> None:
        for svc in self.services:
            if svc.log_path.exists():
                tail = svc.log_path.read_text(errors="replace")[-chars:]
                print(f"--- {svc.log_path} (tail) ---\n{tail}", file=sys.stderr)

    def stop(self) -> None:
        for svc in reversed(self.services):
            try:
                svc.stop()
            except ProcessLookupError:
                pass
        self.services = [s for s in self.services if s.proc is not None and s.proc.poll() is None]
        if self._pg_tracker:
            drop_pg_database(self._pg_tracker)
            self._pg_tracker = None
        if self._redis_prefix:
            delete_redis_keys(self._redis_prefix)
            self._redis_prefix = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
