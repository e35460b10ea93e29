"""``shopbot run``: start the action server and the Rasa server, wait until they answer, restart
one that dies, and stop them all on Ctrl-C or SIGTERM. Logs go to ``var/logs/``."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy.exc import SQLAlchemyError

from bot.server.endpoints import (
    EndpointConfigError,
    describe,
    ensure_tracker_database,
    write_endpoints,
)
from bot.server.rasa_model import ROOT, ensure_model, rasa_env
from shop import settings


@dataclass
class Service:
    name: str
    cmd: list[str]
    health_url: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._log is not None:
            self._log.close()  # a restart: the previous child is gone
        log = self._log = open(self.log_path, "ab")  # open while the child runs
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


def slack_enabled(credentials_text: str) -> bool:
    """True when a credentials file enables the Slack channel (a comment does not count)."""
    return any(line.startswith("bot.channels.slack.") for line in credentials_text.splitlines())


def effective_credentials(env: dict[str, str], out_dir: Path, base: Path | None = None) -> Path:
    """credentials.yml, plus the Slack channel when its two variables are set (a file in
    ``out_dir``); Slack stays off otherwise, so an unset secret can never be guessed."""
    base = base or ROOT / "credentials.yml"
    text = base.read_text()
    if settings.SLACK_BOT_TOKEN.get(env) and settings.SLACK_SIGNING_SECRET.get(env):
        if not slack_enabled(text):
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
    action_port: int | None = None,
    rasa_port: int | None = None,
    rasa_host: str | None = None,
    endpoints: Path | str = "endpoints.yml",
    credentials: Path | str = "credentials.yml",
    rasa_extra_env: dict[str, str] | None = None,
) -> list[Service]:
    """The action server and the Rasa server, configured but not started.

    ``rasa_extra_env`` is given to the Rasa server only (store passwords, ``SANIC_WORKERS``)."""
    action_port = action_port or settings.ACTION_PORT.number(1, env)
    rasa_port = rasa_port or settings.RASA_PORT.number(1, env)
    rasa_host = rasa_host or settings.RASA_HOST.get(env) or "127.0.0.1"
    action_env = dict(env)
    action_env["ACTION_SERVER_SANIC_WORKERS"] = str(settings.ACTION_WORKERS.number(1, env))
    actions = Service(
        "action server",
        [
            sys.executable,
            "-m",
            "bot.server.action_server",
            "--host",
            settings.ACTION_HOST.get(env) or "127.0.0.1",
            "--port",
            str(action_port),
        ],
        f"http://127.0.0.1:{action_port}/health",
        action_env,
        log_dir / "actions.log",
    )
    rasa = Service(
        "Rasa server",
        [
            sys.executable,
            "-m",
            "bot.server.rasa_server",
            "run",
            "--enable-api",
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
        dict(env, **(rasa_extra_env or {})),
        log_dir / "rasa.log",
    )
    return [actions, rasa]


class _Terminated(Exception):
    """SIGTERM arrived: stop like on Ctrl-C."""


def _raise_terminated(_signum, _frame) -> None:
    raise _Terminated


# A service that dies is restarted, unless it died this many times within RESTART_WINDOW seconds
# (then something is wrong that a restart will not fix, e.g. a port in use or a broken model).
MAX_RESTARTS = 5
RESTART_WINDOW = 300.0


def supervise(
    services: list[Service], poll: float = 1.0, stop: threading.Event | None = None
) -> int:
    """Keeps every service running: restarts one that exits; gives up (returns 1) when one keeps
    dying. Otherwise returns only when ``stop`` is set (0) or on an exception (Ctrl-C, SIGTERM)."""
    deaths: dict[str, list[float]] = {svc.name: [] for svc in services}
    while not (stop is not None and stop.wait(poll)):
        if stop is None:
            time.sleep(poll)
        for svc in services:
            if svc.proc is None or svc.proc.poll() is None:
                continue
            now = time.monotonic()
            recent = [t for t in deaths[svc.name] if now - t < RESTART_WINDOW] + [now]
            deaths[svc.name] = recent
            code = svc.proc.returncode
            if len(recent) > MAX_RESTARTS:
                print(
                    f"shopbot: the {svc.name} exited {len(recent)} times in "
                    f"{RESTART_WINDOW / 60:.0f} minutes (last exit code {code}); giving up, "
                    f"see {svc.log_path}",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            print(
                f"shopbot: the {svc.name} exited (code {code}); restarting it "
                f"(log: {svc.log_path})",
                file=sys.stderr,
                flush=True,
            )
            svc.start()
            try:
                svc.wait_healthy(timeout=180)
            except RuntimeError as err:
                print(f"shopbot: {err}", file=sys.stderr, flush=True)
    return 0


def serve(services: list[Service], banner: str = "", stop: threading.Event | None = None) -> int:
    """Starts the services in order (each must answer before the next starts), prints
    ``banner``, keeps them running, and stops them all on Ctrl-C, SIGTERM or ``stop``."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main else None
    try:
        for svc in services:
            print(f"==> starting {svc.name} (log: {svc.log_path})", flush=True)
            svc.start()
            svc.wait_healthy(timeout=180)
        if banner:
            print(banner, flush=True)
        return supervise(services, stop=stop)
    except (KeyboardInterrupt, _Terminated):
        print("\n==> stopping", flush=True)
        return 0
    finally:
        for svc in reversed(services):
            svc.stop()
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def demo_shop_database() -> bool:
    """True when the shop database holds the demo shop (False when it cannot be read)."""
    from shop.demo import is_demo_shop
    from shop.store import session_scope

    try:
        with session_scope() as session:
            return is_demo_shop(session)
    except SQLAlchemyError:
        return False


def with_secrets(env: dict[str, str]) -> dict[str, str]:
    """``env`` with every secret the servers need: the ones set (checked: at least 32 bytes,
    else SettingError), random ones for this run for the others."""
    settings.check_secrets(env)
    if not settings.SESSION_SECRET.get(env):
        env[settings.SESSION_SECRET.name] = secrets.token_urlsafe(32)
        print(f"note: {settings.SESSION_SECRET.name} is not set; using a random one for this run")
    for setting in (settings.RASA_API_TOKEN, settings.ACTION_SECRET):
        if not setting.get(env):
            env[setting.name] = secrets.token_urlsafe(32)
    return env


def run(log_dir: Path | None = None, *, demo_login: bool = False, only: str | None = None) -> int:
    """Starts every server (``only``: just "rasa" or just "actions") and blocks until Ctrl-C or
    SIGTERM (restarting a server that dies).

    ``demo_login``: switch the storefront's demo sign-in on when the database is the demo shop
    (``make run`` asks for it; it then signs in only the demo shop's own accounts)."""
    try:
        env = with_secrets(rasa_env())
    except settings.SettingError as err:
        print(f"shopbot: {err}", file=sys.stderr)
        return 2
    if demo_login and not settings.DEMO_LOGIN.is_set(env):
        env[settings.DEMO_LOGIN.name] = "true" if demo_shop_database() else "false"
    demo = settings.DEMO_LOGIN.flag(env)
    action_port = settings.ACTION_PORT.number(1)
    rasa_port = settings.RASA_PORT.number(1)
    rasa_host = settings.RASA_HOST.get() or "127.0.0.1"
    if only == "actions":
        log_dir = log_dir or ROOT / "var" / "logs"
        actions = build_services(Path("unused"), env, log_dir, action_port=action_port)[0]
        return serve([actions], f"\nshopbot's action server is running on port {action_port}.")
    model, _ = ensure_model()
    log_dir = log_dir or ROOT / "var" / "logs"
    credentials = effective_credentials(env, ROOT / "var")
    slack = (
        "on"
        if slack_enabled(credentials.read_text())
        else "off (set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET)"
    )
    print(f"Slack channel: {slack}")
    if slack == "on":
        support = settings.SLACK_SUPPORT_CHANNEL.get(env)
        print(
            f"Hand-offs: answered in Slack channel {support}"
            if support
            else f"Hand-offs: tickets only (set {settings.SLACK_SUPPORT_CHANNEL.name} to answer "
            "them in Slack)"
        )
    rasa_extra: dict[str, str] = {}
    try:
        endpoints = write_endpoints(
            env,
            rasa_extra,
            ROOT / "var" / "endpoints.yml",
            action_port=action_port,
            base=ROOT / "endpoints.yml",
        )
        ensure_tracker_database(env)
    except EndpointConfigError as err:
        print(f"shopbot: {err}", file=sys.stderr)
        return 2
    except SQLAlchemyError as err:
        print(f"shopbot: cannot reach the tracker store database: {err}", file=sys.stderr)
        return 2
    print(f"Conversations: {describe(endpoints)}; Rasa workers: {rasa_extra['SANIC_WORKERS']}")
    services = build_services(
        model,
        env,
        log_dir,
        action_port=action_port,
        rasa_port=rasa_port,
        rasa_host=rasa_host,
        endpoints=endpoints,
        credentials=credentials,
        rasa_extra_env=rasa_extra,
    )
    if only == "rasa":
        services = [svc for svc in services if svc.name == "Rasa server"]
    banner = (
        "\nshopbot is running:\n"
        f"  storefront: http://{rasa_host}:{rasa_port}/storefront/  "
        f"(chat widget{', demo sign-in' if demo else ''})\n"
        f"  REST:       POST http://{rasa_host}:{rasa_port}/webhooks/rest/webhook "
        '{"sender": "me", "message": "hi"}\n'
        "  terminal:   scripts/chat  (customer chat over REST; scripts/staff-console for staff)\n"
        f"  actions:    http://127.0.0.1:{action_port}/webhook (private, localhost only)\n"
        "Press Ctrl-C to stop."
    )
    return serve(services, banner)
