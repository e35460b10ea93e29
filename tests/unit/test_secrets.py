"""Secrets: shopbot's own are at least 32 bytes (refused at start otherwise, with a message that
names the variable), and a run without them gets random ones."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.server.runner import with_secrets
from shop import settings

SHORT = "too-short-secret"
LONG = "x" * 32


@pytest.mark.parametrize(
    "name",
    [
        "SHOPBOT_SESSION_SECRET",
        "SHOPBOT_ACTION_SECRET",
        "SHOPBOT_STAFF_CONSOLE_TOKEN",
        "RASA_API_TOKEN",
    ],
)
def test_a_short_secret_is_refused_by_name(name):
    with pytest.raises(settings.SettingError, match=f"{name} is 16 bytes long; use at least 32"):
        settings.check_secrets({name: SHORT})
    settings.check_secrets({name: LONG})


def test_a_run_without_secrets_gets_random_ones_of_full_length():
    env = with_secrets({"PATH": "/usr/bin"})
    for setting in (settings.SESSION_SECRET, settings.ACTION_SECRET, settings.RASA_API_TOKEN):
        assert len(env[setting.name]) >= 32
    again = with_secrets({"PATH": "/usr/bin"})
    assert again[settings.ACTION_SECRET.name] != env[settings.ACTION_SECRET.name]
    kept = with_secrets({settings.SESSION_SECRET.name: LONG})
    assert kept[settings.SESSION_SECRET.name] == LONG
    with pytest.raises(settings.SettingError):
        with_secrets({settings.SESSION_SECRET.name: SHORT})


@pytest.mark.parametrize("module", ["bot.server.action_server", "bot.server.rasa_server"])
def test_each_server_refuses_to_start_with_a_short_secret(module):
    env = {"SHOPBOT_SESSION_SECRET": SHORT, "RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin"}
    done = subprocess.run(
        [sys.executable, "-m", module, "run"] if module.endswith("rasa_server") else
        [sys.executable, "-m", module, "--port", "1"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "SHOPBOT_SESSION_SECRET is 16 bytes long" in done.stderr


def test_the_action_server_will_not_listen_on_other_addresses_without_its_secret():
    env = {"RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.server.action_server", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without SHOPBOT_ACTION_SECRET" in done.stderr
