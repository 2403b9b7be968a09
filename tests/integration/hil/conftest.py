"""Fixtures of the hardware-in-the-loop path without hardware: bumble bracelets behind an HCI port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

pytest.importorskip("bumble")

from firmware_sim.bumble.link import Position
from firmware_sim.bumble.simulator import BraceletSpec, BumbleSimulator
from firmware_sim.households import derive_key
from firmware_sim.radio import RadioModel

SEED = 11
NEAR, MIDDLE, FAR = 0x0000C001, 0x0000C002, 0x0000C003
DISTANCES_M = {NEAR: 1.0, MIDDLE: 5.0, FAR: 15.0}


def quiet_model() -> RadioModel:
    """The default path loss with little fading and no random loss: distances show clearly in RSSI; links
    out of range time out after 1 s."""
    return RadioModel.model_validate({"noise_sigma_db": 1.0, "packet_loss": 0.0, "link_timeout_s": 1.0})


@pytest.fixture
async def simulator() -> AsyncIterator[BumbleSimulator]:
    """Three bracelets 1, 5 and 15 m from the receiver at the origin, advertising every 250 ms."""
    specs = [BraceletSpec(d, derive_key(SEED, d), Position(x=m)) for d, m in DISTANCES_M.items()]
    sim = BumbleSimulator(specs, model=quiet_model(), seed=SEED, adv_interval_ms=250)
    async with sim:
        yield sim
