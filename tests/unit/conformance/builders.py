"""Builders of observations for the pure conformance checks: real adverts, made with qmon's codec."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from firmware_sim.conformance.observations import AdvertReport, AdvertSample
from qmon.bracelet.advert import COMPANY_ID, BraceletState, encode_advert_payload, format_device_id
from qmon.bracelet.gatt import QUARANTINE_SERVICE

DEVICE_ID = 0x0A1B2C3D
KEY = bytes(range(16))


def make_state(**overrides: Any) -> BraceletState:
    """A bracelet state as PROTOCOL.md's example has it (device 0a1b2c3d, counter 7, 87 %, 72 bpm)."""
    state = BraceletState(
        device_id=DEVICE_ID,
        counter=7,
        strap_closed=True,
        skin_contact=True,
        charging=False,
        clock_synced=True,
        low_battery=False,
        battery_pct=87,
        heart_rate_bpm=72,
        skin_temp_c=36.41,
        measured_power_dbm=-59,
    )
    return replace(state, **overrides)


def make_report(
    time: float = 0.0,
    *,
    counter: int = 7,
    key: bytes = KEY,
    company_id: int = COMPANY_ID,
    payload: bytes | None = None,
    name: str | None = "QB" + format_device_id(DEVICE_ID),
    uuids: tuple[str, ...] = (QUARANTINE_SERVICE,),
    **state: Any,
) -> AdvertReport:
    """One report of a bracelet advert (`payload` overrides the encoded one)."""
    if payload is None:
        payload = encode_advert_payload(make_state(counter=counter, **state), key)
    return AdvertReport(time, -60, {company_id: payload}, name, uuids)


def make_sample(
    interval_ms: float = 1000.0,
    count: int = 20,
    *,
    delay_ms: tuple[float, float] = (0.0, 10.0),
    drop: frozenset[int] = frozenset(),
    seed: int = 1,
    **report: Any,
) -> AdvertSample:
    """`count` advertising events every `interval_ms` plus a random delay; events in `drop` unheard."""
    rng = random.Random(seed)
    reports, t = [], 100.0
    for i in range(count):
        if i not in drop:
            reports.append(make_report(t, counter=100 + i, **report))
        t += (interval_ms + rng.uniform(*delay_ms)) / 1000.0
    return AdvertSample("C5:1A:00:00:C0:01", tuple(reports), count * interval_ms / 1000.0)
