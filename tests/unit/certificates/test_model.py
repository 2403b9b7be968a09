"""The payload model follows the EU DCC schema 1.3.0 and keeps nothing beyond it."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.certificates import CertificateKind, HealthCertificate, Layer, PayloadError
from tests.unit.certificates.builders import make_certificate, make_vaccination

TEST_ENTRY = {
    "tg": "840539006",
    "tt": "LP6464-4",
    "nm": "Roche LightCycler qPCR",
    "sc": "2026-09-20T08:30:00Z",
    "tr": "260415000",
    "tc": "Bach Mai Hospital",
    "co": "VN",
    "is": "Ministry of Health of Viet Nam",
    "ci": "URN:UVCI:01:VN:QMONTEST0002#M",
}
RECOVERY_ENTRY = {
    "tg": "840539006",
    "fr": "2026-08-01",
    "co": "VN",
    "is": "Ministry of Health of Viet Nam",
    "df": "2026-08-12",
    "du": "2027-01-28",
    "ci": "URN:UVCI:01:VN:QMONTEST0003#Q",
}


def _payload(**overrides: Any) -> dict[str, Any]:
    payload = make_certificate().to_payload()
    payload.update(overrides)
    return {key: value for key, value in payload.items() if value is not None}


def test_payload_uses_wire_names_and_leaves_out_absent_fields() -> None:
    payload = make_certificate(nam={"fnt": "TRAN"}).to_payload()

    assert payload["nam"] == {"fnt": "TRAN"}
    assert payload["v"][0]["is"] == "Ministry of Health of Viet Nam"
    assert set(payload) == {"ver", "nam", "dob", "v"}
    assert HealthCertificate.from_payload(payload) == make_certificate(nam={"fnt": "TRAN"})


@pytest.mark.parametrize(
    ("group", "entry", "kind"),
    [("t", TEST_ENTRY, CertificateKind.TEST), ("r", RECOVERY_ENTRY, CertificateKind.RECOVERY)],
)
def test_test_and_recovery_certificates_are_modelled(
    group: str, entry: dict[str, Any], kind: CertificateKind
) -> None:
    certificate = HealthCertificate.from_payload(_payload(v=None, **{group: [entry]}))

    assert certificate.kind is kind
    assert certificate.to_payload()[group] == [entry]


def test_unknown_fields_are_dropped() -> None:
    payload = _payload(extra="not ours", nam={"fnt": "TRAN", "nickname": "Binh"})

    assert HealthCertificate.from_payload(payload).to_payload() == _payload(nam={"fnt": "TRAN"})


@pytest.mark.parametrize(
    "overrides",
    [
        {"v": []},
        {"v": [make_vaccination().model_dump(by_alias=True)] * 2},
        {"t": [TEST_ENTRY]},
        {"v": None},
        {"dob": "1899-12-31"},
        {"dob": "1990-02-30"},
        {"ver": "1.3"},
        {"nam": {"fn": "Trần"}},
        {"nam": {"fnt": "Trần"}},
        {"v": [{**make_vaccination().model_dump(by_alias=True), "dn": "2"}]},
        {"v": [{**make_vaccination().model_dump(by_alias=True), "dn": 0}]},
        {"v": [{**make_vaccination().model_dump(by_alias=True), "dt": "2026-9-1"}]},
        {"v": [{**make_vaccination().model_dump(by_alias=True), "co": "vn"}]},
        {"v": [{**make_vaccination().model_dump(by_alias=True), "ci": "X" * 81}]},
    ],
    ids=[
        "no-entry",
        "two-entries",
        "two-groups",
        "no-group",
        "dob-1899",
        "dob-not-a-date",
        "ver",
        "no-fnt",
        "fnt-not-icao",
        "dose-text",
        "dose-zero",
        "dt-short",
        "co-lower",
        "ci-long",
    ],
)
def test_payload_outside_the_schema_is_a_payload_error(overrides: dict[str, Any]) -> None:
    with pytest.raises(PayloadError) as caught:
        HealthCertificate.from_payload(_payload(**overrides))
    assert caught.value.layer is Layer.PAYLOAD


def test_payload_error_does_not_echo_personal_data() -> None:
    with pytest.raises(PayloadError) as caught:
        HealthCertificate.from_payload(_payload(nam={"fnt": "Trần Thị Bình"}))

    assert "Trần" not in str(caught.value)
    assert "nam.fnt" in str(caught.value)


@pytest.mark.parametrize("dob", ["", "1990", "1990-03", "2099-12-31"])
def test_partial_and_empty_dates_of_birth_are_allowed(dob: str) -> None:
    assert HealthCertificate.from_payload(_payload(dob=dob)).dob == dob
