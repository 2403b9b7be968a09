"""Checks of the bracelet's advertisements against docs/PROTOCOL.md section 1 (pure).

Every function takes an `AdvertSample` (and what else it needs) and returns one CheckResult.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from firmware_sim.conformance.observations import AdvertReport, AdvertSample
from firmware_sim.conformance.results import CheckResult, failed, passed, skipped
from qmon.bracelet.advert import (
    COMPANY_ID,
    PAYLOAD_LEN,
    AdvertRejected,
    DecodedAdvert,
    decode_manufacturer_data,
    format_device_id,
    verify_tag,
)
from qmon.bracelet.gatt import QUARANTINE_SERVICE

BLE_ADV_DELAY_MS = (0.0, 10.0)  # the random advDelay the controller adds to every advertising interval
_COUNTER_HALF = 1 << 31
_NAME = re.compile(r"QB[0-9a-f]{8}")


@dataclass(frozen=True, slots=True)
class RateTolerance:
    """How far the measured advertising rate may stray from the configured interval.

    The median interval between advertising events must lie within
    [interval - margin, interval + 10 ms + margin], margin = `jitter_ms` + `relative` x interval (the
    receiving host's timestamp jitter and the bracelet's clock); a gap of about k intervals counts as k
    intervals of gap/k with k - 1 events unheard. At most `max_missing` of the expected events may go
    unheard, and at least `min_events` must be heard.
    """

    jitter_ms: float = 15.0
    relative: float = 0.01
    max_missing: float = 0.2
    min_events: int = 5

    def window_ms(self, interval_ms: float) -> tuple[float, float]:
        """The accepted range of the median interval between advertising events, ms."""
        margin = self.jitter_ms + self.relative * interval_ms
        return interval_ms + BLE_ADV_DELAY_MS[0] - margin, interval_ms + BLE_ADV_DELAY_MS[1] + margin


def decode_reports(sample: AdvertSample) -> list[tuple[AdvertReport, DecodedAdvert]]:
    """The reports whose qmon payload decodes, with the decoded advert, in arrival order."""
    out = []
    for report in sample.reports:
        try:
            out.append((report, decode_manufacturer_data(report.manufacturer_data)))
        except AdvertRejected:
            continue
    return out


def advertised_device_id(sample: AdvertSample) -> str | None:
    """The device id the bracelet advertises (decoded payload first, else its `QB...` name), or None."""
    decoded = decode_reports(sample)
    if decoded:
        return format_device_id(decoded[-1][1].state.device_id)
    for report in sample.reports:
        if report.local_name and _NAME.fullmatch(report.local_name):
            return report.local_name[2:]
    return None


def check_advert_format(sample: AdvertSample) -> CheckResult:
    """Company id 0xFFFF, a 19-byte payload of format version 1 that qmon's codec accepts, in every report."""
    name = "advert.format"
    if not sample.reports:
        return failed(name, "no advertisement received")
    problems: dict[str, int] = {}
    for report in sample.reports:
        try:
            decode_manufacturer_data(report.manufacturer_data)
        except AdvertRejected as exc:
            problems[str(exc)] = problems.get(str(exc), 0) + 1
    total = len(sample.reports)
    if problems:
        worst = max(problems, key=problems.__getitem__)
        bad = sum(problems.values())
        return failed(name, f"{bad} of {total} adverts rejected: {worst}", _company_ids(sample.reports))
    return passed(
        name,
        f"all {total} adverts decode: company id 0x{COMPANY_ID:04x}, {PAYLOAD_LEN}-byte payload, version 1",
        _company_ids(sample.reports),
    )


def check_advert_counter(sample: AdvertSample) -> CheckResult:
    """The counter never goes back and rises over the sample (32-bit wrap-around allowed)."""
    name = "advert.counter"
    counters = [d.state.counter for _, d in decode_reports(sample)]
    if len(counters) < 2:
        return skipped(name, f"needs 2 decodable adverts, got {len(counters)}")
    backwards = 0
    for before, after in itertools.pairwise(counters):
        if (after - before) & 0xFFFFFFFF >= _COUNTER_HALF:
            backwards += 1
    rise = (counters[-1] - counters[0]) & 0xFFFFFFFF
    measured = f"counter {counters[0]} -> {counters[-1]} over {len(counters)} adverts"
    if backwards:
        return failed(name, f"counter went back {backwards} times", measured)
    if rise == 0 or rise >= _COUNTER_HALF:
        return failed(name, "counter did not increase", measured)
    return passed(name, "counter increases and never goes back", measured)


def check_advert_tag(sample: AdvertSample, key: bytes | None) -> CheckResult:
    """Every decodable advert's tag verifies with the bracelet's key (skipped without a key)."""
    name = "advert.tag"
    if key is None:
        return skipped(name, "no --key given")
    decoded = decode_reports(sample)
    if not decoded:
        return skipped(name, "no decodable advert to verify")
    bad = 0
    for _, advert in decoded:
        try:
            verify_tag(advert, key)
        except AdvertRejected:
            bad += 1
    measured = f"{len(decoded) - bad} of {len(decoded)} tags verify"
    if bad:
        return failed(name, f"{bad} of {len(decoded)} tags do not verify with the key", measured)
    return passed(name, "every tag verifies with the key", measured)


def check_scan_response(sample: AdvertSample, device_id: str | None) -> CheckResult:
    """The scan response names the bracelet `QB<device id>` and lists the quarantine service UUID."""
    name = "advert.scan_response"
    if not sample.reports:
        return skipped(name, "no advertisement received")
    names = {r.local_name for r in sample.reports if r.local_name}
    uuids = {u.lower() for r in sample.reports for u in r.service_uuids}
    measured = f"names {sorted(names) or 'none'}; service UUIDs {sorted(uuids) or 'none'}"
    problems = []
    if not names:
        problems.append("no local name heard")
    else:
        expected = None if device_id is None else "QB" + device_id
        wrong = sorted(n for n in names if (n != expected if expected else not _NAME.fullmatch(n)))
        if wrong:
            problems.append(f"name {wrong[0]!r}, expected {expected or 'QB + 8 hex digits'!r}")
    if QUARANTINE_SERVICE not in uuids:
        problems.append(f"quarantine service {QUARANTINE_SERVICE} not listed")
    if problems:
        return failed(name, "; ".join(problems), measured)
    return passed(name, "short name QB<device id> and the quarantine service UUID", measured)


def group_events(reports: Sequence[AdvertReport], interval_ms: float) -> list[float]:
    """Start times of advertising events: reports closer than half an interval belong to one event
    (an advert and its scan response, or one event heard twice)."""
    starts: list[float] = []
    half_s = interval_ms / 2000.0
    for report in sorted(reports, key=lambda r: r.time):
        if not starts or report.time - starts[-1] >= half_s:
            starts.append(report.time)
    return starts


def check_advert_rate(
    sample: AdvertSample, interval_ms: int | None, tolerance: RateTolerance | None = None
) -> CheckResult:
    """Intervals between advertising events match the configured interval plus BLE's 0-10 ms delay."""
    name = "advert.rate"
    tolerance = tolerance or RateTolerance()
    if interval_ms is None:
        return skipped(name, "advertising interval unknown (GATT Configuration not read)")
    starts = group_events(sample.reports, interval_ms)
    if len(starts) < tolerance.min_events:
        return failed(
            name,
            f"{len(starts)} advertising events in {sample.duration_s:.1f} s, "
            f"need at least {tolerance.min_events} (configured every {interval_ms} ms)",
        )
    mean_ms = interval_ms + sum(BLE_ADV_DELAY_MS) / 2
    gaps_ms = [1000.0 * (b - a) for a, b in itertools.pairwise(starts)]
    # A gap of about k intervals holds k - 1 unheard events; the median is taken per interval, so that
    # unheard events do not pass for a slow bracelet (their count is judged on its own).
    spans = [max(1, round(g / mean_ms)) for g in gaps_ms]
    missing = sum(spans) - len(spans)
    expected = len(starts) + missing
    median = statistics.median(g / k for g, k in zip(gaps_ms, spans, strict=True))
    low, high = tolerance.window_ms(interval_ms)
    measured = (
        f"median {median:.1f} ms per interval (gaps {min(gaps_ms):.1f} to {max(gaps_ms):.1f} ms, "
        f"{len(gaps_ms)} of them); "
        f"{missing} of {expected} expected events missing; configured {interval_ms} ms"
    )
    if not low <= median <= high:
        return failed(name, f"median interval {median:.1f} ms outside {low:.1f}..{high:.1f} ms", measured)
    if missing > tolerance.max_missing * expected:
        return failed(
            name,
            f"{missing} of {expected} advertising events missing (more than {tolerance.max_missing:.0%})",
            measured,
        )
    return passed(name, f"median interval within {low:.1f}..{high:.1f} ms", measured)


def _company_ids(reports: Sequence[AdvertReport]) -> str:
    ids = sorted({cid for r in reports for cid in r.manufacturer_data})
    lengths = sorted({len(v) for r in reports for v in r.manufacturer_data.values()})
    return f"company ids {', '.join(f'0x{c:04x}' for c in ids) or 'none'}; payload lengths {lengths}"
