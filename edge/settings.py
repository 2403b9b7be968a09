"""Typed settings of the edge agent, validated once at start-up (file, QMON_EDGE__* environment, flags)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from edge.calibration import CalibrationPolicy
from edge.camera.settings import CameraSettings, RoomSettings
from edge.gate import DEFAULT_DUPLICATE_WINDOW_S
from edge.presence import PresencePolicy
from edge.vitals import VitalsPolicy
from gateway.protocol import DeviceId, SiteId
from gateway.settings import MqttSettings
from qmon.bracelet.gatt import BraceletConfig
from qmon.settings import StrictModel

ENV_PREFIX = "QMON_EDGE__"
HOME_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_RADIO_RE = re.compile(r"^(inproc:[A-Za-z0-9._-]+|tcp://[A-Za-z0-9.\-\[\]:]+:\d+)$")
# bumble transport strings an edge drives a controller through: a USB HCI-UART dongle or a pty
# (serial:PATH[,BAUD][,rtscts]...), the simulator over TCP (tcp-client:HOST:PORT), a USB HCI dongle
# (usb:N), or a kernel HCI socket (hci-socket:N).
_HCI_TRANSPORT_RE = re.compile(
    r"^(serial:/[^,\s]+(,[A-Za-z0-9]+)*|tcp-client:[A-Za-z0-9.\-\[\]:]+:\d+|usb:\S+|hci-socket:\d+)$"
)
_KEY_RE = re.compile(r"^[0-9a-fA-F]{32}$")
# Keys that appear in examples and documentation; a real bracelet key is random.
_PLACEHOLDER_KEYS = frozenset(
    {
        "00112233445566778899aabbccddeeff",
        "0123456789abcdef0123456789abcdef",
        "000102030405060708090a0b0c0d0e0f",
        "deadbeefdeadbeefdeadbeefdeadbeef",
    }
)

_P = PresencePolicy()
_C = CalibrationPolicy()
_V = VitalsPolicy()
_B = BraceletConfig()


class BleSettings(StrictModel):
    """Which BLE stack the monitor uses."""

    backend: Literal["bluez", "virtual", "hci"] = Field(
        default="bluez",
        description="bluez: bleak's platform backend on real hardware; virtual: firmware_sim's radio; hci: "
        "bumble's host stack on an HCI transport (a USB HCI-UART dongle or firmware_sim.bumble).",
    )
    adapter: str | None = Field(
        default=None, description="BlueZ adapter name (e.g. hci0); None: the default adapter."
    )
    radio: str | None = Field(
        default=None, description="Virtual radio to join: inproc:NAME (same process) or tcp://127.0.0.1:PORT."
    )
    hci_transport: str | None = Field(
        default=None,
        description="HCI transport of the hci backend: serial:/dev/ttyACM0,1000000 (an nRF52840 HCI-UART "
        "dongle), serial:/dev/pts/N,1000000 or tcp-client:127.0.0.1:PORT (the bumble simulator).",
    )
    receivers: list[str] = Field(
        default_factory=list,
        description="Virtual receivers (hub ids) to listen with; empty: every receiver of the radio.",
    )
    scanning_mode: Literal["active", "passive"] = Field(
        default="active",
        description="Active scanning (scan requests) or passive (BlueZ advertisement monitor).",
    )

    @model_validator(mode="after")
    def _check_virtual(self) -> BleSettings:
        if self.radio is not None and not _RADIO_RE.match(self.radio):
            raise ValueError("ble.radio must look like inproc:NAME or tcp://HOST:PORT")
        if self.backend == "virtual" and self.radio is None:
            raise ValueError("ble.backend 'virtual' needs ble.radio (inproc:NAME or tcp://HOST:PORT)")
        if self.hci_transport is not None and not _HCI_TRANSPORT_RE.match(self.hci_transport):
            raise ValueError(
                "ble.hci_transport must look like serial:/dev/ttyACM0,1000000 or tcp-client:HOST:PORT"
            )
        if self.backend == "hci" and self.hci_transport is None:
            raise ValueError("ble.backend 'hci' needs ble.hci_transport (e.g. serial:/dev/ttyACM0,1000000)")
        return self


class BraceletSettings(StrictModel):
    """One bracelet assigned to this site."""

    device_id: DeviceId
    key: SecretStr = Field(
        description="The bracelet's 128-bit advert key, 32 hex digits (settings file or environment)."
    )
    home_id: str = Field(
        default="home",
        pattern=HOME_ID_PATTERN,
        description="The home this bracelet is monitored in; calibrated per home.",
    )

    @field_validator("key")
    @classmethod
    def _check_key(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if not _KEY_RE.match(raw):
            raise ValueError("bracelet key must be 32 hex digits")
        lowered = raw.lower()
        if len(set(lowered)) < 4 or lowered in _PLACEHOLDER_KEYS:
            raise ValueError("bracelet key is a placeholder; use the bracelet's real random key")
        return value

    def key_bytes(self) -> bytes:
        """The key as 16 bytes."""
        return bytes.fromhex(self.key.get_secret_value())


class CalibrationSettings(StrictModel):
    """How each home's thresholds are learned (see edge/calibration.py)."""

    duration_s: float = Field(
        default=_C.duration_s, ge=0, description="Length of the calibration period, seconds."
    )
    min_samples: int = Field(
        default=_C.min_samples, ge=1, description="In-home samples needed before thresholds are learned."
    )
    sample_interval_s: float = Field(
        default=_C.sample_interval_s, ge=0, description="At most one sample per bracelet per this."
    )
    percentile: float = Field(
        default=_C.percentile, gt=0, lt=50, description="Low percentile of in-home smoothed RSSI."
    )
    margin_db: float = Field(
        default=_C.margin_db, ge=0, description="Exit threshold = low percentile minus this margin."
    )
    gap_db: float = Field(
        default=_C.gap_db, gt=0, description="Enter threshold = exit threshold plus this hysteresis gap."
    )
    min_gap_db: float = Field(
        default=_C.min_gap_db, gt=0, description="Smallest gap kept when enter is lowered to the median."
    )
    exit_min_rssi: float = Field(
        default=_C.exit_min_rssi, description="Lowest exit threshold a home may learn, dBm."
    )
    exit_max_rssi: float = Field(
        default=_C.exit_max_rssi, description="Highest exit threshold a home may learn, dBm."
    )
    min_spread_db: float = Field(
        default=_C.min_spread_db,
        ge=0,
        description="Calibration ends only when the samples span this much (95th-5th percentile), dB.",
    )

    def to_policy(self) -> CalibrationPolicy:
        """The pure-core policy."""
        return CalibrationPolicy(**self.model_dump())


class PresenceSettings(StrictModel):
    """The presence policy (see edge/presence.py for why the defaults are what they are)."""

    tau_s: float = Field(default=_P.tau_s, gt=0, description="RSSI smoothing time constant, seconds.")
    outlier_clip_db: float | None = Field(
        default=_P.outlier_clip_db,
        gt=0,
        description="Clip samples this far from the estimate, dB (None: no clipping).",
    )
    enter_rssi: float = Field(
        default=_P.enter_rssi, description="Default HOME threshold (smoothed RSSI >=), dBm."
    )
    exit_rssi: float = Field(
        default=_P.exit_rssi, description="Default AWAY threshold (smoothed RSSI <), dBm."
    )
    enter_dwell_s: float = Field(
        default=_P.enter_dwell_s, ge=0, description="Time above enter before HOME, seconds."
    )
    exit_dwell_s: float = Field(
        default=_P.exit_dwell_s, ge=0, description="Time below exit before LEFT_HOME, seconds."
    )
    stale_after_s: float = Field(
        default=_P.stale_after_s, gt=0, description="Silence before SIGNAL_LOST, seconds."
    )
    trend_window_s: float = Field(
        default=_P.trend_window_s, gt=0, description="Window of the RSSI trend evidence, seconds."
    )
    calibration: CalibrationSettings = Field(
        default_factory=CalibrationSettings, description="Per-home calibration of the thresholds."
    )

    @model_validator(mode="after")
    def _check(self) -> PresenceSettings:
        self.to_policy()
        self.calibration.to_policy()
        return self

    def to_policy(self) -> PresencePolicy:
        """The pure-core policy."""
        return PresencePolicy(**self.model_dump(exclude={"calibration"}))


class VitalsSettings(StrictModel):
    """Thresholds of the vitals detectors (see edge/vitals.py)."""

    removed_debounce_s: float = Field(
        default=_V.removed_debounce_s, ge=0, description="No skin contact this long = removed."
    )
    battery_low_pct: int = Field(
        default=_V.battery_low_pct, ge=0, le=100, description="BATTERY_LOW at or below, %."
    )
    battery_ok_pct: int = Field(
        default=_V.battery_ok_pct, ge=0, le=100, description="BATTERY_OK at or above, %."
    )
    fever_c: float = Field(default=_V.fever_c, description="FEVER at or above this temperature, Celsius.")
    fever_clear_c: float = Field(
        default=_V.fever_clear_c, description="FEVER_CLEARED below this temperature, Celsius."
    )
    fever_sustain_s: float = Field(
        default=_V.fever_sustain_s, ge=0, description="Fever must hold this long, seconds."
    )
    fever_clear_s: float = Field(
        default=_V.fever_clear_s, ge=0, description="Normal must hold this long to clear, seconds."
    )

    @model_validator(mode="after")
    def _check(self) -> VitalsSettings:
        self.to_policy()
        return self

    def to_policy(self) -> VitalsPolicy:
        """The pure-core policy."""
        return VitalsPolicy(**self.model_dump())


class BraceletConfigSettings(StrictModel):
    """The Configuration characteristic the maintenance writes when a bracelet's differs."""

    adv_interval_ms: int = Field(
        default=_B.adv_interval_ms, ge=100, le=10_240, description="Advertising interval, ms."
    )
    status_notify_s: int = Field(
        default=_B.status_notify_s, ge=0, le=3600, description="Status notification period, s."
    )
    low_battery_pct: int = Field(
        default=_B.low_battery_pct, ge=1, le=50, description="Bracelet's low-battery flag at, %."
    )
    tx_power_dbm: int = Field(
        default=_B.tx_power_dbm, ge=-20, le=8, description="Advertising transmit power, dBm."
    )

    def to_config(self) -> BraceletConfig:
        """The GATT codec's value."""
        return BraceletConfig(**self.model_dump())


class GattSettings(StrictModel):
    """Periodic GATT maintenance over BleakClient (time sync, configuration, device information)."""

    interval_s: float = Field(
        default=6 * 3600.0,
        ge=0,
        description="Maintain each at-home bracelet this often, seconds; 0 turns it off.",
    )
    connect_timeout_s: float = Field(
        default=10.0, gt=0, description="Give up connecting after this, seconds."
    )
    session_timeout_s: float = Field(
        default=20.0, gt=0, description="Upper bound of one whole session, seconds."
    )
    status_listen_s: float = Field(
        default=3.0, ge=0, description="Listen to Status notifications this long, seconds."
    )
    backoff_min_s: float = Field(
        default=30.0, gt=0, description="First retry delay after a failed session, seconds."
    )
    backoff_max_s: float = Field(default=3600.0, gt=0, description="Longest retry delay, seconds.")
    config: BraceletConfigSettings = Field(
        default_factory=BraceletConfigSettings, description="Configuration every bracelet should have."
    )


class EdgeSettings(StrictModel):
    """Everything one edge agent (one home hub or facility box) needs."""

    site_id: SiteId
    mqtt: MqttSettings = Field(
        default_factory=lambda: MqttSettings.model_validate({}),
        description="Broker connection of the uplink.",
    )
    ble: BleSettings = Field(default_factory=BleSettings, description="BLE backend and scanning.")
    bracelets: list[BraceletSettings] = Field(
        default_factory=list, description="Bracelets assigned to this site (others are rejected as unknown)."
    )
    rooms: list[RoomSettings] = Field(
        default_factory=list,
        description="Facility rooms watched by a camera each (face presence, occupancy, camera health).",
    )
    camera: CameraSettings = Field(
        default_factory=CameraSettings, description="Models and inference shared by the rooms' cameras."
    )
    presence: PresenceSettings = Field(default_factory=PresenceSettings, description="Presence policy.")
    vitals: VitalsSettings = Field(default_factory=VitalsSettings, description="Vitals thresholds.")
    gatt: GattSettings = Field(default_factory=GattSettings, description="GATT maintenance.")
    duplicate_window_s: float = Field(
        default=DEFAULT_DUPLICATE_WINDOW_S,
        gt=0,
        description="A repeated advert counter is the same advertising event only within this, seconds.",
    )
    telemetry_interval_s: float = Field(
        default=30.0, gt=0, description="Period of telemetry batches, seconds."
    )
    tick_interval_s: float = Field(
        default=1.0, gt=0, description="Period of staleness and dwell checks, seconds."
    )
    outbox_path: Path = Field(default=Path("var/edge/outbox.db"), description="SQLite outbox of the uplink.")
    state_path: Path = Field(
        default=Path("var/edge/state.json"),
        description="Calibration profiles and reported state, kept across restarts.",
    )

    @field_validator("bracelets", "rooms", mode="before")
    @classmethod
    def _parse_json(cls, value: Any) -> Any:
        # Lets QMON_EDGE__BRACELETS='[{"device_id": ..., "key": ...}]' carry the list (and its keys), and
        # QMON_EDGE__ROOMS the rooms.
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_bracelets(self) -> EdgeSettings:
        ids = [b.device_id for b in self.bracelets]
        if len(set(ids)) != len(ids):
            raise ValueError("a bracelet is listed twice")
        keys = [b.key.get_secret_value().lower() for b in self.bracelets]
        if len(set(keys)) != len(keys):
            raise ValueError("two bracelets share a key; each bracelet needs its own")
        rooms = [r.room_id for r in self.rooms]
        if len(set(rooms)) != len(rooms):
            raise ValueError("a room is listed twice")
        return self
