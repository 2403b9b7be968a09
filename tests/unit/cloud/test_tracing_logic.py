"""Pure logic of venues, labs and tracing: stay bounds, time checks, pools, overlaps and contact levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.errors import UnprocessableError
from cloud.labs import check_collected_at, check_pool
from cloud.storage.tracing import Encounter, Housemate, Presence
from cloud.tracing import Level, check_window, clip_overlap, collect_contacts, default_window
from cloud.venues import MAX_STAY, check_crossing_time, checked_out_until

NOW = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
WINDOW = (NOW - timedelta(days=3), NOW)


def at(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def presence(who: str, start: float, end: float, venue: int = 1, source: str = "checkin") -> Presence:
    """A presence from `start` to `end` hours before NOW."""
    return Presence(who, venue, source, at(start), at(end))


def test_a_stay_is_capped() -> None:
    assert checked_out_until(at(5), at(4)) == at(4)
    assert checked_out_until(at(30), at(1)) == at(30) + MAX_STAY


def test_crossing_times_must_be_recent_and_not_future() -> None:
    check_crossing_time(NOW, NOW)
    check_crossing_time(at(23), NOW)
    with pytest.raises(UnprocessableError, match="future"):
        check_crossing_time(NOW + timedelta(minutes=5), NOW)
    with pytest.raises(UnprocessableError, match="within the last"):
        check_crossing_time(at(25), NOW)


def test_collection_times_and_pools() -> None:
    check_collected_at(at(24 * 13), NOW)
    with pytest.raises(UnprocessableError, match="within the last 14 days"):
        check_collected_at(at(24 * 15), NOW)
    check_pool(["a", "b"])
    with pytest.raises(UnprocessableError, match="2 to 30"):
        check_pool(["a"])
    with pytest.raises(UnprocessableError, match="twice"):
        check_pool(["a", "a"])


def test_windows() -> None:
    assert default_window(at(3), NOW) == (at(3) - timedelta(days=2), NOW)
    check_window(at(2), NOW, NOW)
    with pytest.raises(UnprocessableError, match="end after"):
        check_window(NOW, NOW, NOW)
    with pytest.raises(UnprocessableError, match="28 days"):
        check_window(at(24 * 29), NOW, NOW)
    with pytest.raises(UnprocessableError, match="365 days ago and tomorrow"):
        check_window(datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 2, tzinfo=UTC), NOW)
    with pytest.raises(UnprocessableError, match="365 days ago and tomorrow"):
        check_window(NOW, NOW + timedelta(days=2), NOW)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((5, 4), (4.5, 3), (4.5, 4)),  # partial overlap
        ((5, 4), (4, 3), None),  # touching ends do not overlap
        ((5, 4), (6, 1), (5, 4)),  # one inside the other
        ((100, 70), (100, 70), (72, 70)),  # clipped to the window (3 days = 72 h)
    ],
)
def test_clip_overlap(
    a: tuple[float, float], b: tuple[float, float], expected: tuple[float, float] | None
) -> None:
    got = clip_overlap((at(a[0]), at(a[1])), (at(b[0]), at(b[1])), WINDOW)
    assert got == (None if expected is None else (at(expected[0]), at(expected[1])))


def test_collect_contacts_keeps_the_evidence_and_leaves_known_people_out() -> None:
    case = presence("case", 5, 4)
    encounters = [
        Encounter(case, presence("a", 4.5, 3)),
        Encounter(case, presence("a", 4.9, 4.8, venue=2)),
        Encounter(case, presence("case2", 4.5, 4)),
        Encounter(case, presence("b", 4, 3)),  # SQL bounds are inclusive of touching ends; logic is not
    ]
    housemates = [Housemate("case", "c", "ward-a", "12 Hang Bac"), Housemate("case", "case2", "ward-a", "x")]
    found = collect_contacts(Level.F1, encounters, housemates, WINDOW, {"case2"}, {"case": "case"})
    assert set(found) == {"a", "c"}
    a = found["a"]
    assert a.level is Level.F1 and [e.venue_id for e in a.evidence] == [2, 1]  # by start time
    assert [e.overlap for e in a.evidence] == [timedelta(minutes=6), timedelta(minutes=30)]
    assert found["c"].ward_id == "ward-a" and found["c"].evidence[0].kind == "household"
    assert found["c"].evidence[0].overlap == timedelta(0)
