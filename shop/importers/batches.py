"""Writing an import: bulk inserts inside one transaction, together with the ``import_batches``
row that makes importing the same file again change nothing."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from shop.errors import ImportFailed
from shop.importers.files import FileInfo, inspect_file
from shop.importers.report import ImportReport, Progress, progress_noop
from shop.store.bulk import computed_defaults, copy_dicts, copy_rows, uses_copy
from shop.store.models import ImportBatch, Inventory, utcnow

INSERT_CHUNK_ROWS = 5_000  # rows per executemany


IN_CHUNK = 500  # values per IN (...) list; SQLite limits bound parameters per statement


# Products created by an importer get stock bookkeeping right away (nothing on hand yet).
NEW_INVENTORY = {
    "on_hand": 0,
    "on_order": 0,
    "lead_time_days": 14,
    "safety_stock": 0,
    "reorder_point": 0,
}


def chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of ``seq`` of at most ``size`` items."""
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def fetch_map(conn: Connection, key_col, value_col, keys: Iterable[Any]) -> dict[Any, Any]:
    """``{key: value}`` for rows whose ``key_col`` is in ``keys`` (queried in chunks)."""
    out: dict[Any, Any] = {}
    keys = list(dict.fromkeys(keys))
    for part in chunks(keys, IN_CHUNK):
        for k, v in conn.execute(select(key_col, value_col).where(key_col.in_(part))):
            out[k] = v
    return out


def bulk_insert(
    conn: Connection, table, rows: list[dict[str, Any]], progress: Progress, stage: str
) -> int:
    """Insert ``rows`` with executemany in chunks; returns how many were inserted."""
    total = len(rows)
    for start in range(0, total, INSERT_CHUNK_ROWS):
        chunk = rows[start : start + INSERT_CHUNK_ROWS]
        if copy_dicts(conn, table, chunk) is None:
            conn.execute(table.insert(), chunk)
        progress(stage, min(start + INSERT_CHUNK_ROWS, total), total)
    return total


def bulk_insert_frame(
    conn: Connection, table, frame: pd.DataFrame, progress: Progress, stage: str
) -> int:
    """Insert a frame whose columns are ``table``'s, in chunks (parameter dicts are built one
    chunk at a time so a million-row insert never holds them all); returns the row count."""
    total = len(frame)
    for start in range(0, total, INSERT_CHUNK_ROWS):
        part = frame.iloc[start : start + INSERT_CHUNK_ROWS]
        columns = [_python_values(part[name]) for name in part.columns]
        if uses_copy(conn) and not computed_defaults(table, part.columns):
            copy_rows(conn, table.name, list(part.columns), zip(*columns))
        else:
            rows = [dict(zip(part.columns, values)) for values in zip(*columns)]
            conn.execute(table.insert(), rows)
        progress(stage, min(start + INSERT_CHUNK_ROWS, total), total)
    return total


def _python_values(series: pd.Series) -> list[Any]:
    # DB drivers want plain Python values: no numpy scalars, no pandas Timestamps.
    if pd.api.types.is_datetime64_any_dtype(series):
        return list(pd.DatetimeIndex(series).to_pydatetime())
    return series.tolist()


def add_missing_inventory(conn: Connection, product_ids: Iterable[int], progress: Progress) -> int:
    """Create inventory rows (nothing on hand, 14 days lead time) for products lacking one."""
    ids = sorted(set(int(i) for i in product_ids))
    inv = Inventory.__table__
    have = set(fetch_map(conn, inv.c.product_id, inv.c.product_id, ids))
    now = utcnow()
    rows = [
        {"product_id": pid, **NEW_INVENTORY, "updated_at": now} for pid in ids if pid not in have
    ]
    return bulk_insert(conn, inv, rows, progress, "write inventory")


def find_batch(conn: Connection, kind: str, sha256: str) -> dict[str, Any] | None:
    """The stored report of an earlier import of the same file, if any."""
    t = ImportBatch.__table__
    row = conn.execute(
        select(t.c.filename, t.c.imported_at, t.c.report).where(
            t.c.kind == kind, t.c.sha256 == sha256
        )
    ).first()
    if row is None:
        return None
    report = dict(row.report or {})
    report.setdefault("filename", row.filename)
    report["imported_at"] = row.imported_at.isoformat(sep=" ", timespec="seconds")
    return report


def start_batch(conn: Connection, kind: str, info: FileInfo, when: dt.datetime) -> int:
    """Record the file as imported (the unique (kind, sha256) blocks concurrent twins)."""
    t = ImportBatch.__table__
    conn.execute(
        t.insert(),
        {
            "kind": kind,
            "filename": info.path.name[:500],
            "sha256": info.sha256,
            "imported_at": when,
            "report": None,
        },
    )
    return conn.execute(
        select(t.c.id).where(t.c.kind == kind, t.c.sha256 == info.sha256)
    ).scalar_one()


def finish_batch(conn: Connection, batch_id: int, report: ImportReport) -> None:
    """Store the final report with the batch row."""
    t = ImportBatch.__table__
    conn.execute(t.update().where(t.c.id == batch_id).values(report=report.to_dict()))


def already_imported_report(kind: str, info: FileInfo, previous: dict[str, Any]) -> ImportReport:
    """The report for a file imported before: nothing done now, the earlier report attached."""
    return ImportReport(
        kind=kind,
        filename=info.path.name,
        sha256=info.sha256,
        already_imported=True,
        previous=previous,
        imported_at=previous.get("imported_at"),
        notes=[f"this file was already imported on {previous.get('imported_at')}; nothing changed"],
    )


def write_in_one_transaction(
    engine: Engine,
    kind: str,
    info: FileInfo,
    write: Callable[[Connection], None],
    clash: str,
) -> ImportReport | None:
    """Runs ``write`` in one transaction; database errors become ImportFailed (nothing written).

    Returns the earlier report when the same file was imported concurrently and that import won
    (the unique batch row refused ours), else None. ``clash`` says what another process may have
    written, for the message.
    """
    try:
        with engine.begin() as conn:
            write(conn)
    except IntegrityError as exc:
        with engine.connect() as conn:
            previous = find_batch(conn, kind, info.sha256)
        if previous is not None:
            return already_imported_report(kind, info, previous)
        raise ImportFailed(
            f"{info.path.name}: the database refused the data ({exc.orig}); nothing was imported. "
            f"Another process may have {clash} — run the import again."
        ) from None
    except SQLAlchemyError as exc:
        raise ImportFailed(
            f"{info.path.name}: database error during the import ({exc.__class__.__name__}: "
            f"{getattr(exc, 'orig', exc)}); nothing was imported"
        ) from None
    return None


def run_import(
    engine: Engine,
    path: str | Path,
    kind: str,
    *,
    progress: Progress | None,
    clean: Callable[[FileInfo, ImportReport, Progress], Any],
    write: Callable[[Connection, FileInfo, Any, ImportReport, Progress, float], None],
    clash: str,
    check: Callable[[FileInfo], None] | None = None,
) -> ImportReport:
    """The report of importing ``path``: steps 1–4 of this module's docstring.

    ``check`` may refuse the file before anything is read; ``clean`` returns the clean rows (it
    raises ImportFailed when there are none); ``write`` stores them in the one transaction;
    ``clash`` says what a concurrent import may have written, for the message.
    """
    started = time.perf_counter()
    progress = progress or progress_noop
    info = inspect_file(path)
    if check is not None:
        check(info)
    with engine.connect() as conn:
        previous = find_batch(conn, kind, info.sha256)
    if previous is not None:
        report = already_imported_report(kind, info, previous)
        report.seconds = time.perf_counter() - started
        return report

    report = ImportReport(kind=kind, filename=info.path.name, sha256=info.sha256)
    rows = clean(info, report, progress)
    concurrent = write_in_one_transaction(
        engine, kind, info, lambda conn: write(conn, info, rows, report, progress, started), clash
    )
    if concurrent is not None:  # the same file was imported concurrently: that one won
        return concurrent
    report.seconds = time.perf_counter() - started
    return report
