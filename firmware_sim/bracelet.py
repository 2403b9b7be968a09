"""A simulated quarantine bracelet: sensors, battery, advertising state and GATT server (pure model).

Time is never read here: every method takes `now` (seconds since the Unix epoch, from the caller's
clock), so the same bracelet runs under a wall clock, a scaled clock or a manual test clock. The model
integrates what happened since the previous call (battery drain or charge, heart-rate and temperature
random walks), so callers may call it at any rate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from firmware_sim.gatt_layout import CHARACTERISTICS
from qmon.bracelet import gatt
from qmon.bracelet.advert import (
    HEART_RATE_UNKNOWN,
    MEASURED_POWER_RANGE,
    TEMP_UNKNOWN,
    AdvertSigner,
    BraceletState,
    Flags,
    format_device_id,
)
from qmon.bracelet.gatt import BraceletConfig, GattValueError, HeartRateMeasurement, StatusValue

NotifyCallback = Callable[[bytes], None]

FIRMWARE_REVISION = "firmware_sim 0.1.0"
NORMAL_BODY_TEMP_C = 36.5
FEVER_BODY_TEMP_C = 38.4
FEVER_EXTRA_HEART_RATE = 12.0  # heart rate rises about 10 bpm per degree of fever
HEART_RATE_TAU_S = 30.0  # how fast the heart-rate random walk returns to its baseline
HEART_RATE_SD = 3.0  # stationary spread of the heart rate around its baseline, bpm
TEMP_TAU_S = 10.0
TEMP_SD = 0.08
SENSOR_PERIOD_S = 5.0  # heart rate and temperature are 5 s averages, sampled every 5 s
HEART_RATE_NOTIFY_S = 1.0
TEMPERATURE_INDICATE_S = 10.0
SECONDS_PER_HOUR = 3600.0

_STRAP = int(Flags.STRAP_CLOSED)
_SKIN = int(Flags.SKIN_CONTACT)
_CHARGING = int(Flags.CHARGING)
_SYNCED = int(Flags.CLOCK_SYNCED)
_LOW = int(Flags.LOW_BATTERY)


# ATT error codes of the core specification (the application's own come from qmon.bracelet.gatt)
ATT_READ_NOT_PERMITTED = 0x02
ATT_WRITE_NOT_PERMITTED = 0x03
ATT_REQUEST_NOT_SUPPORTED = 0x06
ATT_ATTRIBUTE_NOT_FOUND = 0x0A


class AttError(Exception):
    """A GATT request the bracelet refused; `code` is the ATT error code it answers with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"ATT error 0x{code:02x}: {message}")
        self.code = code


class SimBracelet:
    """One simulated bracelet; the world (or a test) calls it with the current clock value."""

    __slots__ = (
        "_clock_origin",
        "_key",
        "_last",
        "_last_battery_level",
        "_last_hr_notify",
        "_last_sensor",
        "_last_status_flags",
        "_last_status_notify",
        "_last_temp_indicate",
        "_rng",
        "_sensor_wire",
        "_signer",
        "_subs",
        "battery",
        "charge_pct_per_hour",
        "charging",
        "clock_drift_ppm",
        "clock_offset_s",
        "clock_synced",
        "config",
        "counter",
        "device_id",
        "drain_pct_per_hour",
        "fever",
        "heart_rate",
        "heart_rate_baseline",
        "link_drain_pct_per_hour",
        "links",
        "measured_power_dbm",
        "radio_on",
        "skin_contact",
        "strap_closed",
        "temp_baseline",
        "temperature",
    )

    def __init__(
        self,
        device_id: int,
        key: bytes,
        *,
        now: float,
        battery_pct: float = 100.0,
        drain_pct_per_hour: float = 1.0,
        link_drain_pct_per_hour: float = 3.0,
        charge_pct_per_hour: float = 60.0,
        heart_rate_bpm: float = 72.0,
        body_temp_c: float = NORMAL_BODY_TEMP_C,
        measured_power_dbm: int = -59,
        config: BraceletConfig | None = None,
        strap_closed: bool = True,
        skin_contact: bool = True,
        charging: bool = False,
        fever: bool = False,
        radio_on: bool = True,
        clock_offset_s: float = 0.0,
        clock_drift_ppm: float = 0.0,
        clock_synced: bool = False,
        counter: int = 0,
        rng: random.Random | None = None,
    ) -> None:
        if len(key) != 16:
            raise ValueError("bracelet key must be 16 bytes")
        if not 0 <= device_id <= 0xFFFFFFFF:
            raise ValueError("device id must fit in 32 bits")
        if not MEASURED_POWER_RANGE[0] <= measured_power_dbm <= MEASURED_POWER_RANGE[1]:
            raise ValueError(f"measured power must be within {MEASURED_POWER_RANGE} dBm")
        self.device_id = device_id
        self._key = key
        self._signer = AdvertSigner(key)
        self.battery = min(100.0, max(0.0, battery_pct))
        self.drain_pct_per_hour = drain_pct_per_hour
        self.link_drain_pct_per_hour = link_drain_pct_per_hour
        self.charge_pct_per_hour = charge_pct_per_hour
        self.heart_rate_baseline = heart_rate_bpm
        self.heart_rate = heart_rate_bpm
        self.temp_baseline = body_temp_c
        self.temperature = body_temp_c
        self.measured_power_dbm = measured_power_dbm
        self.config = config or BraceletConfig()
        gatt.validate_config(self.config)
        self.strap_closed = strap_closed
        self.skin_contact = skin_contact
        self.charging = charging
        self.fever = fever
        self.radio_on = radio_on
        self.clock_offset_s = clock_offset_s
        self.clock_drift_ppm = clock_drift_ppm
        self.clock_synced = clock_synced
        self._clock_origin = now
        self.counter = counter & 0xFFFFFFFF
        self.links = 0  # GATT links up; the world keeps it current (links cost battery)
        self._rng = rng or random.Random(device_id)
        self._last = now
        self._last_sensor = now
        self._subs: dict[str, list[NotifyCallback]] = {}
        self._last_status_flags = self.flags()
        self._last_battery_level = self.battery_level
        self._last_status_notify = now
        self._last_hr_notify = now
        self._last_temp_indicate = now
        # (heart rate, temperature) -> their advertised values; they change only every SENSOR_PERIOD_S
        self._sensor_wire: tuple[float | None, float | None, int, int] = (None, None, 0, 0)

    # ---- derived state ---------------------------------------------------------------------------------

    @property
    def key(self) -> bytes:
        """The bracelet's 16-byte advert-signing key (fixed at manufacture)."""
        return self._key

    @property
    def alive(self) -> bool:
        """False once the battery is empty: a dead bracelet neither advertises nor keeps links."""
        return self.battery > 0.0

    @property
    def advertising(self) -> bool:
        """Whether the bracelet is on the air (alive and radio on)."""
        return self.battery > 0.0 and self.radio_on

    @property
    def battery_level(self) -> int:
        """Battery as the fuel gauge reports it: whole percent, rounded up so a living bracelet shows >= 1."""
        return min(100, max(0, math.ceil(self.battery)))

    @property
    def low_battery(self) -> bool:
        """The low-battery flag: battery at or below the configured threshold."""
        return self.battery <= self.config.low_battery_pct

    @property
    def heart_rate_bpm(self) -> int | None:
        """The heart rate the sensor reports, or None without skin contact."""
        if not self.skin_contact:
            return None
        return min(250, max(20, round(self.heart_rate)))

    @property
    def body_temp_c(self) -> float | None:
        """The body-temperature estimate in Celsius (0.01 resolution), or None without skin contact."""
        if not self.skin_contact:
            return None
        return round(min(45.0, max(20.0, self.temperature)), 2)

    @property
    def advertised_power_dbm(self) -> int:
        """RSSI at 1 m at the current TX power setting (the calibration is for 0 dBm)."""
        power = self.measured_power_dbm + self.config.tx_power_dbm
        return min(MEASURED_POWER_RANGE[1], max(MEASURED_POWER_RANGE[0], power))

    @property
    def name(self) -> str:
        """The advertised short name: `QB` + the device id in hex."""
        return "QB" + format_device_id(self.device_id)

    def flags(self) -> Flags:
        """The flag byte shared by the advertisement and the Status characteristic."""
        flags = Flags(0)
        if self.strap_closed:
            flags |= Flags.STRAP_CLOSED
        if self.skin_contact:
            flags |= Flags.SKIN_CONTACT
        if self.charging:
            flags |= Flags.CHARGING
        if self.clock_synced:
            flags |= Flags.CLOCK_SYNCED
        if self.low_battery:
            flags |= Flags.LOW_BATTERY
        return flags

    def state(self) -> BraceletState:
        """What the next advertisement would say (with the current counter)."""
        # Inlined rather than built from the properties above: this runs for every advertisement.
        contact = self.skin_contact
        battery = self.battery
        level = math.ceil(battery)
        power = self.measured_power_dbm + self.config.tx_power_dbm
        return BraceletState(
            self.device_id,
            self.counter,
            self.strap_closed,
            contact,
            self.charging,
            self.clock_synced,
            battery <= self.config.low_battery_pct,
            100 if level > 100 else (0 if level < 0 else level),
            min(250, max(20, round(self.heart_rate))) if contact else None,
            round(min(45.0, max(20.0, self.temperature)), 2) if contact else None,
            MEASURED_POWER_RANGE[1]
            if power > MEASURED_POWER_RANGE[1]
            else max(MEASURED_POWER_RANGE[0], power),
        )

    def device_time(self, now: float) -> float:
        """The bracelet's own clock, Unix seconds: true time plus its offset and drift."""
        return now + self.clock_offset_s + self.clock_drift_ppm * 1e-6 * (now - self._clock_origin)

    # ---- time evolution ------------------------------------------------------------------------------

    def update(self, now: float) -> None:
        """Integrate battery, heart rate and temperature from the previous call up to `now`."""
        dt = now - self._last
        if dt <= 0.0:
            return
        self._last = now
        battery = self.battery
        if self.charging:
            self.battery = min(100.0, battery + self.charge_pct_per_hour * dt / SECONDS_PER_HOUR)
        elif battery > 0.0:
            # Runs before every advert: max(0.0, ...) spelt out, the same value without the call.
            drain = self.drain_pct_per_hour + (self.link_drain_pct_per_hour if self.links else 0.0)
            battery -= drain * dt / SECONDS_PER_HOUR
            if battery > 0.0:
                self.battery = battery
            else:
                self._power_off()  # sets the battery to 0.0
        dt = now - self._last_sensor
        if dt >= SENSOR_PERIOD_S and self.skin_contact:
            # Ornstein-Uhlenbeck steps: mean-reverting random walks around the (fever-dependent) baselines
            self._last_sensor = now
            gauss = self._rng.gauss
            k = dt / HEART_RATE_TAU_S if dt < HEART_RATE_TAU_S else 1.0
            target = self.heart_rate_baseline + (FEVER_EXTRA_HEART_RATE if self.fever else 0.0)
            self.heart_rate += (target - self.heart_rate) * k + HEART_RATE_SD * math.sqrt(
                k * (2.0 - k)
            ) * gauss()
            k = dt / TEMP_TAU_S if dt < TEMP_TAU_S else 1.0
            target = FEVER_BODY_TEMP_C if self.fever else self.temp_baseline
            self.temperature += (target - self.temperature) * k + TEMP_SD * math.sqrt(k * (2.0 - k)) * gauss()
        if self._subs:
            self._notify_changes(now)

    def advertisement(self, now: float) -> bytes:
        """Advertise once: increment the counter and return the signed manufacturer-data value."""
        self.update(now)
        return self.next_advertisement()

    def next_advertisement(self) -> bytes:
        """advertisement(now) for a caller that has just called update(now) (the world's hot path)."""
        # The same bytes as encode_advert_payload(self.state(), self.key), inlined and packed from wire
        # values without the intermediate objects: the simulator signs 10,000 adverts a second.
        self.counter = counter = (self.counter + 1) & 0xFFFFFFFF
        config = self.config
        battery = self.battery
        contact = self.skin_contact
        if contact:
            heart_rate, temperature = self.heart_rate, self.temperature
            cached = self._sensor_wire
            # The readings change every SENSOR_PERIOD_S, adverts come every second: encode each reading
            # once. A float never changes, so an identical object means an identical value.
            if cached[0] is not heart_rate or cached[1] is not temperature:
                cached = (
                    heart_rate,
                    temperature,
                    min(250, max(20, round(heart_rate))),
                    round(round(min(45.0, max(20.0, temperature)), 2) * 100),
                )
                self._sensor_wire = cached
            heart, temp = cached[2], cached[3]
        else:
            heart, temp = HEART_RATE_UNKNOWN, TEMP_UNKNOWN
        level = math.ceil(battery)
        power = self.measured_power_dbm + config.tx_power_dbm
        flags = (
            (_STRAP if self.strap_closed else 0)
            | (_SKIN if contact else 0)
            | (_CHARGING if self.charging else 0)
            | (_SYNCED if self.clock_synced else 0)
            | (_LOW if battery <= config.low_battery_pct else 0)
        )
        return self._signer.encode(
            self.device_id,
            counter,
            flags,
            100 if level > 100 else (0 if level < 0 else level),
            heart,
            temp,
            MEASURED_POWER_RANGE[1]
            if power > MEASURED_POWER_RANGE[1]
            else max(MEASURED_POWER_RANGE[0], power),
        )

    def skip_advertisement(self) -> None:
        """Count an advertisement that no receiver heard (saves encoding and signing it)."""
        self.counter = (self.counter + 1) & 0xFFFFFFFF

    def tick(self, now: float) -> None:
        """Send the periodic notifications that are due (heart rate, temperature, status, battery)."""
        self.update(now)
        if not self._subs or not self.advertising:
            return
        if now - self._last_hr_notify >= HEART_RATE_NOTIFY_S:
            self._last_hr_notify = now
            bpm = self.heart_rate_bpm
            value = gatt.encode_heart_rate(HeartRateMeasurement(bpm=bpm or 0, skin_contact=bpm is not None))
            self._send(gatt.HEART_RATE_MEASUREMENT, value)
        if now - self._last_temp_indicate >= TEMPERATURE_INDICATE_S:
            self._last_temp_indicate = now
            temp = self.body_temp_c
            if temp is not None:  # no skin contact, no reading: a thermometer sends nothing
                self._send(gatt.TEMPERATURE_MEASUREMENT, gatt.encode_temperature(temp))
        period = self.config.status_notify_s
        if period and now - self._last_status_notify >= period:
            self._send_status(now)

    # ---- things that happen to the bracelet ---------------------------------------------------------

    def set_strap_closed(self, closed: bool, now: float) -> None:
        """The strap is closed or opened (cut, unbuckled)."""
        self.update(now)
        self.strap_closed = closed
        self._notify_changes(now)

    def set_skin_contact(self, contact: bool, now: float) -> None:
        """The skin-contact sensor starts or stops sensing a wrist."""
        self.update(now)
        if contact and not self.skin_contact:
            self.heart_rate = self.heart_rate_baseline
            self.temperature = FEVER_BODY_TEMP_C if self.fever else self.temp_baseline
        self.skin_contact = contact
        self._notify_changes(now)

    def set_battery(self, percent: float, now: float) -> None:
        """Force the battery level (a scenario's shortcut for a battery that behaves oddly)."""
        self.update(now)
        self.battery = min(100.0, max(0.0, percent))
        if self.battery <= 0.0:
            self._power_off()
        self._notify_changes(now)

    def set_charging(self, charging: bool, now: float) -> None:
        """Put the bracelet on or take it off its charger."""
        self.update(now)
        self.charging = charging
        self._notify_changes(now)

    def set_fever(self, fever: bool, now: float) -> None:
        """The wearer develops or loses a fever (the temperature baseline moves to ~38.4 C)."""
        self.update(now)
        self.fever = fever

    def set_radio(self, on: bool, now: float) -> None:
        """Switch the radio on or off (airplane mode, a firmware fault)."""
        self.update(now)
        self.radio_on = on
        if not on:
            self._subs.clear()  # no link survives the radio going off

    def set_device_time(self, unix_s: float, now: float) -> None:
        """Set the bracelet's clock (what a Time Sync write does); drift restarts from here."""
        self.update(now)
        self.clock_offset_s = unix_s - now
        self._clock_origin = now
        self.clock_synced = True
        self._notify_changes(now)

    def set_clock_drift(self, ppm: float, now: float) -> None:
        """Change how fast the bracelet's clock runs (a crystal fault); the time it shows now is kept."""
        self.clock_offset_s = self.device_time(now) - now
        self._clock_origin = now
        self.clock_drift_ppm = ppm

    # ---- GATT server ---------------------------------------------------------------------------------

    def gatt_read(self, uuid: str, now: float) -> bytes:
        """Answer a read of characteristic `uuid`; raise AttError if it is not readable."""
        spec = CHARACTERISTICS.get(uuid.lower())
        if spec is None:
            raise AttError(ATT_ATTRIBUTE_NOT_FOUND, f"no characteristic {uuid}")
        if not spec.readable:
            raise AttError(ATT_READ_NOT_PERMITTED, f"{uuid} is not readable")
        self.update(now)
        uuid = spec.uuid
        if uuid == gatt.BATTERY_LEVEL:
            return gatt.encode_battery_level(self.battery_level)
        if uuid == gatt.STATUS:
            return gatt.encode_status(self.status_value(now))
        if uuid == gatt.CONFIGURATION:
            return gatt.encode_config(self.config)
        if uuid == gatt.TIME_SYNC:
            return gatt.encode_time(max(0, int(self.device_time(now) * 1000)))
        if uuid == gatt.BODY_SENSOR_LOCATION:
            return bytes([gatt.BODY_SENSOR_LOCATION_WRIST])
        if uuid == gatt.TEMPERATURE_TYPE:
            return bytes([gatt.TEMPERATURE_TYPE_BODY])
        return self._device_information(uuid).encode("utf-8")

    def gatt_write(self, uuid: str, data: bytes, now: float) -> None:
        """Apply a write to characteristic `uuid`; raise AttError with the code the bracelet answers."""
        spec = CHARACTERISTICS.get(uuid.lower())
        if spec is None:
            raise AttError(ATT_ATTRIBUTE_NOT_FOUND, f"no characteristic {uuid}")
        if not spec.writable:
            raise AttError(ATT_WRITE_NOT_PERMITTED, f"{uuid} is not writable")
        self.update(now)
        try:
            if spec.uuid == gatt.CONFIGURATION:
                self.config = gatt.decode_config(bytes(data))
                self._notify_changes(now)  # a new low-battery threshold may flip the flag
            else:  # TIME_SYNC, the only other writable characteristic
                self.set_device_time(gatt.decode_time(bytes(data)) / 1000.0, now)
        except GattValueError as exc:
            raise AttError(exc.att_error, str(exc)) from None

    def subscribe(self, uuid: str, callback: NotifyCallback) -> Callable[[], None]:
        """Enable notifications (or indications) of `uuid` to `callback`; returns the unsubscribe callable."""
        spec = CHARACTERISTICS.get(uuid.lower())
        if spec is None:
            raise AttError(ATT_ATTRIBUTE_NOT_FOUND, f"no characteristic {uuid}")
        if not spec.subscribable:
            raise AttError(ATT_REQUEST_NOT_SUPPORTED, f"{uuid} does not notify")
        if not self._subs:  # changes before the first subscription are not news to the subscriber
            self._last_status_flags = self.flags()
            self._last_battery_level = self.battery_level
        callbacks = self._subs.setdefault(spec.uuid, [])
        callbacks.append(callback)

        def unsubscribe() -> None:
            current = self._subs.get(spec.uuid)
            if current is not None and callback in current:
                current.remove(callback)
                if not current:
                    del self._subs[spec.uuid]

        return unsubscribe

    def subscribed(self, uuid: str) -> bool:
        """Whether anyone receives notifications of `uuid`."""
        return bool(self._subs.get(uuid.lower()))

    def status_value(self, now: float) -> StatusValue:
        """The Status characteristic's value."""
        return StatusValue(
            counter=self.counter,
            flags=self.flags(),
            battery_pct=self.battery_level,
            heart_rate_bpm=self.heart_rate_bpm,
            skin_temp_c=self.body_temp_c,
            device_time=max(0, int(self.device_time(now))),
        )

    # ---- internals -----------------------------------------------------------------------------------

    def _device_information(self, uuid: str) -> str:
        if uuid == gatt.SERIAL_NUMBER:
            return format_device_id(self.device_id)
        if uuid == gatt.MANUFACTURER_NAME:
            return "qmon project (simulated)"
        if uuid == gatt.MODEL_NUMBER:
            return "QB-1 sim"
        if uuid == gatt.HARDWARE_REVISION:
            return "sim"
        return FIRMWARE_REVISION

    def _power_off(self) -> None:
        # The RTC loses its time with the battery; subscriptions die with the links.
        self.battery = 0.0
        self.clock_synced = False
        self._subs.clear()

    def _notify_changes(self, now: float) -> None:
        if not self._subs:
            self._last_status_flags = self.flags()
            self._last_battery_level = self.battery_level
            return
        level = self.battery_level
        if level != self._last_battery_level:
            self._last_battery_level = level
            self._send(gatt.BATTERY_LEVEL, gatt.encode_battery_level(level))
        if self.flags() != self._last_status_flags:
            self._send_status(now)

    def _send_status(self, now: float) -> None:
        status = self.status_value(now)
        self._last_status_flags = status.flags
        self._last_status_notify = now
        self._send(gatt.STATUS, gatt.encode_status(status))

    def _send(self, uuid: str, value: bytes) -> None:
        for callback in list(self._subs.get(uuid, ())):
            callback(value)
