"""Officer accounts."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud.storage.base import Records
from cloud.storage.records import Officer
from cloud.storage.schema import officers


class OfficerRecords(Records):
    """Reads and writes of the `officers` table."""

    def add(
        self,
        username: str,
        password_hash: str,
        role: str,
        wards: Sequence[str],
        now: datetime,
        *,
        conn: Connection | None = None,
    ) -> Officer:
        """Insert an officer (IntegrityError if the user name is taken)."""
        values = {
            "username": username,
            "password_hash": password_hash,
            "role": role,
            "wards": sorted(set(wards)),
        }
        with self._tx(conn, write=True) as c:
            row = (
                c.execute(officers.insert().values(created_at=now, **values).returning(*officers.c))
                .mappings()
                .one()
            )
        return Officer.from_row(row)

    def get(self, username: str, *, conn: Connection | None = None) -> Officer | None:
        """The officer with this user name, if any."""
        with self._tx(conn) as c:
            row = c.execute(sa.select(officers).where(officers.c.username == username)).mappings().first()
        return Officer.from_row(row) if row else None

    def set_password_hash(self, username: str, password_hash: str, *, conn: Connection | None = None) -> bool:
        """Replace an officer's password hash (after a rehash or a reset); False if no such officer."""
        with self._tx(conn, write=True) as c:
            result = c.execute(
                officers.update().where(officers.c.username == username).values(password_hash=password_hash)
            )
        return result.rowcount == 1

    def list(self, *, conn: Connection | None = None) -> builtins.list[Officer]:
        """Every officer, by user name."""
        with self._tx(conn) as c:
            rows = c.execute(sa.select(officers).order_by(officers.c.username)).mappings().all()
        return [Officer.from_row(r) for r in rows]
