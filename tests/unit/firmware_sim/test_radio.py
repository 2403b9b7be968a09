"""The log-distance path-loss model: numbers, noise, loss, sensitivity, reproducibility."""

from __future__ import annotations

import random
import statistics

import pytest
from pydantic import ValidationError

from firmware_sim.radio import Channel, RadioModel, estimate_distance, mean_rssi, sample_rssi


def model(**overrides: float) -> RadioModel:
    return RadioModel.model_validate(
        {
            "path_loss_exponent": 2.0,
            "wall_loss_db": 10.0,
            "noise_sigma_db": 0.0,
            "packet_loss": 0.0,
            **overrides,
        }
    )


@pytest.mark.parametrize(
    ("distance", "outside", "expected"),
    [
        (1.0, False, -59.0),  # measured power is the RSSI at 1 m
        (10.0, False, -79.0),  # n=2: 20 dB per decade
        (100.0, False, -99.0),
        (10.0, True, -89.0),  # the exterior wall takes 10 dB more
        (0.0, False, -39.0),  # clamped to 0.1 m
        (0.05, False, -39.0),
    ],
)
def test_mean_rssi_follows_the_log_distance_law(distance: float, outside: bool, expected: float) -> None:
    assert mean_rssi(model(), -59, distance, outside) == pytest.approx(expected)


def test_path_loss_exponent_scales_the_slope() -> None:
    assert mean_rssi(model(path_loss_exponent=3.0), -59, 10.0, False) == pytest.approx(-89.0)


def test_estimate_distance_inverts_the_model() -> None:
    m = model(path_loss_exponent=2.5)
    assert estimate_distance(m, -60, mean_rssi(m, -60, 7.3, False)) == pytest.approx(7.3)


def test_without_noise_the_sample_is_the_rounded_mean() -> None:
    assert sample_rssi(model(), random.Random(1), -59, 5.0, False) == round(-59 - 20 * 0.69897)


def test_below_sensitivity_nothing_is_received() -> None:
    m = model(sensitivity_dbm=-90.0)
    rng = random.Random(1)
    assert sample_rssi(m, rng, -59, 30.0, False) == round(-59 - 20 * 1.4771)  # -88.5: heard
    assert sample_rssi(m, rng, -59, 30.0, True) is None  # -98.5 behind the wall: not heard


def test_dropout_and_total_loss_receive_nothing() -> None:
    rng = random.Random(1)
    assert sample_rssi(model(), rng, -59, 1.0, False, in_dropout=True) is None
    assert all(sample_rssi(model(packet_loss=1.0), rng, -59, 1.0, False) is None for _ in range(100))


def test_noise_and_loss_have_the_configured_statistics() -> None:
    m = model(noise_sigma_db=4.0, packet_loss=0.2, sensitivity_dbm=-130.0)
    channel = Channel(m, random.Random(7))
    samples = [channel.sample(-59, 10.0, False, False) for _ in range(20_000)]
    heard = [s for s in samples if s is not None]
    assert len(heard) / len(samples) == pytest.approx(0.8, abs=0.02)
    assert statistics.fmean(heard) == pytest.approx(-79.0, abs=0.2)
    assert statistics.pstdev(heard) == pytest.approx(4.0, abs=0.2)


def test_same_seed_same_sequence_different_seed_different_sequence() -> None:
    m = model(noise_sigma_db=3.0, packet_loss=0.1)

    def run(seed: int) -> list[int | None]:
        channel = Channel(m, random.Random(seed))
        return [channel.sample(-59, d / 10, d % 3 == 0, False) for d in range(1, 300)]

    assert run(42) == run(42)
    assert run(42) != run(43)


def test_link_holds_within_range_and_not_beyond() -> None:
    channel = Channel(model(sensitivity_dbm=-90.0), random.Random(1))
    assert channel.link_holds(-59, 5.0, False, False)
    assert not channel.link_holds(-59, 50.0, True, False)
    assert not channel.link_holds(-59, 1.0, False, True)


def test_radio_model_is_strict_and_described() -> None:
    with pytest.raises(ValidationError):
        RadioModel.model_validate({"packet_loss": 1.5})
    with pytest.raises(ValidationError):
        RadioModel.model_validate({"unknown": 1})
    assert all(field.description for field in RadioModel.model_fields.values())
