"""The trained Rasa model: trained once per content of config, domain and data, then reused.

Models are named ``models/shopbot-<hash>.tar.gz`` after a hash of everything that goes into
training, so "is the model stale?" is a file lookup, and tests and `make run` share one model.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from shop import settings
from shop.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT
TRAINING_INPUTS = ("config.yml", "domain.yml", "data")
# shopbot's own NLU components (config.yml names them): a change to its code changes the model.
COMPONENT_SOURCES = (
    "bot/nlu/intent_model.py",
    "bot/nlu/intent_classifier.py",
    "bot/nlu/response_selection.py",
    "bot/nlu/component.py",
    "bot/nlu/regex_matches.py",
    "bot/nlu/entity_model.py",
    "bot/nlu/entity_tagger.py",
    "analytics/text_encoder.py",
)
# Bump to force a retrain when something outside the training files changes the model.
MODEL_FORMAT = "1"


def training_hash(root: Path = ROOT) -> str:
    """Hash of config, domain, training data and shopbot's NLU component (paths and contents)."""
    h = hashlib.sha256(MODEL_FORMAT.encode())
    for f in _training_files(root):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _training_files(root: Path) -> Iterator[Path]:
    for name in TRAINING_INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        yield from (f for f in files if f.exists() and f.suffix in {".yml", ".yaml"})
    yield from (root / name for name in COMPONENT_SOURCES if (root / name).exists())


def model_path(root: Path = ROOT, models_dir: Path | None = None) -> Path:
    return (models_dir or root / "models") / f"shopbot-{training_hash(root)}.tar.gz"


def rasa_env() -> dict[str, str]:
    env = dict(os.environ)
    env[settings.TELEMETRY.name] = "false"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def rasa_bin() -> str:
    return str(Path(sys.executable).parent / "rasa")


def train_command(root: Path, out_dir: Path, name: str) -> list[str]:
    """The ``rasa train`` command line (run in ``root``) that writes ``out_dir/name.tar.gz``."""
    return [
        rasa_bin(),
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--data",
        "data",
        "--out",
        str(out_dir),
        "--fixed-model-name",
        name,
    ]


def cache_dir() -> Path | None:
    """Where trained models are also kept across clones (like pip's cache): the same training
    inputs give the same model, so a fresh checkout need not train for minutes again.
    ``SHOPBOT_MODEL_CACHE=off`` disables it."""
    value = settings.MODEL_CACHE.get() or ""
    if value.lower() in {"off", "0", "false", "no"}:
        return None
    return Path(value) if value else Path.home() / ".cache" / "shopbot" / "rasa-models"


def _copy_whole(source: Path, target: Path) -> None:
    """Copies ``source`` to ``target`` so that no reader ever sees a partial ``target``."""
    tmp = target.parent / f".{target.name}.{os.getpid()}.partial"
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _training_lock(models_dir: Path) -> Iterator[None]:
    """Held while a process checks for and trains the model: a second process that needs the
    same model (tests while a background training runs, ``make run`` beside ``make test``)
    waits for the first and then finds its model, instead of training it again."""
    with open(models_dir / ".training.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_model(root: Path = ROOT, models_dir: Path | None = None) -> tuple[Path, bool]:
    """The path of an up-to-date model, training it first if needed; and whether it trained."""
    target = model_path(root, models_dir)
    if target.exists():
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    with _training_lock(target.parent):
        if target.exists():  # trained by another process while this one waited
            return target, False
        return target, _fetch_or_train(root, target)


def _fetch_or_train(root: Path, target: Path) -> bool:
    """Puts the model at ``target`` from the cache or by training it; whether it trained."""
    cache = cache_dir()
    cached = cache / target.name if cache else None
    if cached is not None and cached.exists():
        print(f"==> using the cached Rasa model {cached}", file=sys.stderr)
        _copy_whole(cached, target)
        return False
    name = target.name[: -len(".tar.gz")]
    # Trained into a folder of its own and moved into place whole: a server loading the model
    # (or a second process training it) never sees a half-written archive.
    with tempfile.TemporaryDirectory(prefix=".training-", dir=target.parent) as tmp:
        cmd = train_command(root, Path(tmp), name)
        print("==> training the Rasa model (rasa train, a few minutes)", file=sys.stderr)
        subprocess.run(cmd, cwd=root, env=rasa_env(), check=True)
        os.replace(Path(tmp) / target.name, target)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            _copy_whole(target, cached)
            for old in sorted(cache.glob("shopbot-*.tar.gz"), key=lambda p: p.stat().st_mtime)[:-3]:
                old.unlink(missing_ok=True)  # keep the three newest
        except OSError as err:  # a cache is a convenience, never a reason to fail
            print(f"warning: could not cache the model in {cache}: {err}", file=sys.stderr)
    # Keep the directory tidy: older shopbot models are replaced by this one.
    for old in target.parent.glob("shopbot-*.tar.gz"):
        if old != target:
            old.unlink(missing_ok=True)
    return True


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    sys.exit(128 + signum)  # unwinds, so the half-trained model's folder is removed


if __name__ == "__main__":
    # ``python -m bot.server.rasa_model``: make sure the model exists (the tests train it in the
    # background this way) and print its path.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(ensure_model()[0])
