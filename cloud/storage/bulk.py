"""Ingest's hot-path statements: many rows per statement, values pre-converted, straight to the DBAPI.

SQLAlchemy Core processes every parameter of every row in Python; at tens of thousands of rows per second
that dominates. These helpers take rows already converted to driver values (`Bulk.ts`, `to_json`) and store
them in the format the Core types read back (see schema.UtcDateTime and sa.JSON). SQLite gets multi-row
VALUES lists; PostgreSQL gets COPY (binary unless a JSON column needs text), straight into the table for a
plain insert, else into a staging table and then one INSERT ... ON CONFLICT or UPDATE from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from itertools import chain
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_json as _to_json
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

# SQLite allows 32,766 host parameters per statement.
_SQLITE_MAX_PARAMS = 30_000


def to_json(value: Any) -> str:
    """A JSON column value (pydantic-core's encoder: several times faster than json.dumps)."""
    return _to_json(value).decode()


@cache
def _pg_type(column: sa.Column[Any]) -> str:
    return str(column.type.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


# psycopg's binary dumpers by column type (binary COPY encodes dates and numbers without formatting text).
_PG_BINARY_TYPES = {
    "INTEGER": "int4",
    "BIGINT": "int8",
    "TEXT": "text",
    "BOOLEAN": "bool",
    "FLOAT": "float8",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "BYTEA": "bytea",
}


@cache
def _pg_binary_type(column: sa.Column[Any]) -> str | None:
    name = _pg_type(column)
    return "text" if name.startswith("VARCHAR") else _PG_BINARY_TYPES.get(name)


def _pg_copy(
    conn: Connection,
    target: str,
    columns: Sequence[tuple[str, sa.Column[Any]]],
    rows: Sequence[Sequence[Any]],
) -> None:
    """COPY rows into `target` (names and the table columns whose types they have).

    COPY's row encoding runs in psycopg's C code; array or many-placeholder parameters are dumped in Python
    and cost more than the statements themselves. Binary when every column has a binary dumper here (JSON
    values arrive as encoded text, which only the text format takes as it is).
    """
    types = [_pg_binary_type(column) for _, column in columns]
    binary = None not in types
    statement = f"COPY {target} ({', '.join(name for name, _ in columns)}) FROM STDIN"
    if binary:
        statement += " (FORMAT BINARY)"
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor: Any = dbapi_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            if binary:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:
        # What SQLAlchemy does for the statements it runs: its exception types (ingest retries on
        # OperationalError), and a connection that lost its server is not reused.
        disconnected = conn.dialect.is_disconnect(exc, dbapi_connection, None)
        if disconnected:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            statement,
            None,
            exc,
            conn.dialect.loaded_dbapi.Error,
            connection_invalidated=disconnected,
            dialect=conn.dialect,
        ) from exc
    finally:
        cursor.close()


class Bulk:
    """Dialect-aware bulk statements for SQLite and PostgreSQL."""

    def __init__(self, dialect: str) -> None:
        if dialect not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"unsupported database dialect {dialect!r}")
        self.sqlite = dialect == "sqlite"
        self._texts: dict[datetime, str] = {}  # a batch repeats the same times (its `now`, an alert's times)
        self._sequences: dict[str, str] = {}  # PostgreSQL: table -> the sequence of its id column

    def ts(self, value: datetime | None) -> Any:
        """A UTC datetime as the driver stores it (SQLite: the text format SQLAlchemy reads back)."""
        if value is None or not self.sqlite:
            return value
        text = self._texts.get(value)
        if text is None:
            if len(self._texts) >= 16_384:
                self._texts.clear()
            if value.tzinfo is UTC:  # what the hub's own datetimes carry: no conversion needed
                text = value.isoformat(" ", "microseconds")[:26]
            else:
                text = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            self._texts[value] = text
        return text

    def insert(
        self,
        conn: Connection,
        table: sa.Table,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        suffix: str = "",
    ) -> list[Sequence[Any]]:
        """INSERT rows (in `columns` order) plus `suffix` (ON CONFLICT, RETURNING...); the returned rows."""
        if not rows:
            return []
        names = ", ".join(columns)
        tail = f" {suffix}" if suffix else ""
        if not self.sqlite:
            if not suffix:  # a plain insert: straight into the table
                _pg_copy(conn, table.name, [(c, table.c[c]) for c in columns], rows)
                return []
            stage = self._pg_stage(conn, table, [(c, c) for c in columns], rows)
            return list(
                self._run(conn, f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage}{tail}", ())
            )
        returned: list[Sequence[Any]] = []
        one = "(" + ", ".join("?" * len(columns)) + ")"
        chunk = max(1, _SQLITE_MAX_PARAMS // len(columns))
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            sql = f"INSERT INTO {table.name} ({names}) VALUES {', '.join([one] * len(part))}{tail}"
            returned.extend(self._run(conn, sql, tuple(chain.from_iterable(part))))
        return returned

    def update(
        self,
        conn: Connection,
        table: sa.Table,
        set_columns: Sequence[str],
        where_columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> int:
        """UPDATE one row per item (set values, then where values compared for equality); the row count."""
        if not rows:
            return 0
        if self.sqlite:
            sets = ", ".join(f"{c} = ?" for c in set_columns)
            wheres = " AND ".join(f"{c} = ?" for c in where_columns)
            sql = f"UPDATE {table.name} SET {sets} WHERE {wheres}"
            return int(conn.exec_driver_sql(sql, [tuple(r) for r in rows]).rowcount)
        aliases = [(f"s{i}", c) for i, c in enumerate(set_columns)]
        aliases += [(f"w{i}", c) for i, c in enumerate(where_columns)]
        stage = self._pg_stage(conn, table, aliases, rows)
        sets = ", ".join(f"{c} = v.s{i}" for i, c in enumerate(set_columns))
        wheres = " AND ".join(f"{table.name}.{c} = v.w{i}" for i, c in enumerate(where_columns))
        sql = f"UPDATE {table.name} SET {sets} FROM {stage} AS v WHERE {wheres}"
        return int(conn.exec_driver_sql(sql).rowcount)

    @staticmethod
    def _pg_stage(
        conn: Connection, table: sa.Table, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
    ) -> str:
        """COPY rows into a session-private staging table (alias, column of `table`) and return its name."""
        name = f"qmon_stage_{table.name}_{'_'.join(alias for alias, _ in columns)}"[:63]
        definition = ", ".join(f"{alias} {_pg_type(table.c[column])}" for alias, column in columns)
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({definition}) ON COMMIT DELETE ROWS")
        # ON COMMIT DELETE ROWS (and a rollback) leave it empty for each transaction; TRUNCATE would allocate
        # new files, so empty it only when this transaction already filled it.
        filled = conn.info.setdefault("qmon_filled_stages", {})
        transaction = conn.get_transaction()
        if filled.get(name) is transaction:
            conn.exec_driver_sql(f"DELETE FROM {name}")
        filled[name] = transaction
        _pg_copy(conn, name, [(alias, table.c[column]) for alias, column in columns], rows)
        return name

    def reserve_ids(self, conn: Connection, table: sa.Table, count: int) -> list[int]:
        """`count` new, increasing primary-key values for `table` (caller holds the write transaction)."""
        if count <= 0:
            return []
        if self.sqlite:
            # SQLite writers are serialised (BEGIN IMMEDIATE), so max + 1 onwards is ours until commit.
            top: int = conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table.name}").scalar_one()
            return list(range(int(top) + 1, int(top) + 1 + count))
        sequence = self._sequences.get(table.name)
        if sequence is None:  # resolved once: per row, the look-up costs five times the nextval()
            sequence = conn.exec_driver_sql(
                "SELECT pg_get_serial_sequence(%s, 'id')", (table.name,)
            ).scalar_one()
            self._sequences[table.name] = sequence
        rows: Any = conn.exec_driver_sql(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", (sequence, count)
        ).scalars()
        return sorted(int(v) for v in rows)

    @staticmethod
    def _run(conn: Connection, sql: str, params: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        result = conn.exec_driver_sql(sql, params)
        return result.fetchall() if result.returns_rows else ()
