"""The advert checks on hand-built samples: format, counter, tag, scan response and rate."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware_sim.conformance import advert_checks as checks
from firmware_sim.conformance.advert_checks import RateTolerance
from firmware_sim.conformance.observations import AdvertSample
from firmware_sim.conformance.results import Outcome
from qmon.bracelet.advert import encode_advert_payload
from tests.unit.conformance.builders import KEY, make_report, make_sample, make_state


def sample_of(*reports: object) -> AdvertSample:
    return AdvertSample("addr", tuple(reports), 1.0)  # type: ignore[arg-type]


# ---- format ------------------------------------------------------------------------------------------


def test_format_passes_when_every_advert_decodes() -> None:
    result = checks.check_advert_format(make_sample(count=5))
    assert result.outcome is Outcome.PASS
    assert "all 5 adverts decode" in result.reason
    assert result.measured == "company ids 0xffff; payload lengths [19]"


def test_format_fails_on_another_company_id_and_names_it() -> None:
    result = checks.check_advert_format(make_sample(count=4, company_id=0x0059))
    assert result.outcome is Outcome.FAIL
    assert result.reason.startswith("4 of 4 adverts rejected: not_bracelet")
    assert "0x0059" in result.reason


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (encode_advert_payload(make_state(), KEY)[:12], "truncated"),
        (encode_advert_payload(make_state(), KEY) + b"\x00", "too_long"),
        (b"\x02" + encode_advert_payload(make_state(), KEY)[1:], "unknown_version"),
        (bytes(range(19)), "unknown_version"),
    ],
)
def test_format_fails_with_the_codecs_reason(payload: bytes, reason: str) -> None:
    good = make_report(0.0)
    bad = make_report(1.0, payload=payload)
    result = checks.check_advert_format(sample_of(good, bad))
    assert result.outcome is Outcome.FAIL
    assert result.reason.startswith(f"1 of 2 adverts rejected: {reason}")


def test_format_fails_when_nothing_was_heard() -> None:
    assert checks.check_advert_format(sample_of()).outcome is Outcome.FAIL


# ---- counter and tag ---------------------------------------------------------------------------------


def test_counter_that_rises_passes_and_one_that_goes_back_fails() -> None:
    assert checks.check_advert_counter(make_sample(count=5)).outcome is Outcome.PASS
    backwards = sample_of(*(make_report(t, counter=c) for t, c in enumerate((5, 6, 4, 7))))
    result = checks.check_advert_counter(backwards)
    assert result.outcome is Outcome.FAIL
    assert result.reason == "counter went back 1 times"


def test_counter_that_stays_put_fails_and_wraparound_passes() -> None:
    still = sample_of(*(make_report(t, counter=9) for t in range(4)))
    assert checks.check_advert_counter(still).reason == "counter did not increase"
    wrapping = sample_of(*(make_report(t, counter=c) for t, c in enumerate((0xFFFFFFFE, 0xFFFFFFFF, 0, 1))))
    assert checks.check_advert_counter(wrapping).outcome is Outcome.PASS


def test_counter_needs_two_decodable_adverts() -> None:
    result = checks.check_advert_counter(sample_of(make_report(0.0)))
    assert result.outcome is Outcome.SKIP


def test_tag_is_skipped_without_a_key_and_checked_with_one() -> None:
    sample = make_sample(count=5)
    assert checks.check_advert_tag(sample, None).outcome is Outcome.SKIP
    assert checks.check_advert_tag(sample, KEY).outcome is Outcome.PASS
    wrong = checks.check_advert_tag(sample, bytes(16))
    assert wrong.outcome is Outcome.FAIL
    assert wrong.measured == "0 of 5 tags verify"


# ---- scan response -----------------------------------------------------------------------------------


def test_scan_response_with_name_and_service_passes() -> None:
    assert checks.check_scan_response(make_sample(count=3), "0a1b2c3d").outcome is Outcome.PASS
    # without a decodable advert, any QB + 8 hex digits name is accepted
    assert checks.check_scan_response(make_sample(count=3), None).outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("report", "problem"),
    [
        ({"name": "QB00000001"}, "name 'QB00000001', expected 'QB0a1b2c3d'"),
        ({"name": None}, "no local name heard"),
        ({"uuids": ()}, "quarantine service 3d1b0100-df0a-418d-b282-42c3e3122cf6 not listed"),
    ],
)
def test_scan_response_fails_on_a_wrong_name_or_missing_service(
    report: dict[str, object], problem: str
) -> None:
    result = checks.check_scan_response(make_sample(count=3, **report), "0a1b2c3d")  # type: ignore[arg-type]
    assert result.outcome is Outcome.FAIL
    assert problem in result.reason


def test_the_device_id_comes_from_the_name_when_the_payload_does_not_decode() -> None:
    sample = make_sample(count=2, company_id=0x0059)
    assert checks.advertised_device_id(sample) == "0a1b2c3d"
    assert checks.advertised_device_id(make_sample(count=2, company_id=0x0059, name=None)) is None


# ---- rate --------------------------------------------------------------------------------------------


def test_rate_window_allows_the_ble_delay_and_the_stated_margin() -> None:
    assert RateTolerance().window_ms(1000) == (975.0, 1035.0)
    assert RateTolerance(jitter_ms=5, relative=0).window_ms(100) == (95.0, 115.0)


def test_rate_at_the_configured_interval_passes() -> None:
    result = checks.check_advert_rate(make_sample(1000, 30), 1000)
    assert result.outcome is Outcome.PASS
    assert "0 of 30 expected events missing" in result.measured


def test_rate_slower_than_configured_fails_on_the_median() -> None:
    result = checks.check_advert_rate(make_sample(1500, 20), 1000)
    assert result.outcome is Outcome.FAIL
    assert result.reason.startswith("median interval 150")
    faster = checks.check_advert_rate(make_sample(700, 20), 1000)
    assert faster.outcome is Outcome.FAIL


def test_rate_counts_missing_adverts_and_fails_beyond_the_allowance() -> None:
    few = checks.check_advert_rate(make_sample(1000, 40, drop=frozenset({3, 9, 20})), 1000)
    assert few.outcome is Outcome.PASS
    assert "3 of 40 expected events missing" in few.measured
    many = checks.check_advert_rate(make_sample(1000, 40, drop=frozenset(range(1, 40, 3))), 1000)
    assert many.outcome is Outcome.FAIL
    assert "13 of 40 advertising events missing" in many.reason


def test_rate_groups_an_advert_and_its_scan_response_into_one_event() -> None:
    sample = make_sample(200, 20)
    doubled = replace(
        sample,
        reports=tuple(sorted(sample.reports + tuple(replace(r, time=r.time + 0.002) for r in sample.reports),
                             key=lambda r: r.time)),
    )  # fmt: skip
    assert len(checks.group_events(doubled.reports, 200)) == 20
    assert checks.check_advert_rate(doubled, 200).outcome is Outcome.PASS


def test_rate_needs_the_interval_and_enough_events() -> None:
    assert checks.check_advert_rate(make_sample(1000, 10), None).outcome is Outcome.SKIP
    result = checks.check_advert_rate(make_sample(1000, 3), 1000)
    assert result.outcome is Outcome.FAIL
    assert "need at least 5" in result.reason
