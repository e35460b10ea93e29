"""Versioned model artifacts on disk: ``models/analytics/<version>/<name>.joblib`` + metadata.

``shopbot train`` writes a new version folder and then points ``LATEST`` at it, so a reader never
sees a half-written version. Servers load once at start with :func:`load`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import joblib

from shop import settings
from shop.errors import ModelMissing

LATEST = "LATEST"


def new_version() -> str:
    """A sortable version id: UTC time to the microsecond."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


class VersionWriter:
    """Collects artifacts for one version in a temp folder; :meth:`commit` publishes them."""

    def __init__(self, root: Path | None = None, version: str | None = None):
        self.root = Path(root or settings.models_dir())
        self.version = version or new_version()
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.version}-", dir=self.root))
        self.metadata: dict[str, Any] = {"version": self.version, "created_at": self.version}
        # What this version saved, for later steps of the same training (no reload from disk).
        self.saved: dict[str, Any] = {}

    def save(self, name: str, obj: Any) -> None:
        joblib.dump(obj, self._tmp / f"{name}.joblib", compress=3)
        self.saved[name] = obj

    def commit(self, keep: int = 3) -> Path:
        (self._tmp / "metadata.json").write_text(json.dumps(self.metadata, indent=2, default=str))
        final = self.root / self.version
        os.replace(self._tmp, final)
        pointer = self.root / f".{LATEST}.tmp"
        pointer.write_text(self.version)
        os.replace(pointer, self.root / LATEST)
        _prune(self.root, keep)
        return final

    def abort(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)


def _prune(root: Path, keep: int) -> None:
    versions = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in versions[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def latest_version(root: Path | None = None) -> str | None:
    pointer = Path(root or settings.models_dir()) / LATEST
    return pointer.read_text().strip() if pointer.exists() else None


def version_dir(root: Path | None = None, version: str | None = None) -> Path:
    root = Path(root or settings.models_dir())
    version = version or latest_version(root)
    if not version or not (root / version).is_dir():
        raise ModelMissing(
            f"no trained analytics models in {root} — run `shopbot train` (or `make train`) first"
        )
    return root / version


def metadata(root: Path | None = None, version: str | None = None) -> dict[str, Any]:
    return json.loads((version_dir(root, version) / "metadata.json").read_text())


def load(name: str, root: Path | None = None, version: str | None = None) -> Any:
    """The artifact ``name`` of ``version`` (default: the latest)."""
    path = version_dir(root, version) / f"{name}.joblib"
    if not path.exists():
        raise ModelMissing(f"the trained model has no '{name}' — run `shopbot train` again")
    return joblib.load(path)
