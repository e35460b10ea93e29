"""Reading import files: CSV (encoding and delimiter detected) and XLSX (every sheet), in chunks
of raw text cells, checked against the columns an importer expects."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shop.errors import ImportFailed
from shop.importers.cleaning import per_unique
from shop.importers.report import ImportReport, Progress

# No cell of a real export comes near these; a file with more is broken or hostile.
MAX_FIELD_CHARS = 10_000
MAX_LINE_CHARS = 100_000
MAX_SHARED_STRINGS_BYTES = 256 * 2**20
CSV_CHUNK_ROWS = 100_000  # rows parsed into one DataFrame at a time (bounds memory)


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


def match_columns(header: Sequence[Any], aliases: Mapping[str, Sequence[str]]) -> dict[str, int]:
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


def text_lines(fh, name: str) -> Iterator[str]:
    """The lines of an open text file, ImportFailed naming the first one longer than
    MAX_LINE_CHARS (read in bounded pieces: a file that is one endless line is never held in
    memory whole)."""
    number = 0
    while True:
        line = fh.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise ImportFailed(
                f"{name}: line {number} is longer than {MAX_LINE_CHARS:,} characters, which no "
                "row of a real export is; nothing was imported"
            )
        yield line


def csv_reader(lines: Iterable[str], delimiter: str, strip_nul: bool = False):
    """A csv reader over text lines; with ``strip_nul``, NUL characters are removed first.
    Fields longer than MAX_FIELD_CHARS stop it (:func:`chunk_frames` says which line)."""
    csv.field_size_limit(MAX_FIELD_CHARS)
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
        if "field larger than field limit" in str(exc):
            raise ImportFailed(
                f"{filename}: line {reader.line_num}: a field is longer than "
                f"{MAX_FIELD_CHARS:,} characters; nothing was imported"
            ) from None
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
        if "field larger than field limit" in str(exc):
            raise ImportFailed(
                f"{filename}: line {reader.line_num}: a field is longer than "
                f"{MAX_FIELD_CHARS:,} characters; nothing was imported"
            ) from None
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
    """(sheet name, rows of cell values) for every sheet; ImportFailed if unreadable.

    Read with calamine (Rust; about 25 times faster than openpyxl, bench/REPORT.md), which keeps
    one sheet's cells in native memory while rows are handed out one at a time; openpyxl's
    read-only mode (streamed from the file) when calamine is not installed."""
    _check_shared_strings(info)
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        yield from _openpyxl_sheets(info)
        return
    try:
        workbook = CalamineWorkbook.from_path(str(info.path))
        names = list(workbook.sheet_names)
    except Exception as exc:  # calamine raises its own error kinds
        raise _unreadable_workbook(info, exc) from None
    for name in names:
        try:
            rows = workbook.get_sheet_by_name(name).iter_rows()
        except Exception as exc:
            raise _unreadable_workbook(info, exc) from None
        yield name, _guarded(info, name, (tuple(row) for row in rows))


def _openpyxl_sheets(info: FileInfo) -> Iterator[tuple[str, Iterator[tuple]]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(info.path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, ValueError…)
        raise _unreadable_workbook(info, exc) from None
    try:
        for sheet in workbook.worksheets:
            yield sheet.title, _guarded(info, sheet.title, sheet.iter_rows(values_only=True))
    finally:
        workbook.close()


def _check_shared_strings(info: FileInfo) -> None:
    """ImportFailed when the workbook's shared strings (which openpyxl reads whole, before any
    row) unpack to more than MAX_SHARED_STRINGS_BYTES: a zip bomb or a broken export."""
    import zipfile

    try:
        with zipfile.ZipFile(info.path) as archive:
            sizes = [
                i.file_size for i in archive.infolist() if i.filename.endswith("sharedStrings.xml")
            ]
    except (zipfile.BadZipFile, OSError) as exc:
        raise _unreadable_workbook(info, exc) from None
    size = sum(sizes)
    if size > MAX_SHARED_STRINGS_BYTES:
        raise ImportFailed(
            f"{info.path.name}: its text cells unpack to {size / 2**20:,.0f} MB, over the "
            f"{MAX_SHARED_STRINGS_BYTES // 2**20} MB this importer reads; export the data as CSV "
            "or in smaller workbooks. Nothing was imported"
        )


def _guarded(info: FileInfo, sheet: str, rows: Iterator[tuple]) -> Iterator[tuple]:
    """The non-blank rows of a sheet; ImportFailed naming the row of a cell longer than
    MAX_FIELD_CHARS, or when the sheet cannot be read."""
    try:
        for number, row in enumerate(rows, 1):
            if any(cell is not None and str(cell).strip() for cell in row):
                for cell in row:
                    if isinstance(cell, str) and len(cell) > MAX_FIELD_CHARS:
                        raise ImportFailed(
                            f"{info.path.name}: sheet {sheet!r}, row {number}: a cell is longer "
                            f"than {MAX_FIELD_CHARS:,} characters; nothing was imported"
                        )
                yield row
    except ImportFailed:
        raise
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


@dataclass(frozen=True)
class Layout:
    """What a table file must look like: its columns, which are required, and what to say if not.

    ``layout_error(info, header, positions, where)`` builds the error for a header without the
    required columns; ``skipped_because`` says in the notes why a workbook's sheet was passed
    over; ``cut_off(info, why)``,
    when given, makes a CSV whose last line stops short an error (a file copied while still being
    written) rather than one malformed row.
    """

    aliases: Mapping[str, Sequence[str]]
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
        last = _LastLine(text_lines(fh, info.path.name))
        reader = csv_reader(
            last if layout.cut_off is not None else last.lines, delimiter, info.has_nul
        )
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
            _check_last_line(info, last.last, delimiter, len(header), layout.cut_off)


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
