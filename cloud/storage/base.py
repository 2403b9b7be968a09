"""What every part of the repository shares: the engine, transactions, and dialect-specific inserts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from cloud.storage.bulk import Bulk
from cloud.storage.engine import WRITE_OPTION


class Database:
    """An engine plus read and write transactions that behave the same on SQLite and PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # One for all record groups: a batch writes the same times to several tables (an event's time to
        # events, the alert timeline, its condition and its alert), and each is converted once.
        self.bulk = Bulk(engine.dialect.name)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (SQLite: takes the write lock up front), committed on success."""
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction."""
        with self.engine.connect() as conn, conn.begin():
            yield conn


class Records:
    """Base of each table group's records: uses the caller's connection or opens its own transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.bulk = db.bulk

    @contextmanager
    def _tx(self, conn: Connection | None, write: bool = False) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        elif write:
            with self._db.write() as own:
                yield own
        else:
            with self._db.read() as own:
                yield own


def insert_for(conn: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT construct, which offers ON CONFLICT on both SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {conn.dialect.name!r}")
