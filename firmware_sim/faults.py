"""What a timeline event does to the bracelet itself (the world adds what it does to the radio and to the
happenings it reports). Shared by the world's timeline and the serial console's fault injection, so a fault
typed at the console and the same fault scripted in a scenario change the bracelet in the same way."""

from __future__ import annotations

from firmware_sim.bracelet import SimBracelet
from firmware_sim.households import (
    BatteryEvent,
    ChargingEvent,
    ClockDriftEvent,
    DropoutEvent,
    FeverEvent,
    InterferenceEvent,
    RadioEvent,
    SkinContactEvent,
    StrapEvent,
    TimelineEvent,
)


def apply_to_bracelet(bracelet: SimBracelet, event: TimelineEvent, now: float) -> None:
    """Set the bracelet state `event` names, at clock time `now` (radio-only events change nothing here)."""
    if isinstance(event, StrapEvent):
        bracelet.set_strap_closed(event.strap == "closed", now)
    elif isinstance(event, SkinContactEvent):
        bracelet.set_skin_contact(event.skin_contact, now)
    elif isinstance(event, BatteryEvent):
        bracelet.set_battery(event.battery, now)
    elif isinstance(event, ChargingEvent):
        bracelet.set_charging(event.charging, now)
    elif isinstance(event, FeverEvent):
        bracelet.set_fever(event.fever, now)
    elif isinstance(event, RadioEvent):
        bracelet.set_radio(event.radio == "on", now)
    elif isinstance(event, ClockDriftEvent):
        bracelet.set_clock_drift(event.clock_drift_ppm, now)
    elif not isinstance(event, DropoutEvent | InterferenceEvent):  # the channel's, not the bracelet's
        raise TypeError(f"unknown timeline event {event!r}")
