"""The real assistant for integration tests: a demo shop, trained models, a running action server
and Rasa server on free ports. One per test session (Rasa takes ~25 s to start).

Use the ``assistant`` fixture (re-exported by tests/conftest.py). ``start_assistant`` also builds
other set-ups: the shop on another database, the tracker and lock stores from URLs (as
``shopbot run`` does), and several Rasa servers sharing them.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.server.endpoints import ensure_tracker_database, write_endpoints
from bot.server.rasa_model import ROOT, rasa_env
from bot.server.runner import Service, build_services, effective_credentials
from support.slack_standin import SlackStandIn, start_slack_standin

SHOPBOT = str(Path(sys.executable).parent / "shopbot")
TEST_SECRET = "test-session-secret-" + secrets.token_hex(8)
SLACK_SIGNING_SECRET = "test-signing-" + secrets.token_hex(8)
STAFF_SLACK_USER = "UTESTSTAFF1"
# A second allow-listed colleague, and the channel hand-off cards go to.
STAFF_SLACK_USER_2 = "UTESTSTAFF2"
SUPPORT_CHANNEL = "CSUPPORT01"
STAFF_CONSOLE_TOKEN = "console-" + secrets.token_hex(16)
ACTION_SECRET = "actions-" + secrets.token_hex(16)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Assistant:
    """Handles to the running servers and the data behind them."""

    rasa_url: str
    action_url: str
    db_url: str
    models_dir: Path
    session_secret: str
    api_token: str
    env: dict[str, str]
    services: dict[str, Service] = field(default_factory=dict)
    slack: SlackStandIn | None = None
    # Every Rasa server's URL (the first is ``rasa_url``); they share the stores.
    rasa_urls: list[str] = field(default_factory=list)
    # The private PostgreSQL server behind ``pg_assistant`` (tests/support/pg_cluster.py), else None.
    postgres: Any = None
    # Where the conversations are kept (the tracker store's URL).
    tracker_url: str = ""

    # -- talking -----------------------------------------------------------------------------
    def say(
        self,
        text: str,
        sender: str | None = None,
        metadata: dict | None = None,
        timeout: float = 30,
        server: int = 0,
    ) -> list[dict]:
        """Sends one message over the REST channel (of Rasa server number ``server``) and
        returns the bot's replies."""
        body = {"sender": sender or f"test-{uuid.uuid4().hex[:8]}", "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        req = urllib.request.Request(
            f"{self._rasa(server)}/webhooks/rest/webhook",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def token_for(self, customer_id: int, ttl_seconds: int = 3600) -> str:
        from bot.identity import issue_token

        return issue_token(customer_id, secret=self.session_secret, ttl_seconds=ttl_seconds)

    def tracker(
        self, sender: str, server: int = 0, channel: str = "rest", events: str = "AFTER_RESTART"
    ) -> dict:
        """The conversation of ``sender`` on ``channel`` (REST senders by default) as Rasa's
        HTTP API gives it: the events since its last restart, or ``events="ALL"``."""
        conversation = urllib.parse.quote(f"{channel}:{sender}", safe=":")
        query = urllib.parse.urlencode({"token": self.api_token, "include_events": events})
        req = urllib.request.Request(
            f"{self._rasa(server)}/conversations/{conversation}/tracker?{query}"
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def _rasa(self, server: int) -> str:
        return (self.rasa_urls or [self.rasa_url])[server]

    # -- fault injection ---------------------------------------------------------------------
    def stop_rasa(self, server: int = 0) -> None:
        self.services[_rasa_service(server)].stop()

    def start_rasa(self, server: int = 0) -> None:
        self._start(_rasa_service(server))

    def stop_actions(self) -> None:
        self.services["actions"].stop()

    def kill_actions(self) -> None:
        """SIGKILL to the action server's process group: no clean shutdown, sockets just die."""
        proc = self.services["actions"].proc
        assert proc is not None and proc.poll() is None, "the action server is not running"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def start_actions(self) -> None:
        self._start("actions")

    def _start(self, name: str) -> None:
        svc = self.services[name]
        svc.start()
        svc.wait_healthy(timeout=240)

    def stop(self) -> None:
        for svc in self.services.values():
            svc.stop()
        if self.slack is not None:
            self.slack.stop()


def build_demo_and_train(db_url: str, models_dir: Path) -> dict[str, str]:
    """A small demo shop at ``db_url`` with trained analytics in ``models_dir``."""
    env = dict(rasa_env(), DATABASE_URL=db_url, SHOPBOT_MODELS_DIR=str(models_dir))
    subprocess.run(
        [SHOPBOT, "setup-demo", "--customers", "600", "--days", "400", "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run([SHOPBOT, "train", "--json"], env=env, check=True, capture_output=True)
    return env


def _rasa_service(server: int) -> str:
    return "rasa" if server == 0 else f"rasa-{server + 1}"


def start_assistant(
    workdir: Path,
    model: Path,
    *,
    db_url: str | None = None,
    tracker_store_url: str | None = None,
    lock_store_url: str | None = None,
    rasa_servers: int = 1,
    env_extra: dict[str, str] | None = None,
) -> Assistant:
    """Builds the demo shop at ``db_url`` (default: SQLite in ``workdir``) and starts the action
    server and ``rasa_servers`` Rasa servers. Without ``tracker_store_url`` conversations go to an
    SQLite file and locks stay in memory; with it, the tracker and lock stores come from the URLs
    the way ``shopbot run`` reads ``SHOPBOT_TRACKER_STORE_URL`` and ``SHOPBOT_LOCK_STORE_URL``."""
    db_url = db_url or f"sqlite:///{workdir / 'shop.db'}"
    models_dir = workdir / "analytics-models"
    env = build_demo_and_train(db_url, models_dir)
    action_port, rasa_ports = free_port(), [free_port() for _ in range(rasa_servers)]
    slack = start_slack_standin()
    slack.users.update({STAFF_SLACK_USER: "Sam", STAFF_SLACK_USER_2: "Kim"})
    endpoints = workdir / "endpoints.yml"
    rasa_extra: dict[str, str] = {}
    tracker_store_url = tracker_store_url or f"sqlite:///{workdir / 'tracker.db'}"
    store_env = {"SHOPBOT_TRACKER_STORE_URL": tracker_store_url}
    if lock_store_url:
        store_env["SHOPBOT_LOCK_STORE_URL"] = lock_store_url
    write_endpoints(
        store_env, rasa_extra, endpoints, action_port=action_port, base=ROOT / "endpoints.yml"
    )
    ensure_tracker_database(store_env)
    env.update(
        SHOPBOT_SESSION_SECRET=TEST_SECRET,
        SHOPBOT_ACTION_SECRET=ACTION_SECRET,
        SHOPBOT_DEMO_LOGIN="true",
        RASA_API_TOKEN=secrets.token_hex(16),
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SLACK_SIGNING_SECRET,
        SLACK_API_BASE_URL=slack.base_url,
        SHOPBOT_STAFF_SLACK_USERS=f"{STAFF_SLACK_USER},{STAFF_SLACK_USER_2}",
        SHOPBOT_SLACK_SUPPORT_CHANNEL=SUPPORT_CHANNEL,
        # The team is always in, whenever the tests run (out of hours: tests/integration).
        SHOPBOT_SUPPORT_HOURS="mon-sun 00:00-24:00",
        SHOPBOT_STAFF_CONSOLE_TOKEN=STAFF_CONSOLE_TOKEN,
        **(env_extra or {}),
    )
    credentials = effective_credentials(env, workdir)
    services: dict[str, Service] = {}
    for i, rasa_port in enumerate(rasa_ports):
        actions, rasa = build_services(
            model,
            env,
            workdir / ("logs" if i == 0 else f"logs-rasa-{i + 1}"),
            action_port=action_port,
            rasa_port=rasa_port,
            endpoints=endpoints,
            credentials=credentials,
            rasa_extra_env=rasa_extra,
        )
        services.setdefault("actions", actions)
        services[_rasa_service(i)] = rasa
    urls = [f"http://127.0.0.1:{port}" for port in rasa_ports]
    a = Assistant(
        rasa_url=urls[0],
        action_url=f"http://127.0.0.1:{action_port}",
        db_url=db_url,
        models_dir=models_dir,
        session_secret=TEST_SECRET,
        api_token=env["RASA_API_TOKEN"],
        env=env,
        services=services,
        slack=slack,
        rasa_urls=urls,
        tracker_url=tracker_store_url,
    )
    try:
        a.start_actions()
        # Several Rasa servers start side by side (each takes ~30-60 s on its own).
        for i in range(rasa_servers):
            a.services[_rasa_service(i)].start()
        for i in range(rasa_servers):
            a.services[_rasa_service(i)].wait_healthy(timeout=300)
    except BaseException:
        a.stop()
        for log in workdir.glob("logs*/*.log"):
            sys.stderr.write(f"--- {log.name} (tail) ---\n{log.read_text()[-4000:]}\n")
        raise
    return a


# The lock store of ``pg_assistant``: its keys are the (random) conversation ids of the tests.
TEST_REDIS_URL = os.environ.get("SHOPBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")


@pytest.fixture(scope="session")
def pg_assistant(tmp_path_factory, rasa_model) -> Assistant:
    """The assistant set up as for production, for fault tests: the shop and the conversations on
    a private PostgreSQL server that tests may stop and restart (``.postgres``), two Rasa servers
    sharing them with a Redis lock store, one action server. Started once, when first asked for.
    Tests leave every server running (restart what they stop, also when they fail)."""
    from support.pg_cluster import PrivatePostgres

    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    pg = PrivatePostgres()
    a = None
    try:
        pg.start()
        a = start_assistant(
            tmp_path_factory.mktemp("pg-assistant"),
            rasa_model,
            db_url=pg.create_database("shop"),
            tracker_store_url=pg.url("conversations"),
            lock_store_url=TEST_REDIS_URL,
            rasa_servers=2,
        )
        a.postgres = pg
        yield a
    finally:
        if a is not None:
            a.stop()
        pg.destroy()


@pytest.fixture(scope="session")
def assistant(tmp_path_factory, rasa_model) -> Assistant:
    """The whole assistant running against a small demo shop (started once per session)."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    # Its many tests guess orders on purpose from one address: the limits on guests' failures
    # are raised here, and tested with their defaults on ``pg_assistant`` (e2e/test_security.py).
    a = start_assistant(
        tmp_path_factory.mktemp("assistant"),
        rasa_model,
        env_extra={
            "SHOPBOT_GUEST_LOOKUP_FAILURES": "1000",
            "SHOPBOT_GUEST_LOOKUP_CEILING": "100000",
        },
    )
    yield a
    a.stop()
