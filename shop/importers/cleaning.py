"""Cleaning imported cells with vectorised pandas code: identifiers, numbers, dates, and rules
that drop rows, each counted under one reason."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from shop.errors import ImportFailed
from shop.importers.report import ImportReport
from shop.store.models import utcnow

if TYPE_CHECKING:
    from shop.importers.files import RawChunk

# Identifiers: anything printable without blanks; "17850.0" (a number that went through a
# spreadsheet) means "17850".
_FLOAT_INT = re.compile(r"^([+-]?\d+)\.0*$")


# Plausible time range for historic records.
EARLIEST_DATE = pd.Timestamp("1990-01-01")


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
