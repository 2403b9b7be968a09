"""Lab samples (single and pooled), their results, and confirmed cases."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from cloud.storage.base import Records
from cloud.storage.schema import cases, sample_members, samples

_pool_member = sample_members.alias("pool_member")
_member_count = (
    sa.select(sa.func.count())
    .where(sample_members.c.sample_id == samples.c.id)
    .correlate(samples)
    .scalar_subquery()
    .label("member_count")
)
# A retest's place in its pool, so that the lab knows which tube (and so whom) to retest.
_SAMPLE_QUERY = sa.select(samples, _member_count, _pool_member.c.position.label("pool_position")).outerjoin(
    _pool_member,
    sa.and_(
        _pool_member.c.sample_id == samples.c.retest_of,
        _pool_member.c.identity_hash == samples.c.identity_hash,
    ),
)


@dataclass(frozen=True, slots=True)
class Sample:
    """A PCR or rapid antigen sample of one person or of a pool, and its result (`status`)."""

    id: int
    kind: str
    pooled: bool
    identity_hash: str | None
    ward_id: str
    collected_at: datetime | None
    status: str
    retest_of: int | None
    registered_by: str
    registered_at: datetime
    resulted_by: str | None
    resulted_at: datetime | None
    member_count: int = 0
    pool_position: int | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> Sample:
        """Build from a row of the sample query."""
        return cls(
            row["id"],
            row["kind"],
            bool(row["pooled"]),
            row["identity_hash"],
            row["ward_id"],
            row["collected_at"],
            row["status"],
            row["retest_of"],
            row["registered_by"],
            row["registered_at"],
            row["resulted_by"],
            row["resulted_at"],
            row["member_count"],
            row["pool_position"],
        )


@dataclass(frozen=True, slots=True)
class Case:
    """A confirmed case: whose (keyed hash), in which ward, since when, from which sample."""

    id: int
    identity_hash: str
    ward_id: str
    confirmed_at: datetime
    source_sample_id: int
    status: str

    @classmethod
    def from_row(cls, row: RowMapping) -> Case:
        """Build from a `cases` row."""
        return cls(
            row["id"],
            row["identity_hash"],
            row["ward_id"],
            row["confirmed_at"],
            row["source_sample_id"],
            row["status"],
        )


class LabRecords(Records):
    """Reads and writes of `samples`, `sample_members` and `cases`."""

    def add_sample(
        self,
        *,
        kind: str,
        ward_id: str,
        collected_at: datetime | None,
        identity_hash: str | None,
        members: Sequence[str],
        registered_by: str,
        now: datetime,
        retest_of: int | None = None,
        conn: Connection | None = None,
    ) -> Sample:
        """Insert a sample of one person (`identity_hash`) or a pool (`members`, in the order entered)."""
        values: dict[str, Any] = {
            "kind": kind,
            "pooled": bool(members),
            "identity_hash": identity_hash,
            "ward_id": ward_id,
            "collected_at": collected_at,
            "status": "pending",
            "retest_of": retest_of,
            "registered_by": registered_by,
            "registered_at": now,
        }
        with self._tx(conn, write=True) as c:
            sample_id: int = c.execute(samples.insert().values(**values).returning(samples.c.id)).scalar_one()
            if members:
                c.execute(
                    sample_members.insert(),
                    [
                        {"sample_id": sample_id, "identity_hash": member, "position": position}
                        for position, member in enumerate(members, start=1)
                    ],
                )
            sample = self.get_sample(sample_id, conn=c)
        assert sample is not None
        return sample

    def get_sample(
        self, sample_id: int, *, conn: Connection | None = None, lock: bool = False
    ) -> Sample | None:
        """The sample with this id, if any (its row locked for update when `lock`)."""
        if lock:
            with self._tx(conn) as c:
                c.execute(sa.select(samples.c.id).where(samples.c.id == sample_id).with_for_update())
        with self._tx(conn) as c:
            row = c.execute(_SAMPLE_QUERY.where(samples.c.id == sample_id)).mappings().first()
        return Sample.from_row(row) if row else None

    def list_samples(
        self,
        *,
        wards: Collection[str] | None,
        status: str | None = None,
        retests_only: bool = False,
        limit: int = 50,
        offset: int = 0,
        conn: Connection | None = None,
    ) -> builtins.list[Sample]:
        """Samples of these wards (None: every ward), newest first; `retests_only`: those from a pool."""
        query = _SAMPLE_QUERY
        if wards is not None:
            query = query.where(samples.c.ward_id.in_(sorted(wards)))
        if status is not None:
            query = query.where(samples.c.status == status)
        if retests_only:
            query = query.where(samples.c.retest_of.is_not(None))
        query = query.order_by(samples.c.id.desc()).limit(limit).offset(offset)
        with self._tx(conn) as c:
            return [Sample.from_row(r) for r in c.execute(query).mappings()]

    def members(self, sample_id: int, *, conn: Connection | None = None) -> builtins.list[str]:
        """The identity hashes of a pool's members, in the order entered."""
        query = (
            sa.select(sample_members.c.identity_hash)
            .where(sample_members.c.sample_id == sample_id)
            .order_by(sample_members.c.position)
        )
        with self._tx(conn) as c:
            return list(c.execute(query).scalars())

    def set_result(
        self,
        sample_id: int,
        *,
        status: str,
        collected_at: datetime,
        resulted_by: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> bool:
        """Record a pending sample's result; False if it is not pending (any more)."""
        with self._tx(conn, write=True) as c:
            result = c.execute(
                samples.update()
                .where(samples.c.id == sample_id, samples.c.status == "pending")
                .values(status=status, collected_at=collected_at, resulted_by=resulted_by, resulted_at=now)
            )
        return result.rowcount == 1

    def open_case(self, identity_hash: str, *, conn: Connection | None = None) -> Case | None:
        """The person's open case, if any."""
        with self._tx(conn) as c:
            row = (
                c.execute(
                    sa.select(cases).where(cases.c.identity_hash == identity_hash, cases.c.status == "open")
                )
                .mappings()
                .first()
            )
        return Case.from_row(row) if row else None

    def add_case(
        self,
        *,
        identity_hash: str,
        ward_id: str,
        confirmed_at: datetime,
        source_sample_id: int,
        conn: Connection | None = None,
    ) -> Case:
        """Insert an open case (IntegrityError if the person already has one)."""
        values = {
            "identity_hash": identity_hash,
            "ward_id": ward_id,
            "confirmed_at": confirmed_at,
            "source_sample_id": source_sample_id,
            "status": "open",
        }
        with self._tx(conn, write=True) as c:
            row = c.execute(cases.insert().values(**values).returning(*cases.c)).mappings().one()
        return Case.from_row(row)

    def get_case(self, case_id: int, *, conn: Connection | None = None) -> Case | None:
        """The case with this id, if any."""
        with self._tx(conn) as c:
            row = c.execute(sa.select(cases).where(cases.c.id == case_id)).mappings().first()
        return Case.from_row(row) if row else None

    def list_cases(
        self,
        *,
        wards: Collection[str] | None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
        conn: Connection | None = None,
    ) -> builtins.list[Case]:
        """Cases of these wards (None: every ward), newest first."""
        query = sa.select(cases)
        if wards is not None:
            query = query.where(cases.c.ward_id.in_(sorted(wards)))
        if status is not None:
            query = query.where(cases.c.status == status)
        query = query.order_by(cases.c.confirmed_at.desc(), cases.c.id.desc()).limit(limit).offset(offset)
        with self._tx(conn) as c:
            return [Case.from_row(r) for r in c.execute(query).mappings()]
