"""The records behind a person's health QR status, read in one transaction (cloud/health_pass.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud.health_pass import HealthFacts
from cloud.storage.base import Records
from cloud.storage.schema import cases, orders, persons, sample_members, samples, vaccine_doses

QUARANTINE_STATUSES = ("active", "pending")


class HealthRecords(Records):
    """Reads for the health QR code; a person is their keyed identity hash."""

    def facts(self, identity_hash: str, now: datetime, conn: Connection | None = None) -> HealthFacts:
        """What the case, sample, order and dose tables say about the person at `now`."""
        with self._tx(conn) as c:
            open_case = c.execute(
                sa.select(sa.literal(1))
                .where(cases.c.identity_hash == identity_hash, cases.c.status == "open")
                .limit(1)
            ).first()
            # Their own samples and the pools they were in (a negative pool clears each member; a
            # positive pool only sends them to a retest, so it is not a positive result of theirs).
            taken = sa.func.coalesce(samples.c.collected_at, samples.c.registered_at).label("taken")
            own = sa.select(samples.c.status, taken).where(
                samples.c.identity_hash == identity_hash, samples.c.pooled.is_(False)
            )
            pooled = (
                sa.select(samples.c.status, taken)
                .join(sample_members, sample_members.c.sample_id == samples.c.id)
                .where(sample_members.c.identity_hash == identity_hash, samples.c.status != "positive")
            )
            tests = sa.union_all(own, pooled).subquery()
            latest = {
                status: when
                for status, when in c.execute(
                    sa.select(tests.c.status, sa.func.max(tests.c.taken)).group_by(tests.c.status)
                )
            }
            pending = c.execute(
                sa.select(sa.func.count()).select_from(tests).where(tests.c.status == "pending")
            ).scalar_one()
            in_quarantine = c.execute(
                sa.select(sa.literal(1))
                .select_from(orders.join(persons, persons.c.id == orders.c.person_id))
                .where(
                    persons.c.identity_hash == identity_hash,
                    orders.c.status.in_(QUARANTINE_STATUSES),
                    orders.c.starts_at <= now,
                    orders.c.ends_at > now,
                )
                .limit(1)
            ).first()
            completed = c.execute(
                sa.select(sa.func.min(vaccine_doses.c.administered_at)).where(
                    vaccine_doses.c.identity_hash == identity_hash,
                    vaccine_doses.c.dose_number >= vaccine_doses.c.series_doses,
                )
            ).scalar_one()
        return HealthFacts(
            open_case=open_case is not None,
            last_positive_at=latest.get("positive"),
            last_negative_at=latest.get("negative"),
            pending_test=pending > 0,
            in_quarantine=in_quarantine is not None,
            series_completed_at=completed,
        )
