"""Settings: one home for every environment variable, all of them documented in the README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from shop import settings

ROOT = Path(__file__).resolve().parents[2]
CODE = ("shop", "analytics", "actions", "bot")


def readme_variables() -> set[str]:
    """The variables named in the first column of the README's configuration table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", section, flags=re.M))


def test_every_setting_is_in_the_readme_and_nothing_else_is():
    documented = readme_variables()
    assert set(settings.SETTINGS) - documented == set(), "add them to the README's table"
    assert documented - set(settings.SETTINGS) == set(), "the README names unknown variables"


def test_no_other_module_reads_a_setting_by_name():
    names = set(settings.SETTINGS)
    offenders = []
    for package in CODE:
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "shop" / "settings.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in names:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert offenders == []


def test_values_come_from_the_environment_when_asked(monkeypatch):
    monkeypatch.setenv("SHOPBOT_RASA_WORKERS", " 3 ")
    assert settings.RASA_WORKERS.number(1) == 3
    monkeypatch.setenv("SHOPBOT_RASA_WORKERS", "")
    assert settings.RASA_WORKERS.number(1) == 1  # empty means unset: the default
    assert settings.RASA_WORKERS.get({"SHOPBOT_RASA_WORKERS": "4"}) == "4"  # a child's env


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("OFF", False), ("1", True), ("no", False), ("", False)]
)
def test_flags(monkeypatch, value, expected):
    monkeypatch.setenv("SHOPBOT_DEMO_LOGIN", value)
    assert settings.DEMO_LOGIN.flag() is expected  # "" is unset: the default, false


def test_unusable_values_say_which_variable(monkeypatch):
    monkeypatch.setenv("SHOPBOT_RASA_PORT", "fifty")
    with pytest.raises(settings.SettingError, match="SHOPBOT_RASA_PORT='fifty' is not a whole"):
        settings.RASA_PORT.number(1)
    monkeypatch.setenv("SHOPBOT_RASA_WORKERS", "0")
    with pytest.raises(settings.SettingError, match="SHOPBOT_RASA_WORKERS must be at least 1"):
        settings.RASA_WORKERS.number(1)
    monkeypatch.setenv("SHOPBOT_DEMO_LOGIN", "maybe")
    with pytest.raises(settings.SettingError, match="SHOPBOT_DEMO_LOGIN"):
        settings.DEMO_LOGIN.flag()
    monkeypatch.setenv("SHOPBOT_STAFF_SLACK_USERS", " U1, ,U2,")
    assert settings.STAFF_SLACK_USERS.items() == ["U1", "U2"]
