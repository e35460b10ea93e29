"""Import of explicit ratings: ``user_id,item_id,rating[,timestamp]`` CSV or MovieLens files.

Accepted files:

- CSV (any of ``, ; TAB |``) with a header naming ``user_id``, ``item_id``, ``rating`` and
  optionally ``timestamp`` (case, blanks and underscores ignored; ``userId``/``movieId``/``sku``/
  ``customer_id``/``product_id``/``score``/``rated_at`` are understood too);
- MovieLens ``u.data`` (``user TAB item TAB rating TAB timestamp``, no header) — detected when the
  first line has 3 or 4 fields with a number in the rating place; also ``ratings.dat``
  (``user::item::rating::timestamp``).

Timestamps are unix seconds (milliseconds when larger than 10^11) or ISO 8601 / the date formats of
``cleaning.parse_dates``; without a timestamp column the import time is used.

Rows are dropped (``report.RATING_REASONS``, first reason wins) for: a wrong number of fields
(``malformed_row``), a missing or malformed user id (``bad_user_id``: empty, blanks, > 64 chars)
or item id (``bad_item_id``: empty, blanks, > 32 chars), an unreadable rating (``bad_rating``), a
rating outside 1–5 (``rating_out_of_range``; fractions such as 3.5 are fine, and 0.5 is the
lowest half-star of MovieLens's 0.5–5 scale, see below), an unreadable or
implausible timestamp (``bad_timestamp``), or because the same user rated the same item again
later in the file (``duplicate_rating``: the latest — by timestamp, then by position — is kept).

Scale: a file with any 0.5 rating uses the half-star scale 0.5–5 (MovieLens latest, 20M, 25M):
all its ratings are mapped linearly onto 1–5 (0.5 → 1, 3 → 3.22, 5 → 5), order and spacing kept,
and the report notes it. Other files are taken as 1–5 as they are.

Mapping: customers by ``external_id`` = user id ("17850.0" → "17850"), created when missing;
products by ``sku`` = item id upper-cased (as transactions' SKUs are), created when missing as a
placeholder ("Item <id>", category "other", price 0, active, with an inventory row). Ratings are
upserted on (customer, product): a stored rating is replaced only by a newer or equally recent one.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Engine

from shop.errors import ImportFailed
from shop.importers import batches, cleaning, files
from shop.importers.files import FileInfo
from shop.importers.report import ImportReport, Progress
from shop.store.models import Customer, Product, Rating, utcnow

KIND = "ratings"

ALIASES: dict[str, tuple[str, ...]] = {
    "user_id": ("userid", "user", "customerid", "customer", "uid"),
    "item_id": ("itemid", "item", "productid", "product", "movieid", "movie", "sku", "iid"),
    "rating": ("rating", "score", "stars"),
    "timestamp": ("timestamp", "time", "ratedat", "date", "datetime"),
}
REQUIRED = ("user_id", "item_id", "rating")
COLUMNS = tuple(ALIASES)
_NUMBER = r"[+-]?\d+(?:\.\d+)?"
# The lowest rating of the half-star scale 0.5–5; a file holding one is rescaled onto 1–5.
HALF_STAR_MIN = 0.5


def import_ratings(
    engine: Engine, path: str | Path, *, progress: Progress | None = None
) -> ImportReport:
    """The report of importing a ratings file; all its clean rows land in one transaction.

    Raises ImportFailed (and writes nothing) when the file cannot be imported at all: missing or
    empty, an unknown layout, or no usable row.
    """
    now = utcnow()
    return batches.run_import(
        engine,
        path,
        KIND,
        progress=progress,
        check=_refuse_workbooks,
        clean=lambda info, report, progress: _clean(_read(info, progress), report, now),
        write=lambda conn, info, ratings, report, progress, started: _write(
            conn, info, ratings, report, progress, now, started
        ),
        clash="written the same ratings",
    )


# ---- reading ------------------------------------------------------------------------------------


def _refuse_workbooks(info: FileInfo) -> None:
    if info.kind == "xlsx":
        raise ImportFailed(
            f"{info.path.name}: ratings are imported from CSV or MovieLens u.data files, not "
            "workbooks — save the sheet as CSV (user_id,item_id,rating[,timestamp])"
        )


def _looks_headerless(fields: list[str]) -> bool:
    return len(fields) in (3, 4) and re.fullmatch(_NUMBER, fields[2].strip()) is not None


def _read(info: FileInfo, progress: Progress):
    line = files.first_line(info)
    if not line.strip():
        raise ImportFailed(f"{info.path.name}: the file is empty — nothing to import")
    # MovieLens 1M/10M "ratings.dat" separates with "::", which csv cannot: use a unit separator.
    double_colon = "::" in line and line.count("::") >= 2
    if double_colon:
        delimiter = "\x1f"
    else:
        delimiter = files.sniff_delimiter(
            line, lambda f: len(files.match_columns(f, ALIASES)) * 10 + _looks_headerless(f)
        )
    with files.open_text(info) as fh:
        lines = files.text_lines(fh, info.path.name)
        if double_colon:
            lines = (s.replace("::", "\x1f") for s in lines)
        reader = files.csv_reader(lines, delimiter, info.has_nul)
        header = files.read_header(reader, info.path.name)
        if header is None:  # pragma: no cover - first_line found a non-blank line
            raise ImportFailed(f"{info.path.name}: the file is empty — nothing to import")
        positions = files.match_columns(header, ALIASES)
        first_rows: list[list[str]] = []
        if all(c in positions for c in REQUIRED):
            width = len(header)
        elif not positions and _looks_headerless(header):
            # No header (MovieLens u.data): user, item, rating[, timestamp]; the line is data.
            width = len(header)
            positions = {name: i for i, name in enumerate(COLUMNS[:width])}
            first_rows = [header]
        else:
            missing = [c for c in REQUIRED if c not in positions]
            found = ", ".join(h.strip() for h in header if h.strip()) or "nothing"
            raise ImportFailed(
                f"{info.path.name}: not a ratings file — missing required column(s): "
                f"{', '.join(missing)}; found: {found}. Expected a header user_id,item_id,rating"
                "[,timestamp] or a MovieLens u.data file (user TAB item TAB rating TAB timestamp)."
            )
        has_timestamp = "timestamp" in positions
        for chunk in files.chunk_frames(
            reader, width, positions, COLUMNS, progress, info.path.name, first_rows
        ):
            yield chunk, has_timestamp


# ---- cleaning -----------------------------------------------------------------------------------


def parse_timestamps(series: pd.Series) -> pd.Series:
    """Naive UTC datetimes from unix seconds (or milliseconds) or date text; NaT where unreadable."""
    s = cleaning.strip(series)
    numeric = s.str.fullmatch(_NUMBER)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if numeric.any():
        seconds = pd.to_numeric(s[numeric], errors="coerce")
        seconds = seconds.where(seconds < 1e11, seconds / 1000.0)  # milliseconds
        seconds = seconds.where((seconds >= 0) & (seconds < 1e10))
        out[numeric] = pd.to_datetime(seconds, unit="s", errors="coerce")
    if (~numeric).any():
        out[~numeric] = cleaning.parse_dates(s[~numeric])
    latest = pd.Timestamp(utcnow()) + pd.Timedelta(days=1)
    out[(out < cleaning.EARLIEST_DATE) | (out > latest)] = pd.NaT
    return out


def _clean_chunk(
    raw: pd.DataFrame, offset: int, has_timestamp: bool, report: ImportReport, now
) -> pd.DataFrame:
    distinct = cleaning.Distinct
    user = distinct(raw["user_id"]).derive(cleaning.normalise_ids)
    item = distinct(raw["item_id"]).derive(lambda s: cleaning.normalise_ids(s).str.upper())
    rating = distinct(raw["rating"]).map(cleaning.to_number).astype("float64")
    if has_timestamp:
        rated_at = distinct(raw["timestamp"]).map(parse_timestamps).astype("datetime64[ns]")
    else:
        rated_at = pd.Series(pd.Timestamp(now), index=raw.index, dtype="datetime64[ns]")
    rules = [
        ("bad_user_id", user.map(lambda s: ~cleaning.valid_ids(s, 64))),
        ("bad_item_id", item.map(lambda s: ~cleaning.valid_ids(s, 32))),
        ("bad_rating", rating.isna() | ~np.isfinite(rating)),
        ("rating_out_of_range", ((rating < 1) & (rating != HALF_STAR_MIN)) | (rating > 5)),
        ("bad_timestamp", rated_at.isna()),
    ]
    frame = pd.DataFrame(
        {
            "row": np.arange(offset, offset + len(raw)),
            "user": user.values().to_numpy(),
            "item": item.values().to_numpy(),
            "rating": rating.to_numpy(),
            "rated_at": rated_at.to_numpy(),
        },
        index=raw.index,
    )
    return cleaning.apply_rules(frame, rules, report).reset_index(drop=True)


def _clean(chunks, report: ImportReport, now) -> pd.DataFrame:
    """One row per (user, item): the latest rating of the file."""
    parts = []
    for chunk, has_timestamp in chunks:
        offset = report.rows_read
        report.rows_read += len(chunk.frame) + chunk.malformed
        report.drop("malformed_row", chunk.malformed)
        parts.append(_clean_chunk(chunk.frame, offset, has_timestamp, report, now))
    if report.rows_read == 0:
        raise ImportFailed(f"{report.filename}: only a header, no data rows — nothing to import")
    ratings = pd.concat(parts, ignore_index=True)
    if len(ratings):
        ratings = ratings.sort_values(["user", "item", "rated_at", "row"], kind="stable")
        latest = ~ratings.duplicated(subset=["user", "item"], keep="last")
        report.drop("duplicate_rating", int((~latest).sum()))
        ratings = ratings[latest].sort_values("row").reset_index(drop=True)
    if ratings.empty:
        raise report.nothing_usable()
    return _to_one_to_five(ratings, report)


def to_one_to_five(rating: pd.Series) -> pd.Series:
    """Ratings on the half-star scale 0.5–5 mapped linearly onto 1–5 (0.5 → 1, 5 → 5)."""
    return 1.0 + (rating - HALF_STAR_MIN) * 4.0 / (5.0 - HALF_STAR_MIN)


def _to_one_to_five(ratings: pd.DataFrame, report: ImportReport) -> pd.DataFrame:
    half = int((ratings["rating"] == HALF_STAR_MIN).sum())
    if not half:
        return ratings
    ratings = ratings.assign(rating=to_one_to_five(ratings["rating"]))
    report.notes.append(
        f"{half:,} ratings of 0.5: the file uses the half-star scale 0.5–5, mapped linearly onto "
        "1–5 (0.5 → 1, 3 → 3.22, 5 → 5)"
    )
    return ratings


# ---- writing ------------------------------------------------------------------------------------


def _write(
    conn: Connection,
    info: FileInfo,
    ratings: pd.DataFrame,
    report: ImportReport,
    progress: Progress,
    now,
    started: float,
) -> None:
    batch_id = batches.start_batch(conn, KIND, info, now)
    customer_ids, existed = _write_customers(conn, ratings, report, progress)
    product_ids = _write_products(conn, ratings, report, progress, now)
    report.created["inventory"] += batches.add_missing_inventory(
        conn, product_ids.values(), progress
    )
    _write_ratings(conn, ratings, customer_ids, existed, product_ids, report, progress)
    report.rows_kept = len(ratings)
    report.imported_at = now.isoformat(sep=" ", timespec="seconds")
    report.seconds = time.perf_counter() - started
    batches.finish_batch(conn, batch_id, report)


def _write_customers(
    conn: Connection, ratings: pd.DataFrame, report: ImportReport, progress: Progress
) -> tuple[dict[str, int], set[int]]:
    """External id → customer id for every user (creating missing ones), and the pre-existing ids."""
    c = Customer.__table__
    first_seen = ratings.groupby("user", sort=False)["rated_at"].min()
    existing = batches.fetch_map(conn, c.c.external_id, c.c.id, first_seen.index.tolist())
    existed = set(existing.values())
    new = first_seen[~first_seen.index.isin(list(existing))]
    if len(new):
        rows = [
            {
                "external_id": ext,
                "email": None,
                "name": None,
                "country": None,
                "created_at": ts.to_pydatetime(),
            }
            for ext, ts in new.items()
        ]
        report.created["customers"] = batches.bulk_insert(
            conn, c, rows, progress, "write customers"
        )
        existing.update(batches.fetch_map(conn, c.c.external_id, c.c.id, new.index.tolist()))
    return existing, existed


def _write_products(
    conn: Connection, ratings: pd.DataFrame, report: ImportReport, progress: Progress, now
) -> dict[str, int]:
    """SKU → product id for every item, creating placeholders for unknown items."""
    p = Product.__table__
    skus = ratings["item"].unique().tolist()
    existing = batches.fetch_map(conn, p.c.sku, p.c.id, skus)
    new = [s for s in skus if s not in existing]
    if new:
        rows = [
            {
                "sku": sku,
                "name": f"Item {sku}",
                "category": "other",
                "brand": None,
                "price": 0.0,
                "active": True,
                "description": None,
                "created_at": now,
            }
            for sku in new
        ]
        report.created["products"] = batches.bulk_insert(conn, p, rows, progress, "write products")
        existing.update(batches.fetch_map(conn, p.c.sku, p.c.id, new))
    return existing


def _stored_ratings(conn: Connection, customer_ids: set[int]) -> pd.DataFrame:
    r = Rating.__table__
    rows = []
    for part in batches.chunks(sorted(customer_ids), batches.IN_CHUNK):
        rows += conn.execute(
            select(r.c.id, r.c.customer_id, r.c.product_id, r.c.rating, r.c.rated_at).where(
                r.c.customer_id.in_(part)
            )
        ).all()
    frame = pd.DataFrame(
        rows, columns=["rating_id", "customer_id", "product_id", "old_rating", "old_rated_at"]
    )
    frame["old_rated_at"] = pd.to_datetime(frame["old_rated_at"])
    return frame.astype(
        {
            "rating_id": "int64",
            "customer_id": "int64",
            "product_id": "int64",
            "old_rating": "float64",
        }
    )


def _write_ratings(
    conn: Connection,
    ratings: pd.DataFrame,
    customer_ids: dict[str, int],
    existed: set[int],
    product_ids: dict[str, int],
    report: ImportReport,
    progress: Progress,
) -> None:
    """Insert new ratings; update stored ones when the file's rating is at least as recent."""
    r = Rating.__table__
    frame = pd.DataFrame(
        {
            "customer_id": ratings["user"].map(customer_ids).astype("int64"),
            "product_id": ratings["item"].map(product_ids).astype("int64"),
            "rating": ratings["rating"].astype("float64"),
            "rated_at": ratings["rated_at"],
        }
    )
    stored = _stored_ratings(conn, existed)
    merged = frame.merge(stored, on=["customer_id", "product_id"], how="left")
    is_new = merged["rating_id"].isna()
    old = merged[~is_new]
    newer = old["rated_at"] >= old["old_rated_at"]
    differs = (old["rating"] != old["old_rating"]) | (old["rated_at"] != old["old_rated_at"])
    to_update = old[newer & differs]

    # Inserting in key order keeps the B-tree index updates local: several times faster.
    new = merged.loc[is_new, ["customer_id", "product_id", "rating", "rated_at"]]
    new = new.sort_values(["customer_id", "product_id"])
    report.created["ratings"] = batches.bulk_insert_frame(conn, r, new, progress, "write ratings")
    if len(to_update):
        stmt = (
            r.update()
            .where(r.c.id == bindparam("rid"))
            .values(rating=bindparam("new_rating"), rated_at=bindparam("new_rated_at"))
        )
        params = [
            {"rid": int(i), "new_rating": v, "new_rated_at": t.to_pydatetime()}
            for i, v, t in zip(
                to_update["rating_id"].tolist(), to_update["rating"].tolist(), to_update["rated_at"]
            )
        ]
        for part in batches.chunks(params, batches.INSERT_CHUNK_ROWS):
            conn.execute(stmt, list(part))
    report.updated = {"ratings": len(to_update)}
    report.unchanged = {"ratings": int(len(old) - len(to_update))}
