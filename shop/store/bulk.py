"""Bulk writes: PostgreSQL's COPY when the store is PostgreSQL, executemany elsewhere.

COPY streams rows as CSV over the connection the caller's transaction uses (psycopg2's
``copy_expert``), so a failed import or demo build still rolls back as a whole. It is several
times faster than executemany on PostgreSQL; SQLite has no COPY and is fast with executemany.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

COPY_CHUNK_ROWS = 50_000  # rows buffered per COPY statement


def uses_copy(conn: Connection) -> bool:
    """True when ``conn`` is PostgreSQL through psycopg2 (which has ``copy_expert``)."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2"


def _field(value: Any) -> str:
    """One value in PostgreSQL's CSV form: NULL is an unquoted empty field, text is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    if isinstance(value, float):
        return "" if value != value else repr(value)
    if isinstance(value, (dict, list)):
        return _field(json.dumps(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY ``rows`` (tuples in ``columns`` order) into ``table``; returns how many."""
    quote = conn.dialect.identifier_preparer.quote
    sql = (
        f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN WITH (FORMAT csv)"
    )
    cursor = conn.connection.cursor()
    count = 0
    buffer = io.StringIO()

    def flush() -> None:
        buffer.seek(0)
        cursor.copy_expert(sql, buffer)
        buffer.seek(0)
        buffer.truncate()

    try:
        for row in rows:
            buffer.write(",".join(map(_field, row)))
            buffer.write("\n")
            count += 1
            if count % COPY_CHUNK_ROWS == 0:
                flush()
        if count % COPY_CHUNK_ROWS:
            flush()
    finally:
        cursor.close()
    return count


def computed_defaults(table: Table, columns: Iterable[str]) -> list[str]:
    """Columns not in ``columns`` whose default SQLAlchemy computes (COPY would leave them
    NULL: use ``table.insert()`` then)."""
    given = set(columns)
    return [c.name for c in table.columns if c.name not in given and c.default is not None]


def copy_dicts(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int | None:
    """COPY parameter dicts into ``table``; None (nothing written) when COPY cannot stand in for
    ``table.insert()``: not PostgreSQL, or a column left out whose default SQLAlchemy computes."""
    if not rows or not uses_copy(conn):
        return None
    columns = list(rows[0])
    if computed_defaults(table, columns) or any(len(r) != len(columns) for r in rows):
        return None
    return copy_rows(conn, table.name, columns, ([r[c] for c in columns] for r in rows))


@contextmanager
def indexes_rebuilt(conn: Connection, tables: Sequence[str]) -> Iterator[None]:
    """PostgreSQL: drops the secondary indexes and the foreign keys of ``tables`` (not the
    indexes behind primary keys or unique constraints) and makes them again on leaving, in the
    caller's transaction: for loading empty tables, one index build per index and one check per
    foreign key over the whole table, instead of an index update and a key look-up per row (the
    order PostgreSQL's "Populating a Database" advises). A row breaking a key still fails the
    whole load, when the key is made again. Elsewhere: nothing."""
    if not uses_copy(conn):
        yield
        return
    names = {"tables": list(tables)}
    indexes = conn.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ),
        names,
    ).all()
    foreign_keys = conn.execute(
        text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c WHERE c.contype = 'f' "
            "AND c.conrelid = ANY(ARRAY(SELECT to_regclass(t) FROM unnest(:tables) t))"
        ),
        names,
    ).all()
    quote = conn.dialect.identifier_preparer.quote
    for table, key, _definition in foreign_keys:
        conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {quote(key)}"))
    for name, _definition in indexes:
        conn.execute(text(f"DROP INDEX {quote(name)}"))
    yield
    for _name, definition in indexes:
        conn.execute(text(definition))
    for table, key, definition in foreign_keys:
        conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {quote(key)} {definition}"))
