"""Log-distance path-loss model of the BLE link between a bracelet and its home hub (pure, seeded).

    rssi = measured_power_1m - 10 * n * log10(max(d, 0.1)) - wall_loss (outside the home) + N(0, sigma)

then a packet is lost with probability `packet_loss`, and anything below the receiver's sensitivity is not
received at all. A per-bracelet dropout window (interference, a metal door, a microwave oven) makes every
packet in the window lost; the world drives it from the households' timelines. Every random number comes
from the `random.Random` passed in, so a run reproduces from its seed.
"""

from __future__ import annotations

import math
import random

from pydantic import Field

from qmon.settings import StrictModel

MIN_DISTANCE_M = 0.1  # the log model diverges at 0 m; closer than 10 cm reads as 10 cm


class RadioModel(StrictModel):
    """Parameters of the simulated radio channel (one model for every household)."""

    path_loss_exponent: float = Field(
        default=2.5,
        ge=1.0,
        le=6.0,
        description="Path-loss exponent n (2 = free space, 1.6-3 indoors, up to 4-6 in clutter); 2.5 is a "
        "furnished home.",
    )
    wall_loss_db: float = Field(
        default=10.0,
        ge=0.0,
        le=60.0,
        description="Exterior-wall attenuation, dB, when the bracelet is outside its home's footprint.",
    )
    noise_sigma_db: float = Field(
        default=4.0,
        ge=0.0,
        le=20.0,
        description="Standard deviation of the Gaussian RSSI noise (fading), dB.",
    )
    packet_loss: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Probability that an advertisement in range is not received.",
    )
    sensitivity_dbm: float = Field(
        default=-100.0,
        ge=-130.0,
        le=-30.0,
        description="Receiver sensitivity, dBm: weaker packets are never received.",
    )
    link_timeout_s: float = Field(
        default=4.0,
        gt=0.0,
        le=60.0,
        description="GATT supervision timeout: links drop after this long below sensitivity or in a dropout.",
    )


def mean_rssi(model: RadioModel, measured_power_dbm: float, distance_m: float, outside: bool) -> float:
    """The noise-free RSSI, dBm, at `distance_m` from a transmitter whose 1 m RSSI is `measured_power_dbm`."""
    loss = 10.0 * model.path_loss_exponent * math.log10(max(distance_m, MIN_DISTANCE_M))
    return measured_power_dbm - loss - (model.wall_loss_db if outside else 0.0)


def sample_rssi(
    model: RadioModel,
    rng: random.Random,
    measured_power_dbm: float,
    distance_m: float,
    outside: bool,
    in_dropout: bool = False,
) -> int | None:
    """One received packet's RSSI (integer dBm, as receivers report it), or None if it was not received."""
    return Channel(model, rng).sample(measured_power_dbm, distance_m, outside, in_dropout)


class Channel:
    """A RadioModel bound to a random source, with its constants unpacked for the per-packet hot path."""

    __slots__ = ("_gauss", "_k", "_loss", "_random", "_sensitivity", "_sigma", "_wall", "model")

    def __init__(self, model: RadioModel, rng: random.Random) -> None:
        self.model = model
        self._k = 10.0 * model.path_loss_exponent
        self._wall = model.wall_loss_db
        self._sigma = model.noise_sigma_db
        self._loss = model.packet_loss
        self._sensitivity = model.sensitivity_dbm
        self._gauss = rng.gauss
        self._random = rng.random

    def sample(
        self, measured_power_dbm: float, distance_m: float, outside: bool, in_dropout: bool
    ) -> int | None:
        """One packet's RSSI (integer dBm, as receivers report it), or None if it was not received.

        Exactly two random numbers are drawn per call (noise, then loss), received or not, so that the
        sequence of draws, and therefore a seeded run, does not depend on which packets got through.
        """
        rssi = measured_power_dbm - self._k * math.log10(
            distance_m if distance_m > MIN_DISTANCE_M else MIN_DISTANCE_M
        )
        if outside:
            rssi -= self._wall
        rssi += self._gauss(0.0, self._sigma)
        lost = self._random() < self._loss
        if in_dropout or lost or rssi < self._sensitivity:
            return None
        return round(rssi)

    def skip(self) -> None:
        """Draw what sample() would, for a packet nobody listens to (the draws, not the path loss)."""
        self._gauss()
        self._random()

    def link_holds(
        self, measured_power_dbm: float, distance_m: float, outside: bool, in_dropout: bool
    ) -> bool:
        """Whether a connection event gets through: RSSI with noise at or above sensitivity (one draw)."""
        rssi = measured_power_dbm - self._k * math.log10(
            distance_m if distance_m > MIN_DISTANCE_M else MIN_DISTANCE_M
        )
        if outside:
            rssi -= self._wall
        rssi += self._gauss(0.0, self._sigma)
        return not in_dropout and rssi >= self._sensitivity


def estimate_distance(model: RadioModel, measured_power_dbm: float, rssi_dbm: float) -> float:
    """Invert the model (no wall, no noise): the distance, metres, at which the mean RSSI is `rssi_dbm`."""
    return float(10.0 ** ((measured_power_dbm - rssi_dbm) / (10.0 * model.path_loss_exponent)))
