"""The vaccination core (pure): products, dose checks, the certified dose, names, UVCIs, the DCC payload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from cloud.certificates import HealthCertificate
from cloud.identity import IdentityHasher
from cloud.vaccination import (
    PRODUCTS,
    Issuer,
    certified_dose,
    check_dose,
    icao_transliterate,
    luhn_mod_n,
    make_uvci,
    product_for,
    split_full_name,
    vaccination_certificate,
)
from cloud.vaccination_service import day_bounds

NOW = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
ICT = timezone(timedelta(hours=7))
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ/:"


@dataclass(frozen=True)
class Dose:
    id: int
    product: str
    dose_number: int
    series_doses: int
    administered_at: datetime


def make_dose(**overrides: object) -> Dose:
    values: dict[str, object] = {
        "id": 42,
        "product": "EU/1/21/1529",
        "dose_number": 1,
        "series_doses": 2,
        "administered_at": datetime(2026, 9, 1, 23, 30, tzinfo=UTC),
    }
    values.update(overrides)
    return Dose(**values)  # type: ignore[arg-type]


def test_products_carry_the_eu_dcc_codes() -> None:
    assert product_for("EU/1/20/1528").manufacturer == "ORG-100030215"
    assert product_for("EU/1/20/1525").standard_series == 1
    assert all(p.prophylaxis in {"1119349007", "1119305005", "J07BX03"} for p in PRODUCTS.values())
    with pytest.raises(ValueError, match="unknown product"):
        product_for("Vero Cell")


@pytest.mark.parametrize(
    ("dose", "series", "lot", "at", "message"),
    [
        (0, 2, "A1", NOW, "dose_number"),
        (1, 10, "A1", NOW, "series_doses"),
        (1, 2, "", NOW, "lot"),
        (1, 2, "-x", NOW, "lot"),
        (1, 2, "A1", NOW.replace(tzinfo=None), "UTC offset"),
        (1, 2, "A1", NOW + timedelta(hours=1), "between"),
        (1, 2, "A1", datetime(2019, 1, 1, tzinfo=UTC), "between"),
    ],
)
def test_implausible_doses_are_refused(dose: int, series: int, lot: str, at: datetime, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_dose(dose, series, lot, at, NOW)


def test_a_booster_may_exceed_the_series_and_a_little_clock_skew_is_allowed() -> None:
    check_dose(3, 2, "FK-12/3", NOW + timedelta(minutes=5), NOW)


def test_the_certified_dose_is_the_latest_given() -> None:
    first = make_dose(id=1, administered_at=datetime(2026, 6, 1, tzinfo=UTC))
    second = make_dose(id=2, dose_number=2, administered_at=datetime(2026, 9, 1, tzinfo=UTC))
    booster = make_dose(
        id=3, dose_number=3, product="EU/1/20/1528", administered_at=datetime(2026, 11, 1, tzinfo=UTC)
    )
    assert certified_dose([booster, first, second]) is booster
    assert certified_dose([first, second]) is second
    assert certified_dose([]) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Nguyễn", "NGUYEN"),
        ("Đặng Thị Bình", "DANG<THI<BINH"),
        ("Lê-Văn  Ánh", "LE<VAN<ANH"),
        ("Müller", "MULLER"),
        ("O'Neil", "O<NEIL"),
    ],
)
def test_names_are_transliterated_as_icao_9303_writes_them(name: str, expected: str) -> None:
    assert icao_transliterate(name) == expected


def test_a_vietnamese_full_name_puts_the_family_name_first() -> None:
    assert split_full_name(" Trần  Thị Bình ") == ("Trần", "Thị Bình")
    assert split_full_name("Madonna") == ("Madonna", None)
    with pytest.raises(ValueError):
        split_full_name("  ")


def _luhn_valid(text: str) -> bool:
    """The Luhn mod N check of a string ending in its check character."""
    n = len(_ALPHABET)
    factor, total = 1, 0
    for ch in reversed([c for c in text if c in _ALPHABET]):
        addend = factor * _ALPHABET.index(ch)
        factor = 2 if factor == 1 else 1
        total += addend // n + addend % n
    return total % n == 0


def test_uvcis_are_unique_per_dose_and_carry_a_luhn_mod_n_check_character() -> None:
    uvci = make_uvci("VN", "QMON", 42)
    body, check = uvci.split("#")
    assert body == "URN:UVCI:01:VN:QMON000000000042" and len(check) == 1
    assert _luhn_valid(body + check)
    assert all(_luhn_valid(f"{b}{luhn_mod_n(b)}") for b in ("A", "URN:UVCI:01:SE:EHM/V12907267LAJW", "0"))
    assert not _luhn_valid(body + ("A" if check != "A" else "B"))
    assert make_uvci("VN", "QMON", 43) != uvci


def test_the_certificate_payload_follows_the_eu_dcc_schema() -> None:
    issuer = Issuer("VN", "Ministry of Health of Viet Nam", utc_offset=timedelta(hours=7))
    payload = vaccination_certificate("Đặng Thị Bình", date(1990, 3, 15), make_dose(), issuer)
    assert HealthCertificate.from_payload(payload.to_payload()) == payload
    (entry,) = payload.v or ()
    assert payload.nam.fn == "Đặng" and payload.nam.fnt == "DANG" and payload.nam.gnt == "THI<BINH"
    assert (entry.tg, entry.vp, entry.mp, entry.ma) == (
        "840539006",
        "J07BX03",
        "EU/1/21/1529",
        "ORG-100001699",
    )
    # Given at 23:30 UTC on 1 September: 06:30 on 2 September in Viet Nam.
    assert (entry.dn, entry.sd, entry.dt, entry.co) == (1, 2, "2026-09-02", "VN")
    assert entry.ci == make_uvci("VN", "QMON", 42)


def test_a_days_bounds_follow_the_offset_the_time_was_given_in() -> None:
    start, end = day_bounds(datetime(2026, 11, 22, 6, 30, tzinfo=ICT))
    assert start == datetime(2026, 11, 22, tzinfo=ICT) and end - start == timedelta(days=1)
    assert start.astimezone(UTC) == datetime(2026, 11, 21, 17, tzinfo=UTC)


def test_the_bulk_identity_hash_equals_the_citizens_one() -> None:
    for key in ("k" * 40, "a-much-longer-key-" * 6):
        hasher = IdentityHasher(SecretStr(key))
        assert hasher.hash_normalized("001203004567") == hasher.hash("001 203 004 567")
