"""``shopbot promotion`` and ``shopbot experiment`` as staff call them, on a real database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.shop_data import build_shop, store_segments

SHOPBOT = str(Path(sys.executable).parent / "shopbot")


@pytest.fixture
def run(engine, sqlite_url, tmp_path):
    ids = build_shop(engine)
    store_segments(engine, {ids["ada"]: (0, "At risk"), ids["bob"]: (1, "Loyal")})
    env = {"DATABASE_URL": sqlite_url, "SHOPBOT_ENV_FILE": "off", "PATH": "/usr/bin:/bin",
           "SHOPBOT_MODELS_DIR": str(tmp_path / "models")}  # fmt: skip

    def shopbot(*args, ok=True):
        proc = subprocess.run([SHOPBOT, *args], capture_output=True, text=True, env=env)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert (proc.returncode == 0) == ok, (proc.returncode, proc.stdout, proc.stderr)
        return proc

    return shopbot


def test_promotion_lifecycle_and_codes(run):
    made = json.loads(
        run("promotion", "create", "home10", "--segments", "at risk", "--percent", "10",
            "--categories", "home", "--starts", "2026-11-01", "--days", "60", "--json").stdout
    )  # fmt: skip
    assert (made["status"], made["reward"], made["ends_at"]) == (
        "draft", {"kind": "percent", "value": 10.0, "categories": ["home"]}, "2026-12-31T00:00:00"
    )  # fmt: skip
    assert json.loads(run("promotion", "activate", "home10", "--json").stdout)["status"] == "active"
    codes = json.loads(run("promotion", "codes", "home10", "--json").stdout)
    assert codes["issued"] == 1 and [c["email"] for c in codes["codes"]] == ["ada@example.com"]
    assert json.loads(run("promotion", "codes", "home10", "--json").stdout)["issued"] == 0
    assert json.loads(run("promotion", "pause", "home10", "--json").stdout)["status"] == "paused"
    assert json.loads(run("promotion", "resume", "home10", "--json").stdout)["status"] == "active"
    assert "home10 [ended]" in run("promotion", "end", "home10").stdout
    again = run("promotion", "resume", "home10", ok=False)
    assert again.returncode == 2 and "an ended promotion stays ended" in again.stderr
    listed = json.loads(run("promotion", "list", "--json").stdout)
    assert [(p["name"], p["codes"]) for p in listed] == [("home10", 1)]
    out = json.loads(run("promotion", "consent", "ada@example.com", "opt-out", "--reason",
                         "asked by phone", "--json").stdout)  # fmt: skip
    assert (out["choice"], out["reason"]) == ("opt_out", "asked by phone")
    assert "opt-in recorded" in run("promotion", "consent", "ada@example.com", "opt-in").stdout


def test_bad_input_is_answered_clearly(run):
    unknown = run("promotion", "create", "x", "--segments", "vip", "--percent", "10",
                  "--days", "7", ok=False)  # fmt: skip
    assert "no segment matches 'vip'; the segments are: 0: At risk; 1: Loyal" in unknown.stderr
    bad_date = run("promotion", "create", "x", "--segments", "loyal", "--percent", "10",
                   "--ends", "next week", ok=False)  # fmt: skip
    assert "is not a date; write it like 2026-12-24" in bad_date.stderr
    missing = run("promotion", "pause", "nothing", ok=False)
    assert "There is no promotion called 'nothing'" in missing.stderr
    assert json.loads(run("promotion", "list", "--json").stdout) == []


def test_experiment_create_and_report(run):
    run("promotion", "create", "home10", "--segments", "at risk,loyal", "--percent", "10",
        "--days", "30")  # fmt: skip
    made = json.loads(
        run("experiment", "create", "kitchen", "--promotion", "home10", "--baseline", "0.10",
            "--mde", "0.06", "--start", "--json").stdout
    )  # fmt: skip
    assert made["sample_size_per_arm"] == 488 and made["status"] == "running"
    assert [a["promotion_id"] for a in made["arms"]] == [None, 1]
    report = json.loads(run("experiment", "report", "kitchen", "--json").stdout)
    assert report["state"] == "collecting" and report["winner"] is None
    assert report["counts"] == {"control": 0, "offer": 0}
    short = run("experiment", "create", "short", "--baseline", "0.1", "--mde", "0.05",
                "--min-days", "3", ok=False)  # fmt: skip
    assert "at least one weekly cycle" in short.stderr
    assert "There is no experiment 'nope'" in run("experiment", "report", "nope", ok=False).stderr
