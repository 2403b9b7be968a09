"""The ingest benchmark's synthetic stream: bracelets cycle through incidents, each from its own phase."""

from __future__ import annotations

from datetime import UTC, datetime

from cloud.rules import CONDITION_ALERTS, EVENT_CONDITIONS
from gateway.protocol import EVENT_ADAPTER
from qmon.bench.workload import INCIDENT_CYCLE, make_assignments, make_event_stream

START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def test_each_bracelet_starts_at_its_own_point_of_the_cycle_and_then_follows_it() -> None:
    assignments = make_assignments(24, sites=2, wards=2)
    messages = [EVENT_ADAPTER.validate_json(p) for _, p in make_event_stream(assignments, 72, START)]
    assert [m.type for m in messages[:12]] == list(INCIDENT_CYCLE)
    for index, assignment in enumerate(assignments):
        own = [m for m in messages if m.device_id == assignment.device_id]
        assert [m.seq for m in own] == [1, 2, 3]
        assert [m.type for m in own] == [INCIDENT_CYCLE[(index + k) % len(INCIDENT_CYCLE)] for k in range(3)]


def test_the_alert_work_of_a_batch_does_not_depend_on_where_the_batch_starts() -> None:
    devices = 120
    assignments = make_assignments(devices, sites=3, wards=2)
    types = [EVENT_ADAPTER.validate_json(p) for _, p in make_event_stream(assignments, 6 * devices, START)]
    batch = 2 * devices  # two events per bracelet, as in the benchmark's 2,000-message batches

    def alerts_touched(offset: int) -> int:
        window = types[offset : offset + batch]
        return len({(m.device_id, CONDITION_ALERTS[EVENT_CONDITIONS[m.type][0]]) for m in window})

    touched = [alerts_touched(offset) for offset in range(devices)]
    assert max(touched) - min(touched) <= devices // 12  # in step, it ranged from 1x to 2x the bracelets
