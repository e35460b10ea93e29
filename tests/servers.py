"""The real assistant for integration tests: a demo shop, trained models, a running action server
and Rasa server on free ports. One per test session (Rasa takes ~25 s to start).

Use the ``assistant`` fixture (re-exported by tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.rasa_model import ensure_model, rasa_env
from bot.runner import Service, build_services, effective_credentials
from slack_standin import SlackStandIn, start_slack_standin

SHOPBOT = str(Path(sys.executable).parent / "shopbot")
TEST_SECRET = "test-session-secret-" + secrets.token_hex(8)
SLACK_SIGNING_SECRET = "test-signing-" + secrets.token_hex(8)
STAFF_SLACK_USER = "UTESTSTAFF1"
STAFF_CONSOLE_TOKEN = "console-" + secrets.token_hex(8)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ENDPOINTS = """\
action_endpoint:
  url: "http://127.0.0.1:{action_port}/webhook"
tracker_store:
  type: SQL
  dialect: "sqlite"
  db: "{tracker_db}"
lock_store:
  type: "in_memory"
"""


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

    # -- talking -----------------------------------------------------------------------------
    def say(
        self,
        text: str,
        sender: str | None = None,
        metadata: dict | None = None,
        timeout: float = 30,
    ) -> list[dict]:
        """Sends one message over the REST channel and returns the bot's replies."""
        body = {"sender": sender or f"test-{uuid.uuid4().hex[:8]}", "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        req = urllib.request.Request(
            f"{self.rasa_url}/webhooks/rest/webhook",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def token_for(self, customer_id: int, ttl_seconds: int = 3600) -> str:
        from bot.identity import issue_token

        return issue_token(customer_id, secret=self.session_secret, ttl_seconds=ttl_seconds)

    def tracker(self, sender: str) -> dict:
        req = urllib.request.Request(
            f"{self.rasa_url}/conversations/{sender}/tracker?token={self.api_token}"
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    # -- fault injection ---------------------------------------------------------------------
    def stop_rasa(self) -> None:
        self.services["rasa"].stop()

    def start_rasa(self) -> None:
        self._start("rasa")

    def stop_actions(self) -> None:
        self.services["actions"].stop()

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


def start_assistant(workdir: Path) -> Assistant:
    model, _ = ensure_model()
    db_url = f"sqlite:///{workdir / 'shop.db'}"
    models_dir = workdir / "analytics-models"
    env = build_demo_and_train(db_url, models_dir)
    action_port, rasa_port = free_port(), free_port()
    slack = start_slack_standin()
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(
        ENDPOINTS.format(action_port=action_port, tracker_db=workdir / "tracker.db")
    )
    env.update(
        SHOPBOT_SESSION_SECRET=TEST_SECRET,
        RASA_API_TOKEN=secrets.token_hex(12),
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SLACK_SIGNING_SECRET,
        SLACK_API_BASE_URL=slack.base_url,
        SHOPBOT_STAFF_SLACK_USERS=STAFF_SLACK_USER,
        SHOPBOT_STAFF_CONSOLE_TOKEN=STAFF_CONSOLE_TOKEN,
    )
    actions, rasa = build_services(
        model,
        env,
        workdir / "logs",
        action_port=action_port,
        rasa_port=rasa_port,
        endpoints=endpoints,
        credentials=effective_credentials(env, workdir),
    )
    a = Assistant(
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        action_url=f"http://127.0.0.1:{action_port}",
        db_url=db_url,
        models_dir=models_dir,
        session_secret=TEST_SECRET,
        api_token=env["RASA_API_TOKEN"],
        env=env,
        services={"actions": actions, "rasa": rasa},
        slack=slack,
    )
    try:
        a.start_actions()
        a.start_rasa()
    except BaseException:
        a.stop()
        for log in (workdir / "logs").glob("*.log"):
            sys.stderr.write(f"--- {log.name} (tail) ---\n{log.read_text()[-4000:]}\n")
        raise
    return a


@pytest.fixture(scope="session")
def assistant(tmp_path_factory) -> Assistant:
    """The whole assistant running against a small demo shop (started once per session)."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    a = start_assistant(tmp_path_factory.mktemp("assistant"))
    yield a
    a.stop()
