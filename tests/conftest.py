"""Shared fixtures: throwaway databases on SQLite and on the local PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
# A developer's .env (e.g. DATABASE_URL of a real shop) must never reach the tests' commands.
os.environ["SHOPBOT_ENV_FILE"] = "off"

from shop.store import make_engine, upgrade  # noqa: E402
from support.rasa_support import (  # noqa: E402
    model_path,
    rasa_model,  # noqa: F401  (the trained Rasa model, see rasa_support.py)
    start_background_training,
    stop_background_training,
)
from support.servers import assistant, pg_assistant  # noqa: E402,F401  (running assistants, see servers.py)

_TRAINER = pytest.StashKey[object]()


def _needs_model(item) -> bool:
    return "rasa_model" in getattr(item, "fixturenames", ())


def _needs_servers(item) -> bool:
    return bool({"assistant", "pg_assistant"} & set(getattr(item, "fixturenames", ())))


def pytest_itemcollected(item) -> None:
    """Every test that asks for the trained model (directly or through ``assistant``) is marked
    ``rasa``, and every test that asks for a running assistant ``servers``, so that ``-m`` selects
    exactly those (``make test`` runs the ``servers`` tests beside the others)."""
    if _needs_model(item):
        item.add_marker(pytest.mark.rasa)
    if _needs_servers(item):
        item.add_marker(pytest.mark.servers)


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: only the tests that will run count
def pytest_collection_modifyitems(config, items) -> None:
    """Tests that need the trained Rasa model run after the others; if the model must be
    trained first, it trains in the background meanwhile. Training is mostly one core's work for
    several minutes, so on two cores it overlaps the other tests instead of adding to the run."""
    needs_model = [item for item in items if _needs_model(item)]
    if not needs_model:
        return
    later = {id(item) for item in needs_model}
    items[:] = [item for item in items if id(item) not in later] + needs_model
    if config.option.collectonly or model_path().exists():
        return
    log = Path(config.rootpath) / "test-output" / "rasa-train.log"
    print(f"\n==> the Rasa model is missing: taking it from the cache or training it ({log})")
    config.stash[_TRAINER] = start_background_training(log)


def pytest_unconfigure(config) -> None:
    trainer = config.stash.get(_TRAINER, None)
    if trainer is not None:
        stop_background_training(trainer)


# The PostgreSQL server used for the PostgreSQL half of the store tests. A throwaway database is
# created on it for each test session and dropped afterwards.
PG_ADMIN_URL = os.environ.get(
    "SHOPBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _pg_admin_engine() -> Engine:
    return make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'shop.db'}"


@pytest.fixture
def engine(sqlite_url) -> Iterator[Engine]:
    """A fresh, migrated SQLite database in a temporary folder."""
    eng = make_engine(sqlite_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    admin = _pg_admin_engine()
    name = f"shopbot_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - environment problem, reported clearly
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is needed for this test: {exc}")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def pg_engine(pg_url) -> Iterator[Engine]:
    """A fresh, migrated PostgreSQL database."""
    eng = make_engine(pg_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request) -> Engine:
    """The same test on a fresh SQLite and a fresh PostgreSQL database."""
    name = "engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)


@dataclass
class TrainedDemo:
    engine: Engine
    url: str
    models_dir: Path


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory) -> Iterator[TrainedDemo]:
    """A small demo shop (seed 7) with every analytics model trained, shared by the session.

    Tests must not change it. SHOPBOT_MODELS_DIR is not set globally: pass ``models_dir``.
    """
    from analytics.training import is_stale, train_all
    from shop.demo import build_demo

    d = tmp_path_factory.mktemp("trained-demo")
    url = f"sqlite:///{d / 'shop.db'}"
    eng = make_engine(url)
    upgrade(eng)
    build_demo(eng, seed=7, customers=300, products=100, days=400)
    mp = pytest.MonkeyPatch()
    mp.setenv("SHOPBOT_MODELS_DIR", str(d / "models"))
    try:
        assert is_stale(eng)
        report = train_all(eng, show_progress=False)
        assert {k: v["status"] for k, v in report.steps.items()} == {
            "segments": "ok",
            "forecasts": "ok",
            "reorder": "ok",
            "recommender": "ok",
            "catalogue": "ok",
        }
        assert not is_stale(eng)
    finally:
        mp.undo()
    yield TrainedDemo(eng, url, d / "models")
    eng.dispose()
