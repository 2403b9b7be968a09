"""Synthetic but realistic hub workloads: sites, bracelets with orders, and incident event sequences."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.protocol import Channel, EventMessage, EventType, encode_message, topic_for

# Each bracelet walks through incidents: an onset, then the event that clears it. Repeats of one incident
# update its open alert, as they would in the field.
INCIDENT_CYCLE = (
    EventType.LEFT_HOME,
    EventType.RETURNED_HOME,
    EventType.STRAP_OPENED,
    EventType.STRAP_CLOSED,
    EventType.BRACELET_REMOVED,
    EventType.BRACELET_WORN,
    EventType.BATTERY_LOW,
    EventType.BATTERY_OK,
    EventType.FEVER,
    EventType.FEVER_CLEARED,
    EventType.SIGNAL_LOST,
    EventType.SIGNAL_RESTORED,
)


@dataclass(frozen=True)
class Assignment:
    """One bracelet under a quarantine order at a site, in a ward."""

    site_id: str
    device_id: str
    ward_id: str


def make_assignments(devices: int, sites: int, wards: int) -> list[Assignment]:
    """`devices` bracelets spread over `sites` sites and `wards` wards, with ids unique to this run."""
    run = secrets.token_hex(2)
    prefix = int(run, 16) << 16
    return [
        Assignment(f"bench-{run}-{i % sites:03d}", f"{prefix + i:08x}", f"ward-{i % wards:02d}")
        for i in range(devices)
    ]


def make_event_stream(assignments: list[Assignment], count: int, start: datetime) -> list[tuple[str, bytes]]:
    """`count` encoded event messages, round-robin over bracelets, each bracelet cycling incidents.

    Each bracelet starts at its own point of the cycle, as real ones would. (Started in step, every bracelet
    sent its onsets and clearances in the same rounds, so the work a consumer's batch did depended on whether
    its first batch had an odd or even number of rounds' worth of messages: a run's alert updates varied
    from about 20,000 to 40,000 for the same 50,000 events.)
    """
    seqs = dict.fromkeys((a.device_id for a in assignments), 0)
    out: list[tuple[str, bytes]] = []
    for i in range(count):
        index = i % len(assignments)
        a = assignments[index]
        seqs[a.device_id] += 1
        seq = seqs[a.device_id]
        message = EventMessage(
            event_id=uuid.uuid4(),
            site_id=a.site_id,
            device_id=a.device_id,
            seq=seq,
            type=INCIDENT_CYCLE[(seq - 1 + index) % len(INCIDENT_CYCLE)],
            time=start + timedelta(milliseconds=i),
            data={"bench": True, "rssi": -70.5},
        )
        out.append((topic_for(a.site_id, Channel.EVENTS), encode_message(message)))
    return out


def order_window(now: datetime) -> tuple[datetime, datetime]:
    """An order window that covers the whole benchmark."""
    return now - timedelta(days=1), now + timedelta(days=14)


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)
