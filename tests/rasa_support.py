"""The trained Rasa model for tests: trained once per content of config, domain and data.

Training and naming live in ``bot.rasa_model`` (``models/shopbot-<hash>.tar.gz``, shared with
``make run``), so tests reuse the model the servers use and retrain only when the data changed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.rasa_model import ROOT, ensure_model, model_path, rasa_bin, rasa_env

__all__ = ["ROOT", "model_path", "rasa", "rasa_env", "trained_model", "rasa_model"]

# A hung Rasa command must still end the test run.
RASA_TIMEOUT_SECONDS = 1800


def trained_model() -> Path:
    """The path of a model trained on the current inputs, training it first if there is none."""
    path, _trained = ensure_model(ROOT)
    return path


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
    """Session-wide trained model (trains at most once per test run, usually not at all)."""
    return trained_model()


if __name__ == "__main__":
    print(trained_model())
