"""The CLI as users call it: the contract's commands exist, each has --help, JSON parses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SHOPBOT = str(Path(sys.executable).parent / "shopbot")

CONTRACT_COMMANDS = [
    ["setup-demo"],
    ["import", "transactions"],
    ["import", "ratings"],
    ["import", "inventory"],
    ["train"],
    ["run"],
    ["segments"],
    ["forecast"],
    ["reorder"],
    ["recommend"],
    ["evaluate", "segments"],
    ["evaluate", "forecast"],
    ["evaluate", "recommender"],
    ["evaluate", "nlu"],
    ["db", "upgrade"],
    ["promotion", "create"],
    ["promotion", "list"],
    ["promotion", "pause"],
    ["promotion", "resume"],
    ["promotion", "end"],
    ["promotion", "codes"],
    ["experiment", "create"],
    ["experiment", "report"],
]
# Commands that print results must offer --json.
JSON_COMMANDS = [c for c in CONTRACT_COMMANDS if c not in (["run"], ["db", "upgrade"])]


def shopbot(*args, env=None, check=True):
    return subprocess.run([SHOPBOT, *args], capture_output=True, text=True, env=env, check=check)


@pytest.mark.parametrize("command", CONTRACT_COMMANDS, ids=" ".join)
def test_every_contract_command_has_help(command):
    out = shopbot(*command, "--help").stdout
    assert out.startswith("usage: shopbot " + " ".join(command))
    if command in JSON_COMMANDS:
        assert "--json" in out


def test_unknown_command_is_a_usage_error():
    proc = shopbot("frobnicate", check=False)
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_db_current_json_and_migrations_via_cli(tmp_path, monkeypatch):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "PATH": "/usr/bin:/bin"}
    before = json.loads(shopbot("db", "current", "--json", env=env).stdout)
    assert before["current"] is None and before["up_to_date"] is False
    shopbot("db", "upgrade", env=env)
    after = json.loads(shopbot("db", "current", "--json", env=env).stdout)
    assert after["current"] == after["head"] and after["up_to_date"] is True


def test_train_on_an_empty_database_fails_clearly(tmp_path):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        "SHOPBOT_MODELS_DIR": str(tmp_path / "models"),
        "PATH": "/usr/bin:/bin",
    }
    proc = shopbot("train", "--json", env=env, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "setup-demo" in json.loads(proc.stdout)["error"]
    assert not (tmp_path / "models" / "LATEST").exists()
