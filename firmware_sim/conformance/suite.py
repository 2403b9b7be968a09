"""`run_conformance`: gather observations of one bracelet over HCI (and its console), then judge them.

The order matters on the air: adverts are sampled first (a bracelet stops advertising while connected),
then one GATT session (with the strap toggle when a console is given), then the console's queries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from edge.hci_backend import HciStack
from firmware_sim.conformance import advert_checks, console_checks, gatt_checks
from firmware_sim.conformance.advert_checks import RateTolerance
from firmware_sim.conformance.console_link import ConsoleError, ConsoleLink, query_all
from firmware_sim.conformance.observations import AdvertSample, ConsoleTranscript
from firmware_sim.conformance.probe import GattFindings, probe_gatt, sample_adverts
from firmware_sim.conformance.results import CheckResult, failed, passed, skipped
from qmon.bracelet import gatt

HCI_OPEN_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ConformanceOptions:
    """What to check and how long to look."""

    target: str
    device_id: str | None = None
    key: bytes | None = None
    console_url: str | None = None
    duration_s: float = 10.0
    discover_timeout_s: float = 15.0
    connect_timeout_s: float = 10.0
    notify_bound_s: float = 5.0
    pair: bool = False
    rate: RateTolerance = field(default_factory=RateTolerance)


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    """The bracelet that was checked (if it was found) and every check's result, in a fixed order."""

    target: str
    device_id: str | None
    address: str | None
    results: tuple[CheckResult, ...]


async def run_conformance(options: ConformanceOptions) -> ConformanceReport:
    """Check the bracelet on `options.target` against docs/PROTOCOL.md and docs/CONSOLE.md."""
    try:
        stack = await asyncio.wait_for(HciStack.acquire(options.target), HCI_OPEN_TIMEOUT_S)
    except Exception as exc:  # any transport failure is the tester's to read, not a traceback
        result = failed("device.found", f"cannot open HCI transport {options.target}: {exc!r}")
        return ConformanceReport(options.target, options.device_id, None, (result, *_not_found()))
    try:
        return await _run(options)
    finally:
        await stack.release()


async def _run(options: ConformanceOptions) -> ConformanceReport:
    link: ConsoleLink | None = None
    console_error: str | None = None
    if options.console_url is not None:
        link = ConsoleLink(options.console_url)
        try:
            await asyncio.to_thread(link.open)
        except ConsoleError as exc:
            link, console_error = None, str(exc)
    try:
        started = time.monotonic()
        heard = await sample_adverts(
            options.target, options.device_id, options.duration_s, options.discover_timeout_s
        )
        if heard is None:
            wanted = options.device_id or "any qmon bracelet"
            result = failed("device.found", f"{wanted} not heard within {options.discover_timeout_s:g} s")
            return ConformanceReport(options.target, options.device_id, None, (result, *_not_found()))
        device, sample = heard
        advert_time = time.monotonic() - started

        started = time.monotonic()
        findings = await probe_gatt(
            device,
            timeout_s=options.connect_timeout_s,
            notify_bound_s=options.notify_bound_s,
            console=None if link is None else _async_command(link),
            pair=options.pair,
        )
        gatt_time = time.monotonic() - started

        started = time.monotonic()
        transcript = None
        if link is not None:
            transcript = await asyncio.to_thread(query_all, link, console_checks.QUERIES)
        elif console_error is not None:
            transcript = ConsoleTranscript(options.console_url or "", {}, error=console_error)
        console_time = time.monotonic() - started
    finally:
        if link is not None:
            await asyncio.to_thread(link.close)

    device_id = advert_checks.advertised_device_id(sample) or options.device_id
    results = [
        passed("device.found", f"heard {device_id} at {sample.address}", f"{len(sample.reports)} reports"),
        *_timed(judge_adverts(sample, device_id, findings, options), advert_time),
        *_timed(judge_gatt(findings, device_id, options, console_error), gatt_time),
        *_timed(judge_console(transcript, sample, device_id), console_time),
    ]
    return ConformanceReport(options.target, device_id, sample.address, tuple(results))


def _async_command(link: ConsoleLink) -> Callable[[str], Awaitable[tuple[str, ...]]]:
    async def command(line: str) -> tuple[str, ...]:
        return await asyncio.to_thread(link.command, line)

    return command


def judge_adverts(
    sample: AdvertSample, device_id: str | None, findings: GattFindings, options: ConformanceOptions
) -> list[CheckResult]:
    """The advert checks, the rate against the interval the GATT Configuration reported."""
    interval = gatt_checks.configured_interval_ms(findings.snapshot)
    return [
        advert_checks.check_advert_format(sample),
        advert_checks.check_advert_counter(sample),
        advert_checks.check_advert_tag(sample, options.key),
        advert_checks.check_scan_response(sample, device_id),
        advert_checks.check_advert_rate(sample, interval, options.rate),
    ]


def judge_gatt(
    findings: GattFindings, device_id: str | None, options: ConformanceOptions, console_error: str | None
) -> list[CheckResult]:
    """The GATT layout, reads and notification checks."""
    bound = options.notify_bound_s
    if options.console_url is None:
        strap_reason = "no --console given"
    else:
        strap_reason = f"console unavailable: {console_error}"
    strap = gatt_checks.check_strap_notification(findings.strap, bound, strap_reason)
    if findings.strap is None and options.console_url is not None:
        strap = failed(strap.name, strap.reason)  # a console was asked for: not being able to use it fails
    return [
        *(gatt_checks.check_service(findings.snapshot, s) for s in gatt_checks.EXPECTED_SERVICES),
        gatt_checks.check_reads(findings.snapshot, device_id),
        gatt_checks.check_notifications(
            findings.traces.get(gatt.STATUS), gatt.STATUS, max(bound, findings.status_bound_s)
        ),
        gatt_checks.check_notifications(
            findings.traces.get(gatt.HEART_RATE_MEASUREMENT), gatt.HEART_RATE_MEASUREMENT, bound
        ),
        strap,
    ]


def judge_console(
    transcript: ConsoleTranscript | None, sample: AdvertSample, device_id: str | None
) -> list[CheckResult]:
    """The console checks, compared with what the bracelet advertised."""
    decoded = advert_checks.decode_reports(sample)
    battery = decoded[-1][1].state.battery_pct if decoded else None
    return [
        console_checks.check_console_queries(transcript),
        console_checks.check_console_identity(transcript, device_id),
        console_checks.check_console_battery(transcript, battery),
    ]


CHECK_NAMES: tuple[str, ...] = (
    "advert.format",
    "advert.counter",
    "advert.tag",
    "advert.scan_response",
    "advert.rate",
    *(f"gatt.{s.key}" for s in gatt_checks.EXPECTED_SERVICES),
    "gatt.reads",
    "notify.status",
    "notify.heart_rate",
    "notify.strap",
    "console.queries",
    "console.identity",
    "console.battery",
)


def _not_found() -> list[CheckResult]:
    return [skipped(name, "bracelet not found") for name in CHECK_NAMES]


def _timed(results: Sequence[CheckResult], seconds: float) -> list[CheckResult]:
    share = seconds / max(1, len(results))
    return [dataclasses.replace(r, duration_s=share) for r in results]
