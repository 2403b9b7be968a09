"""Settings of the `qmon sim` process: which world to simulate, its radio, where to serve it, how fast."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from firmware_sim.population import ViolationMix
from firmware_sim.radio import RadioModel
from firmware_sim.server import check_loopback
from qmon.settings import StrictModel


class ListenSettings(StrictModel):
    """Where the radio server listens (loopback only)."""

    host: str = Field(default="127.0.0.1", description="Loopback address to bind; anything else is refused.")
    port: int = Field(
        default=0, ge=0, le=65535, description="TCP port; 0 picks a free port (printed at start)."
    )

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        return check_loopback(value)


class PopulationSettings(StrictModel):
    """A generated population instead of a households file."""

    count: int = Field(ge=1, le=100_000, description="Number of one-bracelet households.")
    seed: int | None = Field(default=None, description="Generation seed; default: the simulation seed.")
    duration_s: float = Field(
        default=3600.0, gt=0, description="Simulated span the population is scripted for, seconds."
    )
    sites: int = Field(default=1, ge=1, description="Number of edge sites the households are split into.")
    violations: ViolationMix = Field(
        default_factory=lambda: ViolationMix(), description="Scripted violations."
    )


class SimSettings(StrictModel):
    """Everything `qmon sim` needs; one object, validated at start-up."""

    households_file: Path | None = Field(
        default=None, description="Households file (YAML/JSON); default: the packaged demo (four households)."
    )
    population: PopulationSettings | None = Field(
        default=None, description="Generate households instead of a file."
    )
    radio: RadioModel = Field(default_factory=lambda: RadioModel(), description="Radio channel model.")
    listen: ListenSettings = Field(
        default_factory=lambda: ListenSettings(), description="Radio server address."
    )
    speed: float = Field(default=1.0, gt=0, le=1000, description="Simulated seconds per wall-clock second.")
    seed: int = Field(
        default=0, description="Seed of the radio noise, sensor noise and derived bracelet keys."
    )
    duration_s: float | None = Field(
        default=None, gt=0, description="Stop after this many simulated seconds; default: never."
    )
    inproc_name: str | None = Field(
        default="sim",
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="Also register the world in this process as inproc:NAME (for in-process edge agents).",
    )
    tick_s: float = Field(
        default=0.05, gt=0, le=1.0, description="Longest the world loop sleeps, simulated seconds."
    )

    @model_validator(mode="after")
    def _one_source(self) -> SimSettings:
        if self.households_file is not None and self.population is not None:
            raise ValueError("give either households_file or population, not both")
        return self
