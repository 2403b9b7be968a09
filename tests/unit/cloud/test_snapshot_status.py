"""A snapshot request's status as an officer sees it: the deadlines hold by the clock, swept or not."""

from __future__ import annotations

from dataclasses import replace

from cloud.snapshots import SnapshotPolicy, current_status
from cloud.storage.records import SnapshotRecord
from tests.unit.cloud.builders import ROOM, at

POLICY = SnapshotPolicy(timeout_s=30, retention_s=900)
PENDING = SnapshotRecord(
    id="5f0c2b9e-7a61-4d59-9b8e-2f7a1c3d4e5f",
    site_id="facility-1",
    room_id=ROOM,
    requested_by="officer-a",
    requested_at=at(0),
    status="pending",
    received_at=None,
    taken_at=None,
    faces_blurred=None,
    error=None,
    has_image=False,
)
READY = replace(PENDING, status="ready", received_at=at(5), taken_at=at(4), faces_blurred=1, has_image=True)


def test_a_pending_request_fails_once_its_timeout_passed() -> None:
    assert current_status(PENDING, at(30), POLICY) == ("pending", None)
    assert current_status(PENDING, at(30.001), POLICY) == ("failed", "timeout")


def test_a_ready_image_expires_after_its_retention_from_receipt() -> None:
    assert current_status(READY, at(905), POLICY) == ("ready", None)
    assert current_status(READY, at(905.001), POLICY) == ("expired", None)


def test_settled_requests_stay_as_they_are() -> None:
    failed = replace(PENDING, status="failed", error="camera_offline", received_at=at(2))
    assert current_status(failed, at(10_000), POLICY) == ("failed", "camera_offline")
    expired = replace(READY, status="expired", has_image=False)
    assert current_status(expired, at(10_000), POLICY) == ("expired", None)


def test_the_sweeper_runs_several_times_per_deadline() -> None:
    assert POLICY.sweep_interval_s == 7.5
    assert SnapshotPolicy(timeout_s=2, retention_s=10).sweep_interval_s == 1.0
