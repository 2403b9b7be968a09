"""Citizens' accounts and their declarations."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud.storage.base import Records
from cloud.storage.records import Citizen, Declaration
from cloud.storage.schema import citizens, declarations


class CitizenRecords(Records):
    """Reads and writes of the `citizens` table."""

    def add(
        self,
        *,
        handle: str,
        identity_hash: str,
        password_hash: str,
        full_name: str,
        birth_date: date,
        phone: str | None,
        ward_id: str,
        address: str | None,
        now: datetime,
        conn: Connection | None = None,
    ) -> Citizen:
        """Insert a citizen (IntegrityError if the handle or the identity hash is taken)."""
        values = {
            "handle": handle,
            "identity_hash": identity_hash,
            "password_hash": password_hash,
            "full_name": full_name,
            "birth_date": birth_date,
            "phone": phone,
            "ward_id": ward_id,
            "address": address,
            "created_at": now,
        }
        with self._tx(conn, write=True) as c:
            row = c.execute(citizens.insert().values(**values).returning(*citizens.c)).mappings().one()
        return Citizen.from_row(row)

    def get(self, citizen_id: int, *, conn: Connection | None = None) -> Citizen | None:
        """The citizen with this id, if any."""
        return self._first(citizens.c.id == citizen_id, conn)

    def get_many(self, citizen_ids: Collection[int], *, conn: Connection | None = None) -> dict[int, Citizen]:
        """The citizens with these ids, by id (missing ids are left out)."""
        if not citizen_ids:
            return {}
        with self._tx(conn) as c:
            rows = c.execute(
                sa.select(citizens).where(citizens.c.id.in_(sorted(set(citizen_ids))))
            ).mappings()
            found = [Citizen.from_row(r) for r in rows]
        return {citizen.id: citizen for citizen in found}

    def by_handle(self, handle: str, *, conn: Connection | None = None) -> Citizen | None:
        """The citizen with this login handle, if any."""
        return self._first(citizens.c.handle == handle, conn)

    def by_identity_hash(self, identity_hash: str, *, conn: Connection | None = None) -> Citizen | None:
        """The citizen whose identity number has this keyed hash, if any."""
        return self._first(citizens.c.identity_hash == identity_hash, conn)

    def set_password_hash(self, handle: str, password_hash: str, *, conn: Connection | None = None) -> bool:
        """Replace a citizen's password hash (after a rehash); False if no such citizen."""
        with self._tx(conn, write=True) as c:
            result = c.execute(
                citizens.update().where(citizens.c.handle == handle).values(password_hash=password_hash)
            )
        return result.rowcount == 1

    def _first(self, where: sa.ColumnElement[bool], conn: Connection | None) -> Citizen | None:
        with self._tx(conn) as c:
            row = c.execute(sa.select(citizens).where(where)).mappings().first()
        return Citizen.from_row(row) if row else None


class DeclarationRecords(Records):
    """Reads and writes of the `declarations` table."""

    def add(
        self,
        *,
        kind: str,
        citizen_id: int,
        ward_id: str,
        details: dict[str, Any],
        now: datetime,
        conn: Connection | None = None,
    ) -> Declaration:
        """Insert a declaration."""
        values = {
            "kind": kind,
            "citizen_id": citizen_id,
            "ward_id": ward_id,
            "filed_at": now,
            "details": details,
        }
        with self._tx(conn, write=True) as c:
            row = (
                c.execute(declarations.insert().values(**values).returning(*declarations.c)).mappings().one()
            )
        return Declaration.from_row(row)

    def get(self, declaration_id: int, *, conn: Connection | None = None) -> Declaration | None:
        """The declaration with this id, if any."""
        with self._tx(conn) as c:
            row = (
                c.execute(sa.select(declarations).where(declarations.c.id == declaration_id))
                .mappings()
                .first()
            )
        return Declaration.from_row(row) if row else None

    def list(
        self,
        *,
        wards: Collection[str] | None = None,
        citizen_id: int | None = None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
        conn: Connection | None = None,
    ) -> builtins.list[Declaration]:
        """Declarations of these wards (None: every ward) and/or of one citizen, newest first."""
        query = sa.select(declarations)
        if wards is not None:
            query = query.where(declarations.c.ward_id.in_(sorted(wards)))
        if citizen_id is not None:
            query = query.where(declarations.c.citizen_id == citizen_id)
        if kind is not None:
            query = query.where(declarations.c.kind == kind)
        query = (
            query.order_by(declarations.c.filed_at.desc(), declarations.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._tx(conn) as c:
            rows = c.execute(query).mappings().all()
        return [Declaration.from_row(r) for r in rows]
