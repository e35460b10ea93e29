"""The load benchmark's throwaway world gives its servers secrets they accept (the servers refuse
secrets shorter than 32 bytes, so a short one stops the benchmark after its demo shop is built)."""

from __future__ import annotations

import shutil

from bench.loadkit import world as world_module
from shop import settings


def test_the_bench_world_secrets_are_long_enough(monkeypatch, tmp_path):
    monkeypatch.setattr(world_module, "ensure_model", lambda: (tmp_path / "model.tar.gz", False))
    world = world_module.World()
    try:
        for setting in (settings.SESSION_SECRET, settings.STAFF_CONSOLE_TOKEN,
                        settings.RASA_API_TOKEN, settings.ACTION_SECRET):  # fmt: skip
            value = setting.secret_value(world.env)
            assert value is not None and len(value.encode()) >= settings.MIN_SECRET_BYTES
        assert world.env["SHOPBOT_ENV_FILE"] == "off"
    finally:
        shutil.rmtree(world.workdir, ignore_errors=True)
