"""Shared parts of the importers: the report, reading CSV/XLSX files, bookkeeping of imported files.

Every importer follows the same shape:

1. fingerprint the file (sha256) and stop early when ``import_batches`` already holds it;
2. read it in chunks of raw text cells (CSV: encoding and delimiter detected; XLSX: all sheets);
3. clean it with vectorised pandas code, counting every dropped row under exactly one reason;
4. write the clean part with bulk Core inserts inside ONE transaction, together with the
   ``import_batches`` row, so a file lands completely or not at all.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import itertools
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from shop.errors import ImportFailed
from shop.store.models import ImportBatch, Inventory, utcnow

# progress(stage, done, total): called now and then by long imports; total is 0 when unknown.
Progress = Callable[[str, int, int], None]

CSV_CHUNK_ROWS = 100_000  # rows parsed into one DataFrame at a time (bounds memory)
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

# Why rows were dropped. Keys are stable (scripts rely on them); each dropped row is counted once,
# under the first reason that applies, in this order.
TRANSACTION_REASONS: dict[str, str] = {
    "malformed_row": "malformed row (wrong number of fields)",
    "cancelled": "cancellation (invoice starts with C)",
    "bad_invoice": "invoice number missing or not 6 digits",
    "bad_stock_code": "stock code missing or longer than 32 characters",
    "non_product_code": "not a product (postage, fees, adjustments, vouchers…)",
    "bad_quantity": "quantity missing, not a number or not whole",
    "non_positive_quantity": "quantity zero or negative",
    "bad_price": "price missing or not a number",
    "non_positive_price": "price zero or negative",
    "missing_customer_id": "customer id missing",
    "bad_customer_id": "customer id malformed",
    "bad_date": "date missing, unreadable or implausible",
    "outlier": "outlier (over 10,000 units or line value over 50,000)",
    "duplicate_row": "exact duplicate of an earlier row",
    "order_number_taken": "order number already used by another source",
    "order_already_imported": "order already imported from this file",
}
RATING_REASONS: dict[str, str] = {
    "malformed_row": "malformed row (wrong number of fields)",
    "bad_user_id": "user id missing or malformed",
    "bad_item_id": "item id missing or malformed",
    "bad_rating": "rating missing or not a number",
    "rating_out_of_range": "rating outside 1–5",
    "bad_timestamp": "timestamp missing, unreadable or implausible",
    "duplicate_rating": "same user and item rated again later in the file",
}
INVENTORY_REASONS: dict[str, str] = {
    "malformed_row": "malformed row (wrong number of fields)",
    "bad_sku": "SKU missing or malformed (blanks inside, over 32 characters)",
    "bad_number": "on hand missing, or a figure not a whole number (or absurdly large)",
    "negative_number": "a stock figure or lead time below zero",
    "unknown_sku": "no product with this SKU (products come from imported sales or ratings)",
    "duplicate_sku": "same SKU again later in the file (the last row wins)",
}
REASONS = {
    "transactions": TRANSACTION_REASONS,
    "ratings": RATING_REASONS,
    "inventory": INVENTORY_REASONS,
}
CREATED_KEYS = ("customers", "products", "inventory", "orders", "order_items", "ratings")

# Identifiers: anything printable without blanks; "17850.0" (a number that went through a
# spreadsheet) means "17850".
_FLOAT_INT = re.compile(r"^([+-]?\d+)\.0*$")
# Plausible time range for historic records.
EARLIEST_DATE = pd.Timestamp("1990-01-01")


@dataclass
class ImportReport:
    """What an import read, kept, dropped (and why) and created; ``to_dict()`` and ``format()``."""

    kind: str
    filename: str
    sha256: str = ""
    rows_read: int = 0
    rows_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CREATED_KEYS, 0))
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    skipped_orders: dict[str, int] = field(default_factory=dict)
    already_imported: bool = False
    previous: dict[str, Any] | None = None
    imported_at: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Every known reason is present (0 when nothing was dropped for it): stable keys.
        self.dropped = {**dict.fromkeys(REASONS.get(self.kind, {}), 0), **self.dropped}

    @property
    def rows_dropped(self) -> int:
        """Rows dropped for any reason."""
        return sum(self.dropped.values())

    def drop(self, reason: str, count: int) -> None:
        if reason not in REASONS.get(self.kind, {reason: ""}):
            raise KeyError(f"unknown drop reason {reason!r}")
        self.dropped[reason] = self.dropped.get(reason, 0) + int(count)

    def nothing_usable(self) -> ImportFailed:
        """The error for a file none of whose rows survived cleaning (with the reasons)."""
        reasons = ", ".join(f"{k} {v}" for k, v in self.dropped.items() if v)
        return ImportFailed(
            f"{self.filename}: none of the {self.rows_read:,} rows is usable ({reasons}); "
            "nothing was imported"
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "kind": self.kind,
            "filename": self.filename,
            "sha256": self.sha256,
            "already_imported": self.already_imported,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_dropped": self.rows_dropped,
            "dropped": dict(self.dropped),
            "created": dict(self.created),
            "updated": dict(self.updated),
            "unchanged": dict(self.unchanged),
            "skipped_orders": dict(self.skipped_orders),
            "imported_at": self.imported_at,
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
            "previous": self.previous,
        }

    def format(self) -> str:
        """A readable, aligned text table of the report (reasons with no drops are left out)."""
        title = f"Import of {self.kind} from {self.filename}"
        if self.sha256:
            title += f" (sha256 {self.sha256[:12]})"
        lines = [title]
        if self.already_imported:
            when = (self.previous or {}).get("imported_at") or "earlier"
            lines.append(f"  already imported ({when} UTC): nothing changed. Earlier report:")
            if self.previous:
                earlier = ImportReport.from_dict(self.previous)
                lines += ["  " + line for line in earlier.format().splitlines()[1:]]
            return "\n".join(lines)
        labels = REASONS.get(self.kind, {})
        rows: list[tuple[str, str, str]] = [
            ("rows read", f"{self.rows_read:,}", ""),
            ("rows kept", f"{self.rows_kept:,}", ""),
            ("rows dropped", f"{self.rows_dropped:,}", ""),
        ]
        rows += [
            (f"  {reason}", f"{count:,}", labels.get(reason, ""))
            for reason, count in self.dropped.items()
            if count
        ]
        hidden = {
            "transactions": ("ratings",),
            "ratings": ("orders", "order_items"),
            "inventory": ("customers", "products", "orders", "order_items", "ratings"),
        }
        for group, values in (
            ("created", self.created),
            ("updated", self.updated),
            ("unchanged", self.unchanged),
            ("orders skipped", self.skipped_orders),
        ):
            shown = {
                k: v
                for k, v in values.items()
                if k not in hidden.get(self.kind, ()) and (v or group == "created")
            }
            if shown:
                rows.append((group, "", ""))
                rows += [
                    (f"  {k.replace('_', ' ')}", f"{v:,}", labels.get(k, ""))
                    for k, v in shown.items()
                ]
        rows.append(("time", f"{self.seconds:.1f} s", ""))
        width = max(len(label) for label, _, _ in rows)
        vwidth = max(len(value) for _, value, _ in rows)
        lines += [
            f"  {label:<{width}}  {value:>{vwidth}}  {note}".rstrip() for label, value, note in rows
        ]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        """A report rebuilt from ``to_dict()`` output (e.g. the one stored in import_batches)."""
        known = {
            k: data[k]
            for k in (
                "kind",
                "filename",
                "sha256",
                "rows_read",
                "rows_kept",
                "dropped",
                "created",
                "updated",
                "unchanged",
                "skipped_orders",
                "already_imported",
                "imported_at",
                "seconds",
                "notes",
            )
            if k in data
        }
        known.setdefault("kind", "transactions")
        known.setdefault("filename", "?")
        created = dict.fromkeys(CREATED_KEYS, 0)
        created.update(known.get("created") or {})
        known["created"] = created
        return cls(**known)


def progress_noop(_stage: str, _done: int, _total: int) -> None:
    """A progress callback that does nothing."""


# ---- files --------------------------------------------------------------------------------------


@dataclass
class FileInfo:
    """A file to import: where it is, its fingerprint and, for text files, its encoding."""

    path: Path
    sha256: str
    size: int
    kind: str  # "csv" | "xlsx"
    encoding: str = "utf-8"
    errors: str = "strict"
    has_nul: bool = False  # NUL bytes (broken exports): removed before parsing

    @property
    def source(self) -> str:
        """The ``orders.source`` value for orders from this file."""
        return f"import:{self.sha256[:12]}"


def inspect_file(path: str | Path) -> FileInfo:
    """The file's fingerprint, type and text encoding; ImportFailed when it cannot be used."""
    p = Path(path)
    if not p.exists():
        raise ImportFailed(f"{p}: no such file — check the path")
    if not p.is_file():
        raise ImportFailed(f"{p}: not a file — give the path of a CSV or XLSX file")
    sha = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    cp1252 = codecs.getincrementaldecoder("cp1252")()
    utf8_ok = cp1252_ok = True
    head = b""
    size = 0
    has_nul = False
    try:
        with p.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                if not head:
                    head = chunk[:8]
                size += len(chunk)
                sha.update(chunk)
                has_nul = has_nul or b"\x00" in chunk
                if utf8_ok:
                    try:
                        utf8.decode(chunk)
                    except UnicodeDecodeError:
                        utf8_ok = False
                if cp1252_ok:
                    try:
                        cp1252.decode(chunk)
                    except UnicodeDecodeError:
                        cp1252_ok = False
    except OSError as exc:
        raise ImportFailed(f"{p}: cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise ImportFailed(f"{p.name}: the file is empty — nothing to import")
    digest = sha.hexdigest()
    if head.startswith(b"PK\x03\x04") or p.suffix.lower() in (".xlsx", ".xlsm"):
        return FileInfo(p, digest, size, "xlsx")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFailed(
            f"{p.name}: an old binary Excel (.xls) workbook — save it as .xlsx or CSV and import that"
        )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return FileInfo(p, digest, size, "csv", "utf-16", has_nul=True)
    errors = "strict"
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            # Only the very end is a cut multi-byte character (a half-written file): still UTF-8.
            errors = "replace"
        return FileInfo(p, digest, size, "csv", "utf-8-sig", errors, has_nul)
    if cp1252_ok:
        return FileInfo(p, digest, size, "csv", "cp1252", has_nul=has_nul)
    return FileInfo(p, digest, size, "csv", "latin-1", has_nul=has_nul)  # decodes any bytes


def normalise_header(name: Any) -> str:
    """``"Customer ID"`` → ``"customerid"``: header matching ignores case, blanks and punctuation."""
    return re.sub(r"[^a-z0-9]", "", str(name).strip().lower())


def match_columns(header: Sequence[Any], aliases: dict[str, Sequence[str]]) -> dict[str, int]:
    """Canonical column name → position in ``header`` for every alias found (first one wins)."""
    positions: dict[str, int] = {}
    normalised = [normalise_header(h) for h in header]
    for canonical, names in aliases.items():
        for i, h in enumerate(normalised):
            if h in names:
                positions[canonical] = i
                break
    return positions


def _delimiter_for(line: str, candidates: Sequence[str], score: Callable[[list[str]], int]) -> str:
    best, best_key = candidates[0], (-1, -1)
    for delim in candidates:
        try:
            fields = next(csv.reader([line], delimiter=delim))
        except (csv.Error, StopIteration):
            continue
        key = (score(fields), len(fields))
        if key > best_key:
            best, best_key = delim, key
    return best


def sniff_delimiter(first_line: str, score: Callable[[list[str]], int]) -> str:
    """The delimiter (``, ; TAB |``) that makes the first line best match the expected columns.

    ``score`` rates a split of the line (e.g. how many known column names it contains); ties go to
    the split with more fields, then to the comma.
    """
    return _delimiter_for(first_line, (",", ";", "\t", "|"), score)


def open_text(info: FileInfo):
    """The file opened as text with the detected encoding (newline='' as the csv module wants)."""
    try:
        return info.path.open("r", encoding=info.encoding, errors=info.errors, newline="")
    except OSError as exc:  # pragma: no cover - the file was readable a moment ago
        raise ImportFailed(f"{info.path}: cannot be read ({exc.strerror or exc})") from None


def first_line(info: FileInfo) -> str:
    """The first non-blank line of a text file (for sniffing)."""
    with open_text(info) as fh:
        for line in fh:
            if line.strip():
                return line.rstrip("\r\n").lstrip("\ufeff")
    return ""


@dataclass
class RawChunk:
    """Up to CSV_CHUNK_ROWS data rows as text cells with canonical column names."""

    frame: pd.DataFrame
    malformed: int = 0


def csv_reader(lines: Iterable[str], delimiter: str, strip_nul: bool = False):
    """A csv reader over text lines; with ``strip_nul``, NUL characters are removed first."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    return csv.reader(_without_nul(lines) if strip_nul else lines, delimiter=delimiter)


def _without_nul(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        yield line.replace("\x00", "") if "\x00" in line else line


def _is_blank(row: list[str]) -> bool:
    return not row or not "".join(row).strip()


def read_header(reader, filename: str) -> list[str] | None:
    """The first non-blank row of the reader (None for a file of blank lines)."""
    try:
        for row in reader:
            if not _is_blank(row):
                return row
    except csv.Error as exc:
        raise ImportFailed(
            f"{filename}: line {reader.line_num}: the CSV cannot be parsed ({exc}); "
            "nothing was imported"
        ) from None
    return None


def chunk_frames(
    reader,
    width: int,
    positions: dict[str, int],
    columns: Sequence[str],
    progress: Progress,
    filename: str,
    first_rows: Sequence[list[str]] = (),
) -> Iterator[RawChunk]:
    """DataFrames of text cells (canonical columns) from a csv reader; rows with another number
    of fields than ``width`` are counted as malformed, blank rows are ignored."""
    buffer: list[list[str]] = list(first_rows)
    malformed = 0
    done = 0

    def flush() -> RawChunk:
        cells = np.array(buffer, dtype=object).reshape(len(buffer), width)
        if len(cells):  # rows of empty fields (",,,,,,,") are blank lines, not data
            cells = cells[(cells != "").any(axis=1)]
        out = pd.DataFrame(index=pd.RangeIndex(len(cells)))
        for name in columns:
            out[name] = cells[:, positions[name]] if name in positions else ""
        return RawChunk(out, malformed)

    # The hot loop of a CSV import: keep it lean (no per-row function calls on good rows).
    append = buffer.append
    try:
        for row in reader:
            if len(row) == width:
                append(row)
                if len(buffer) >= CSV_CHUNK_ROWS:
                    chunk = flush()
                    done += len(buffer) + malformed
                    buffer.clear()
                    malformed = 0
                    yield chunk
                    progress("read", done, 0)
            elif not _is_blank(row):
                malformed += 1
    except csv.Error as exc:
        raise ImportFailed(
            f"{filename}: line {reader.line_num}: the CSV cannot be parsed ({exc}); "
            "nothing was imported"
        ) from None
    if buffer or malformed:
        yield flush()


def cells_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Spreadsheet cells (numbers, datetimes, None) as text cells like a CSV would give."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        s = frame[col]
        out[col] = per_unique(s, lambda u: u.map(_cell_text, na_action="ignore").fillna(""))
    return out


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _unreadable_workbook(info: FileInfo, exc: Exception) -> ImportFailed:
    return ImportFailed(
        f"{info.path.name}: the workbook cannot be read ({type(exc).__name__}: {exc}) — "
        "check that it is a valid .xlsx file, or export it as CSV; nothing was imported"
    )


def xlsx_sheets(info: FileInfo) -> Iterator[tuple[str, Iterator[tuple]]]:
    """(sheet name, rows of cell values) for every sheet, streamed (openpyxl read-only mode) so a
    million-row workbook is never held in memory at once; ImportFailed if unreadable."""
    import openpyxl  # only needed for workbooks

    try:
        workbook = openpyxl.load_workbook(info.path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, ValueError…)
        raise _unreadable_workbook(info, exc) from None
    try:
        for sheet in workbook.worksheets:
            yield sheet.title, _guarded(info, sheet.iter_rows(values_only=True))
    finally:
        workbook.close()


def _guarded(info: FileInfo, rows: Iterator[tuple]) -> Iterator[tuple]:
    try:
        for row in rows:
            if any(cell is not None and str(cell).strip() for cell in row):
                yield row
    except Exception as exc:  # a corrupt sheet part
        raise _unreadable_workbook(info, exc) from None


def xlsx_chunk_frames(
    rows: Iterator[tuple],
    positions: dict[str, int],
    columns: Sequence[str],
    progress: Progress,
) -> Iterator[RawChunk]:
    """DataFrames of text cells (canonical columns) from spreadsheet rows, in chunks."""
    done = 0
    while True:
        buffer = list(itertools.islice(rows, CSV_CHUNK_ROWS))
        if not buffer:
            return
        frame = pd.DataFrame(buffer, dtype=object)  # ragged rows are padded with None
        out = pd.DataFrame(index=frame.index)
        for name in columns:
            pos = positions.get(name)
            out[name] = frame[pos] if pos is not None and pos in frame.columns else None
        done += len(buffer)
        yield RawChunk(cells_to_text(out))
        progress("read", done, 0)


# ---- cleaning helpers ---------------------------------------------------------------------------


class Distinct:
    """A column factorised once, so per-value Python work runs once per distinct value: invoice
    numbers, codes, dates and prices repeat a lot, which is what makes cleaning fast."""

    def __init__(self, series: pd.Series):
        self.index = series.index
        self.codes, uniques = pd.factorize(series, use_na_sentinel=False)
        self.uniques = pd.Series(uniques, dtype=object)

    def map(self, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
        """``fn`` applied to the distinct values, spread back over the whole column."""
        result = fn(self.uniques)
        return pd.Series(result.to_numpy().take(self.codes), index=self.index)

    def values(self) -> pd.Series:
        """The whole column."""
        return pd.Series(self.uniques.to_numpy().take(self.codes), index=self.index)

    def derive(self, fn: Callable[[pd.Series], pd.Series]) -> Distinct:
        """A Distinct of ``fn``'s result that reuses this factorisation (values may repeat)."""
        out = Distinct.__new__(Distinct)
        out.index, out.codes = self.index, self.codes
        out.uniques = pd.Series(fn(self.uniques).to_numpy(), dtype=object)
        return out


def per_unique(series: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``fn(series)`` computed once per distinct value (see ``Distinct``)."""
    return Distinct(series).map(fn)


def strip(series: pd.Series) -> pd.Series:
    """Text cells with surrounding blanks removed."""
    return series.astype(str).str.strip()


def normalise_ids(series: pd.Series) -> pd.Series:
    """Stripped identifiers, with ``"17850.0"`` turned into ``"17850"``."""
    s = strip(series)
    return s.str.replace(_FLOAT_INT, r"\1", regex=True)


def valid_ids(series: pd.Series, max_len: int) -> pd.Series:
    """True where an identifier is non-empty, blank-free and at most ``max_len`` characters."""
    return series.str.fullmatch(r"\S+") & (series.str.len() <= max_len)


def to_number(series: pd.Series) -> pd.Series:
    """Floats from text cells; NaN where unreadable. Accepts ``2,55`` (decimal comma)."""
    s = strip(series)
    out = pd.to_numeric(s, errors="coerce")
    retry = out.isna() & s.str.fullmatch(r"[+-]?\d+,\d{1,2}")
    if retry.any():
        out[retry] = pd.to_numeric(s[retry].str.replace(",", ".", regex=False), errors="coerce")
    return out.astype("float64")


_SLASH_MONTH_FIRST = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%m/%d/%y %H:%M")
_SLASH_DAY_FIRST = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%d/%m/%y %H:%M")
_OTHER_FORMATS = ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y")


def _try_formats(s: pd.Series, formats: Sequence[str]) -> pd.Series:
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    for fmt in formats:
        todo = out.isna()
        if not todo.any():
            break
        out[todo] = pd.to_datetime(s[todo], format=fmt, errors="coerce")
    return out


def parse_dates(series: pd.Series) -> pd.Series:
    """Naive UTC datetimes from text cells; NaT where unreadable or outside 1990…tomorrow.

    Accepted: ISO 8601 (``2010-12-01 08:26:00``, with or without ``T``/offset; offsets are
    converted to UTC), ``12/1/2010 8:26`` (month first, as in the UCI file; day first is used
    instead when that reads more of the file's values), and ``01.12.2010 08:26``.
    """
    s = strip(series)
    iso = pd.to_datetime(s, format="ISO8601", errors="coerce", utc=True)
    out = iso.dt.tz_localize(None).astype("datetime64[ns]")
    slash = out.isna() & s.str.contains("/", regex=False)
    if slash.any():
        month_first = _try_formats(s[slash], _SLASH_MONTH_FIRST)
        day_first = _try_formats(s[slash], _SLASH_DAY_FIRST)
        chosen = day_first if day_first.notna().sum() > month_first.notna().sum() else month_first
        out[slash] = chosen
    dotted = out.isna() & s.str.contains(".", regex=False)
    if dotted.any():
        out[dotted] = _try_formats(s[dotted], _OTHER_FORMATS)
    latest = pd.Timestamp(utcnow()) + pd.Timedelta(days=1)
    out[(out < EARLIEST_DATE) | (out > latest)] = pd.NaT
    return out


def apply_rules(
    frame: pd.DataFrame, rules: Sequence[tuple[str, pd.Series]], report: ImportReport
) -> pd.DataFrame:
    """Rows of ``frame`` that break none of ``rules`` (reason, bad-mask); each drop counted once,
    under the first broken rule."""
    alive = np.ones(len(frame), dtype=bool)
    for reason, bad in rules:
        hit = alive & bad.to_numpy(dtype=bool)
        report.drop(reason, int(hit.sum()))
        alive &= ~hit
    return frame[alive]


# ---- database helpers ---------------------------------------------------------------------------


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
        conn.execute(table.insert(), rows[start : start + INSERT_CHUNK_ROWS])
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


# ---- the shape every importer shares -----------------------------------------------------------


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


@dataclass(frozen=True)
class Layout:
    """What a table file must look like: its columns, which are required, and what to say if not.

    ``layout_error(info, header, positions, where)`` builds the error for a header without the
    required columns; ``skipped_because`` says in the notes why a workbook's sheet was passed
    over; ``cut_off(info, why)``,
    when given, makes a CSV whose last line stops short an error (a file copied while still being
    written) rather than one malformed row.
    """

    aliases: dict[str, Sequence[str]]
    required: Sequence[str]
    layout_error: Callable[..., ImportFailed]
    skipped_because: str
    cut_off: Callable[[FileInfo, str], ImportFailed] | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.aliases)

    def positions(self, header: Sequence[Any]) -> tuple[dict[str, int], bool]:
        """(column positions, whether every required column is there) of a header row."""
        positions = match_columns(header, self.aliases)
        return positions, all(c in positions for c in self.required)


def read_table(info: FileInfo, report: ImportReport, progress: Progress, layout: Layout):
    """Chunks of raw text cells (canonical columns) from a CSV or every matching XLSX sheet."""
    if info.kind == "xlsx":
        yield from _read_sheets(info, report, progress, layout)
        return
    line = first_line(info)
    if not line.strip():
        raise ImportFailed(f"{info.path.name}: the file is empty — nothing to import")
    delimiter = sniff_delimiter(line, lambda fields: len(match_columns(fields, layout.aliases)))
    with open_text(info) as fh:
        # Remembering the last line costs a generator step per line: only when it is checked.
        lines = _LastLine(fh) if layout.cut_off is not None else fh
        reader = csv_reader(lines, delimiter, info.has_nul)
        header = read_header(reader, info.path.name)
        if header is None:  # pragma: no cover - first_line found a non-blank line
            raise ImportFailed(f"{info.path.name}: the file is empty — nothing to import")
        positions, complete = layout.positions(header)
        if not complete:
            raise layout.layout_error(info, header, positions)
        yield from chunk_frames(
            reader, len(header), positions, layout.columns, progress, info.path.name
        )
        if layout.cut_off is not None:
            _check_last_line(info, lines.last, delimiter, len(header), layout.cut_off)


class _LastLine:
    """Lines passed through, remembering the last one (to tell a cut-off file)."""

    def __init__(self, lines: Iterable[str]):
        self.lines = lines
        self.last = ""

    def __iter__(self):
        for line in self.lines:
            self.last = line
            yield line


def _check_last_line(
    info: FileInfo,
    last: str,
    delimiter: str,
    width: int,
    cut_off: Callable[[FileInfo, str], ImportFailed],
) -> None:
    # A file written to the end finishes its last line (or at least gives it every field); a
    # last line with neither is where the writing stopped.
    if last.endswith(("\n", "\r")) or not last.strip():
        return
    fields = next(csv.reader([last.replace("\x00", "")], delimiter=delimiter), [])
    if len(fields) != width:
        shown = last.strip()[:40]
        raise cut_off(info, f"its last line {shown!r} stops after {len(fields)} of {width} fields")


def _read_sheets(info: FileInfo, report: ImportReport, progress: Progress, layout: Layout):
    used, first_error = 0, None
    for name, rows in xlsx_sheets(info):
        header = next(rows, None)
        if header is None:
            continue  # an empty sheet
        positions, complete = layout.positions(header)
        if not complete:
            first_error = first_error or layout.layout_error(
                info, list(header), positions, f" (sheet {name!r})"
            )
            report.notes.append(f"sheet {name!r} skipped: {layout.skipped_because}")
            continue
        used += 1
        yield from xlsx_chunk_frames(rows, positions, layout.columns, progress)
    if not used:
        if first_error is not None:
            raise first_error
        raise ImportFailed(f"{info.path.name}: the workbook has no data — nothing to import")


def clean_chunks(
    chunks: Iterable[RawChunk],
    report: ImportReport,
    clean_chunk: Callable[[pd.DataFrame, int, ImportReport], pd.DataFrame],
) -> pd.DataFrame:
    """Every row of the chunks that ``clean_chunk`` keeps, in file order, with the rows read and
    the malformed ones counted in ``report``; ImportFailed for a file of only a header."""
    parts = []
    for chunk in chunks:
        offset = report.rows_read
        report.rows_read += len(chunk.frame) + chunk.malformed
        report.drop("malformed_row", chunk.malformed)
        parts.append(clean_chunk(chunk.frame, offset, report))
    if report.rows_read == 0:
        raise ImportFailed(f"{report.filename}: only a header, no data rows — nothing to import")
    return pd.concat(parts, ignore_index=True)
