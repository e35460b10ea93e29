"""``shopbot run``: start the action server and the Rasa server, wait until they answer, and
stop them all on Ctrl-C. Logs go to ``var/logs/``."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bot.rasa_model import ROOT, ensure_model, rasa_bin, rasa_env

ACTION_PORT = int(os.environ.get("SHOPBOT_ACTION_PORT", "5055"))
RASA_PORT = int(os.environ.get("SHOPBOT_RASA_PORT", "5005"))
RASA_HOST = os.environ.get("SHOPBOT_RASA_HOST", "127.0.0.1")


@dataclass
class Service:
    name: str
    cmd: list[str]
    health_url: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(self.health_url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(
            f"{self.name} did not answer within {timeout:.0f} s; see {self.log_path}"
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


SLACK_BLOCK = """
# Added by shopbot run because SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are set (Rasa expands the
# unquoted variables when it reads this file; the secrets are never written here).
bot.channels.slack.StaffSlackInput:
  slack_token: ${SLACK_BOT_TOKEN}
  slack_signing_secret: ${SLACK_SIGNING_SECRET}
  use_threads: true
"""


def effective_credentials(env: dict[str, str], out_dir: Path, base: Path | None = None) -> Path:
    """credentials.yml, plus the Slack channel when its two variables are set (a file in
    ``out_dir``); Slack stays off otherwise, so an unset secret can never be guessed."""
    base = base or ROOT / "credentials.yml"
    text = base.read_text()
    if env.get("SLACK_BOT_TOKEN") and env.get("SLACK_SIGNING_SECRET"):
        if not any(line.startswith("bot.channels.slack.") for line in text.splitlines()):
            text += SLACK_BLOCK
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "credentials.yml"
    target.write_text(text)
    return target


def build_services(
    model: Path,
    env: dict[str, str],
    log_dir: Path,
    *,
    action_port: int = ACTION_PORT,
    rasa_port: int = RASA_PORT,
    rasa_host: str = RASA_HOST,
    endpoints: Path | str = "endpoints.yml",
    credentials: Path | str = "credentials.yml",
) -> list[Service]:
    """The action server and the Rasa server, configured but not started."""
    action_env = dict(env, SANIC_HOST=env.get("SHOPBOT_ACTION_HOST", "127.0.0.1"))
    actions = Service(
        "action server",
        [rasa_bin(), "run", "actions", "--actions", "actions", "--port", str(action_port)],
        f"http://127.0.0.1:{action_port}/health",
        action_env,
        log_dir / "actions.log",
    )
    rasa = Service(
        "Rasa server",
        [
            rasa_bin(),
            "run",
            "--enable-api",
            "--auth-token",
            env["RASA_API_TOKEN"],
            "--model",
            str(model),
            "--endpoints",
            str(endpoints),
            "--credentials",
            str(credentials),
            "-i",
            rasa_host,
            "--port",
            str(rasa_port),
            "--cors",
            "*",
        ],
        f"http://127.0.0.1:{rasa_port}/",
        env,
        log_dir / "rasa.log",
    )
    return [actions, rasa]


def run(log_dir: Path | None = None) -> int:
    """Starts every server and blocks until Ctrl-C (or one of them dies)."""
    env = rasa_env()
    if not env.get("SHOPBOT_SESSION_SECRET"):
        env["SHOPBOT_SESSION_SECRET"] = secrets.token_urlsafe(32)
        print("note: SHOPBOT_SESSION_SECRET is not set; using a random one for this run")
    env.setdefault("RASA_API_TOKEN", secrets.token_urlsafe(24))
    model, _ = ensure_model()
    log_dir = log_dir or ROOT / "var" / "logs"
    credentials = effective_credentials(env, ROOT / "var")
    slack = (
        "on"
        if "StaffSlackInput" in credentials.read_text()
        else "off (set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET)"
    )
    print(f"Slack channel: {slack}")
    services = build_services(model, env, log_dir, credentials=credentials)
    try:
        for svc in services:
            print(f"==> starting {svc.name} (log: {svc.log_path.relative_to(ROOT)})", flush=True)
            svc.start()
            svc.wait_healthy(timeout=180)
        print(
            "\nshopbot is running:\n"
            f"  storefront: http://{RASA_HOST}:{RASA_PORT}/storefront/  (chat widget, demo sign-in)\n"
            f"  REST:       POST http://{RASA_HOST}:{RASA_PORT}/webhooks/rest/webhook "
            '{"sender": "me", "message": "hi"}\n'
            f"  terminal:   .venv/bin/rasa shell --model {model.relative_to(ROOT)}  "
            "(in another terminal, without the servers — or: scripts/chat.sh)\n"
            f"  actions:    http://127.0.0.1:{ACTION_PORT}/webhook (private, localhost only)\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        while all(svc.proc and svc.proc.poll() is None for svc in services):
            time.sleep(1)
        dead = [s.name for s in services if s.proc and s.proc.poll() is not None]
        print(f"shopbot: {', '.join(dead)} stopped unexpectedly; see {log_dir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n==> stopping", flush=True)
        return 0
    finally:
        for svc in reversed(services):
            svc.stop()
