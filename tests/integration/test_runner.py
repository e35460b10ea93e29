"""``shopbot run``'s plumbing: the endpoints file Rasa reads, the .env file, and the supervisor that
restarts a dead server and stops every child on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from bot.server.endpoints import EndpointConfigError, describe, write_endpoints
from bot.server.rasa_model import ROOT
from bot.server.runner import Service, effective_credentials, slack_enabled, supervise
from shop.settings import load_env_file
from support.servers import free_port

ACTION_SECRET = "runner-test-action-secret-0123456789"


def _read_with_rasa(path: Path, env: dict[str, str], monkeypatch):
    """The endpoints as Rasa itself reads them (with its ${VAR} expansion)."""
    from rasa.core.utils import AvailableEndpoints

    monkeypatch.setenv("SHOPBOT_ACTION_SECRET", ACTION_SECRET)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return AvailableEndpoints.read_endpoints(str(path))


def test_default_endpoints_keep_the_sqlite_tracker_and_follow_the_action_port(
    tmp_path, monkeypatch
):
    child: dict[str, str] = {}
    out = write_endpoints(
        {}, child, tmp_path / "e.yml", action_port=6123, base=ROOT / "endpoints.yml"
    )
    assert ACTION_SECRET not in out.read_text()  # only a ${VAR} Rasa expands
    endpoints = _read_with_rasa(out, child, monkeypatch)
    assert endpoints.action.url == "http://127.0.0.1:6123/webhook"
    assert endpoints.action.headers == {"X-Shopbot-Action-Secret": ACTION_SECRET}
    assert endpoints.tracker_store.type == "bot.server.tracker_store.ShopSQLTrackerStore"
    assert endpoints.tracker_store.kwargs == {"dialect": "sqlite", "db": "var/rasa_tracker.db"}
    assert endpoints.lock_store.type == "in_memory"
    assert child == {"SANIC_WORKERS": "1"}


def test_postgres_tracker_and_redis_lock_store_without_a_password_on_disk(tmp_path, monkeypatch):
    env = {
        "SHOPBOT_TRACKER_STORE_URL": "postgresql://rasa:s3cr%40t@db.internal:5433/conversations",
        "SHOPBOT_LOCK_STORE_URL": "redis://:redispw@cache.internal:6380/2",
        "SHOPBOT_RASA_WORKERS": "2",
    }
    child: dict[str, str] = {}
    out = write_endpoints(
        env, child, tmp_path / "e.yml", action_port=5055, base=ROOT / "endpoints.yml"
    )
    text = out.read_text()
    assert "s3cr" not in text and "redispw" not in text
    endpoints = _read_with_rasa(out, child, monkeypatch)
    assert endpoints.tracker_store.type == "bot.server.tracker_store.ShopSQLTrackerStore"
    assert endpoints.tracker_store.kwargs == {
        "dialect": "postgresql",
        "port": 5433,
        "db": "conversations",
        "login_db": "postgres",
        "username": "rasa",
        "password": "s3cr@t",
    }
    assert endpoints.tracker_store.url == "db.internal"
    assert endpoints.lock_store.type == "bot.server.lock_store.ShopRedisLockStore"
    assert endpoints.lock_store.url == "cache.internal"
    assert endpoints.lock_store.kwargs == {"port": 6380, "db": 2, "password": "redispw"}
    assert child["SANIC_WORKERS"] == "2"
    assert describe(out) == "tracker store postgresql (conversations), lock store redis"


def test_redis_tracker_store(tmp_path, monkeypatch):
    child: dict[str, str] = {}
    out = write_endpoints(
        {"SHOPBOT_TRACKER_STORE_URL": "redis://127.0.0.1:6379/3"},
        child,
        tmp_path / "e.yml",
        action_port=5055,
        base=ROOT / "endpoints.yml",
    )
    store = _read_with_rasa(out, child, monkeypatch).tracker_store
    assert store.type == "bot.server.tracker_store.ShopRedisTrackerStore"
    assert store.url == "127.0.0.1"
    # Redis forgets a conversation after the retention period (90 days by default).
    assert store.kwargs == {"port": 6379, "db": 3, "record_exp": 90 * 86400}


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SHOPBOT_RASA_WORKERS": "2"}, "SHOPBOT_LOCK_STORE_URL=redis://"),
        ({"SHOPBOT_RASA_WORKERS": "two"}, "is not a number"),
        ({"SHOPBOT_TRACKER_STORE_URL": "mysql://x@y/z"}, "'mysql' is not supported"),
        ({"SHOPBOT_TRACKER_STORE_URL": "not a url"}, "is not a database URL"),
        ({"SHOPBOT_LOCK_STORE_URL": "postgresql://x@y/z"}, "only Redis is supported"),
    ],
)
def test_unusable_store_settings_are_refused_with_what_to_write(tmp_path, env, message):
    with pytest.raises(EndpointConfigError, match=message):
        write_endpoints(env, {}, tmp_path / "e.yml", action_port=5055, base=ROOT / "endpoints.yml")
    assert not (tmp_path / "e.yml").exists()


def test_slack_is_on_only_when_both_secrets_are_set(tmp_path):
    assert not slack_enabled((ROOT / "credentials.yml").read_text())  # mentioned in comments only
    off = effective_credentials({"SLACK_BOT_TOKEN": "xoxb-1"}, tmp_path / "a")
    assert not slack_enabled(off.read_text())
    on = effective_credentials(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, tmp_path / "b"
    )
    assert slack_enabled(on.read_text()) and "xoxb-1" not in on.read_text()


def test_env_file_fills_only_unset_variables(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text(
        textwrap.dedent(
            """\
            # a comment
            DATABASE_URL=
            SHOPBOT_T_A=from-file
            export SHOPBOT_T_B="quoted value"
            SHOPBOT_T_C=file-loses
            not a line
            """
        )
    )
    for key in ("DATABASE_URL", "SHOPBOT_T_A", "SHOPBOT_T_B"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SHOPBOT_T_C", "shell-wins")
    loaded = load_env_file(env_file)
    for key in ("SHOPBOT_T_A", "SHOPBOT_T_B"):
        monkeypatch.setenv(key, os.environ[key])  # so monkeypatch removes them afterwards
    assert sorted(loaded) == ["SHOPBOT_T_A", "SHOPBOT_T_B"]
    assert os.environ["SHOPBOT_T_A"] == "from-file"
    assert os.environ["SHOPBOT_T_B"] == "quoted value"
    assert os.environ["SHOPBOT_T_C"] == "shell-wins"
    assert "DATABASE_URL" not in os.environ  # an empty value means unset


def test_the_cli_reads_the_env_file(tmp_path):
    env_file = tmp_path / "shop.env"
    db = tmp_path / "from-env-file.db"
    env_file.write_text(f"DATABASE_URL=sqlite:///{db}\n")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["SHOPBOT_ENV_FILE"] = str(env_file)
    shopbot = str(Path(sys.executable).parent / "shopbot")
    result = subprocess.run(
        [shopbot, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert db.exists() and db.stat().st_size > 0


def _http_service(tmp_path: Path, name: str) -> Service:
    port = free_port()
    return Service(
        name,
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        f"http://127.0.0.1:{port}/",
        dict(os.environ),
        tmp_path / f"{name}.log",
    )


def test_supervisor_restarts_a_server_that_dies(tmp_path):
    svc = _http_service(tmp_path, "web")
    svc.start()
    svc.wait_healthy(timeout=30)
    first = svc.proc.pid
    stop = threading.Event()
    thread = threading.Thread(target=supervise, args=([svc],), kwargs={"poll": 0.1, "stop": stop})
    thread.start()
    try:
        os.killpg(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            svc.proc.pid == first or svc.proc.poll() is not None
        ):
            time.sleep(0.1)
        svc.wait_healthy(timeout=30)
        assert svc.proc.pid != first
        with urllib.request.urlopen(svc.health_url, timeout=5) as resp:
            assert resp.status == 200
    finally:
        stop.set()
        thread.join(timeout=10)
        svc.stop()


def test_supervisor_gives_up_on_a_server_that_keeps_dying(tmp_path):
    svc = Service(
        "broken",
        [sys.executable, "-c", "import sys; sys.exit(3)"],
        "http://127.0.0.1:9/",
        dict(os.environ),
        tmp_path / "broken.log",
    )
    svc.start()
    svc.proc.wait(timeout=30)
    assert supervise([svc], poll=0.01) == 1
    assert svc.proc.returncode == 3


SERVE_SCRIPT = """
import os, sys
from pathlib import Path
from bot.server.runner import Service, serve
port = int(sys.argv[1])
svc = Service("web", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
              f"http://127.0.0.1:{port}/", dict(os.environ), Path(sys.argv[2]))
sys.exit(serve([svc], banner="READY"))
"""


def test_sigterm_stops_every_child(tmp_path):
    port = free_port()
    runner = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT, str(port), str(tmp_path / "web.log")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for line in runner.stdout:
            if "READY" in line:
                break
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            assert resp.status == 200
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=30) == 0
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        runner.kill()


@pytest.mark.postgres
def test_the_postgres_tracker_database_is_created_once(monkeypatch):
    import uuid

    from sqlalchemy import create_engine, text

    from bot.server.endpoints import ensure_tracker_database

    name = f"shopbot_tracker_{uuid.uuid4().hex[:8]}"
    env = {"SHOPBOT_TRACKER_STORE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}"}
    admin = create_engine(
        "postgresql://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    try:
        ensure_tracker_database(env)
        ensure_tracker_database(env)  # already there: nothing happens
        with admin.connect() as conn:
            count = conn.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
        assert count == 1
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
