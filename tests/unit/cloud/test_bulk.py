"""The bulk writer's timestamp values: the exact text SQLAlchemy reads back on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from cloud.storage.bulk import Bulk

SQLITE_DATETIME = sqlite.DATETIME().bind_processor(sqlite.dialect())


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 11, 21, 10, 0, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 11, 21, 12, 30, 5, 7, tzinfo=timezone(timedelta(hours=2, minutes=30))),
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
    ],
)
def test_sqlite_text_is_what_sqlalchemy_writes_for_the_utc_time(value: datetime) -> None:
    bulk = Bulk("sqlite")
    expected = SQLITE_DATETIME(value.astimezone(UTC).replace(tzinfo=None))  # type: ignore[misc]
    assert bulk.ts(value) == expected
    assert bulk.ts(value) == expected  # cached


def test_none_stays_none_and_postgresql_gets_the_datetime_itself() -> None:
    value = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert Bulk("sqlite").ts(None) is None
    assert Bulk("postgresql").ts(value) is value


def test_other_databases_are_refused() -> None:
    with pytest.raises(NotImplementedError):
        Bulk("mysql")
