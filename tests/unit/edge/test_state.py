"""The state store: atomic JSON, round trips, and a corrupt file that does not stop the agent."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.calibration import HomeProfile
from edge.state import EdgeState, JsonStateStore, MemoryStateStore
from edge.tracker import TrackerSnapshot
from gateway.protocol import PresenceState
from tests.unit.edge.builders import DEVICE_ID, T0

STATE = EdgeState(
    profiles={"home-a": HomeProfile("home-a", -70.0, -78.0, 400, -72.0, -61.0, T0)},
    devices={DEVICE_ID: TrackerSnapshot(PresenceState.AWAY, True, {"strap_open": None, "fever": True})},
    counters={DEVICE_ID: 12345},
)


def test_json_store_round_trips(tmp_path: Path) -> None:
    store = JsonStateStore(tmp_path / "nested" / "state.json")

    assert store.load() == EdgeState()
    store.save(STATE)

    assert JsonStateStore(store.path).load() == STATE
    assert [p.name for p in store.path.parent.iterdir()] == ["state.json"]  # no temporary file left


def test_a_corrupt_state_file_is_set_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 1, "profiles": {"home-a": {"home_id": "home-a"')

    with caplog.at_level(logging.ERROR):
        state = JsonStateStore(path).load()

    assert state == EdgeState()
    assert (tmp_path / "state.json.corrupt").exists() and not path.exists()
    assert "unreadable" in caplog.text


def test_memory_store_keeps_a_copy() -> None:
    store = MemoryStateStore()
    state = EdgeState(counters={DEVICE_ID: 1})
    store.save(state)
    state.counters[DEVICE_ID] = 99

    assert store.load().counters == {DEVICE_ID: 1}
