"""The trained Rasa model for tests: trained once per content of config, domain and data.

Training and naming live in ``bot.server.rasa_model`` (``models/shopbot-<hash>.tar.gz``, shared with
``make run``), so tests reuse the model the servers use and retrain only when the data changed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.server.rasa_model import ROOT, ensure_model, model_path, rasa_bin, rasa_env

__all__ = [
    "ROOT",
    "model_path",
    "rasa",
    "rasa_env",
    "rasa_model",
    "start_background_training",
    "stop_background_training",
]

# A hung Rasa command must still end the test run.
RASA_TIMEOUT_SECONDS = 1800


def rasa(*args: str, timeout: float = RASA_TIMEOUT_SECONDS) -> subprocess.CompletedProcess:
    """``rasa ARGS`` run in the project root with telemetry off; output captured as text."""
    return subprocess.run(
        [rasa_bin(), *args],
        cwd=ROOT,
        env=rasa_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def rasa_model() -> Path:
    """Session-wide trained model (trains at most once per test run, usually not at all).

    Every test that needs the model asks for this fixture (directly or through ``assistant``):
    that is how conftest.py knows to run it after the others, while the model trains."""
    path, _trained = ensure_model(ROOT)
    return path


def start_background_training(log: Path) -> subprocess.Popen:
    """Starts ``python -m bot.server.rasa_model`` (which trains the model unless the cache has it),
    its output going to ``log``. Whoever needs the model meanwhile waits for it in
    ``ensure_model``, which holds a lock while it trains."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.server.rasa_model"],
            cwd=ROOT,
            env=rasa_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, with the `rasa train` it starts
        )


def stop_background_training(proc: subprocess.Popen) -> None:
    """Stops a training still running when the tests end (e.g. none of them needed the model)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
