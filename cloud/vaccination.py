"""Vaccination's pure core: the closed list of vaccine products, dose checks, and the EU DCC vaccination
certificate built from a person's dose records (names transliterated per ICAO 9303, UVCI with checksum).

No I/O: the services (cloud/vaccination_service.py, cloud/certificate_service.py) bring records and time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol, TypeVar

from cloud.certificates import HealthCertificate, PersonName, VaccinationEntry

# EU DCC value set disease-agent-targeted: COVID-19.
DISEASE_COVID19 = "840539006"
# Prophylaxis (EU DCC value set vaccine-prophylaxis).
MRNA = "1119349007"  # SARS-CoV-2 mRNA vaccine
ANTIGEN = "1119305005"  # SARS-CoV-2 antigen vaccine
COVID19_VACCINES = "J07BX03"  # covid-19 vaccines (ATC)

MAX_DOSE_NUMBER = 9
LOT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_-]{0,31}$")
# A dose date before the first authorised COVID-19 vaccination campaigns is a typo, not history.
EARLIEST_DOSE = datetime(2020, 12, 1, tzinfo=UTC)
# Devices of a site that worked offline may run a little ahead of the hub.
FUTURE_SKEW = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Product:
    """A vaccine product as the EU DCC names it: medicinal product, marketing holder, prophylaxis."""

    code: str  # EU DCC value set vaccine-medicinal-product (`mp`)
    name: str
    manufacturer: str  # EU DCC value set vaccine-mah-manf (`ma`)
    prophylaxis: str  # EU DCC value set vaccine-prophylaxis (`vp`)
    standard_series: int  # doses of the primary series, used when a record does not say


_PRODUCT_LIST = (
    Product("EU/1/20/1528", "Comirnaty (Pfizer-BioNTech)", "ORG-100030215", MRNA, 2),
    Product("EU/1/20/1507", "Spikevax (Moderna)", "ORG-100031184", MRNA, 2),
    Product("EU/1/21/1529", "Vaxzevria (AstraZeneca)", "ORG-100001699", COVID19_VACCINES, 2),
    Product("EU/1/20/1525", "Jcovden (Janssen)", "ORG-100001417", COVID19_VACCINES, 1),
    Product("EU/1/21/1618", "Nuvaxovid (Novavax)", "ORG-100032020", ANTIGEN, 2),
    Product("BBIBP-CorV", "BBIBP-CorV (Sinopharm)", "ORG-100020693", COVID19_VACCINES, 2),
    Product("CoronaVac", "CoronaVac (Sinovac)", "Sinovac-Biotech", COVID19_VACCINES, 2),
    Product("Sputnik-V", "Sputnik V (Gamaleya)", "Gamaleya-Research-Institute", COVID19_VACCINES, 2),
    Product("Covishield", "Covishield (Serum Institute of India)", "ORG-100001981", COVID19_VACCINES, 2),
)
PRODUCTS: MappingProxyType[str, Product] = MappingProxyType({p.code: p for p in _PRODUCT_LIST})


class Severity(StrEnum):
    """How serious an adverse event following immunisation is."""

    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    LIFE_THREATENING = "life_threatening"
    FATAL = "fatal"


def product_for(code: str) -> Product:
    """The product with this EU DCC code (ValueError naming the accepted codes otherwise)."""
    product = PRODUCTS.get(code)
    if product is None:
        raise ValueError(f"unknown product {code!r}; one of: {', '.join(PRODUCTS)}")
    return product


def check_dose(
    dose_number: int, series_doses: int, lot: str, administered_at: datetime, now: datetime
) -> None:
    """ValueError unless dose numbers, lot and time are plausible (a booster may exceed the series)."""
    if not 1 <= dose_number <= MAX_DOSE_NUMBER:
        raise ValueError(f"dose_number must be between 1 and {MAX_DOSE_NUMBER}")
    if not 1 <= series_doses <= MAX_DOSE_NUMBER:
        raise ValueError(f"series_doses must be between 1 and {MAX_DOSE_NUMBER}")
    if not LOT_PATTERN.match(lot):
        raise ValueError("lot must be 1-32 letters, digits or . / _ -, starting with a letter or digit")
    check_administered_at(administered_at, now)


def check_administered_at(administered_at: datetime, now: datetime) -> None:
    """ValueError unless the time has a UTC offset and lies between 2020-12-01 and now (plus skew)."""
    if administered_at.tzinfo is None:
        raise ValueError("administered_at needs a UTC offset (e.g. 2026-11-21T08:30:00+07:00)")
    if not EARLIEST_DOSE <= administered_at <= now + FUTURE_SKEW:
        raise ValueError(f"administered_at must be between {EARLIEST_DOSE.date()} and now")


class DoseLike(Protocol):
    """What the certificate needs from a dose record (cloud.storage.vaccination.DoseRecord fits)."""

    @property
    def id(self) -> int: ...
    @property
    def product(self) -> str: ...
    @property
    def dose_number(self) -> int: ...
    @property
    def series_doses(self) -> int: ...
    @property
    def administered_at(self) -> datetime: ...


D = TypeVar("D", bound=DoseLike)


def certified_dose(doses: Sequence[D]) -> D | None:
    """The dose a vaccination certificate attests: the latest given (the higher dose number on a tie)."""
    if not doses:
        return None
    return max(doses, key=lambda d: (d.administered_at, d.dose_number, d.id))


# Letters ICAO 9303 transliterates differently from a plain accent strip (Vietnamese đ has no decomposition).
_ICAO_SPECIAL = str.maketrans({"Đ": "D", "đ": "D", "Æ": "AE", "æ": "AE", "Ø": "OE", "ø": "OE", "ß": "SS"})


def icao_transliterate(name: str) -> str:
    """A name as the machine-readable zone writes it: A-Z only, other separators as `<` (ICAO 9303)."""
    stripped = unicodedata.normalize("NFKD", name.translate(_ICAO_SPECIAL))
    letters = "".join(ch for ch in stripped if not unicodedata.combining(ch)).upper()
    words = re.findall(r"[A-Z]+", letters)
    return "<".join(words)[:80]


def split_full_name(full_name: str) -> tuple[str, str | None]:
    """(family name, given names) of a Vietnamese full name: the family name comes first."""
    parts = full_name.split()
    if not parts:
        raise ValueError("a name is needed")
    return parts[0], " ".join(parts[1:]) or None


_UVCI_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ/:"


def luhn_mod_n(text: str) -> str:
    """The Luhn mod N check character of `text` over the UVCI alphabet (characters outside it ignored)."""
    n = len(_UVCI_ALPHABET)
    factor, total = 2, 0
    for ch in reversed([c for c in text if c in _UVCI_ALPHABET]):
        addend = factor * _UVCI_ALPHABET.index(ch)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return _UVCI_ALPHABET[(n - total % n) % n]


def make_uvci(country: str, issuer_code: str, dose_id: int) -> str:
    """The unique vaccination certificate identifier of a dose: `URN:UVCI:01:<CC>:<ISSUER><ID>#<check>`."""
    body = f"URN:UVCI:01:{country}:{issuer_code}{dose_id:012d}"
    return f"{body}#{luhn_mod_n(body)}"


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who signs: ISO 3166 country code, the issuing authority's name, a short code in the UVCI, and the
    offset of the country's local time (a dose's date is the local date it was given on)."""

    country: str
    name: str
    uvci_code: str = "QMON"
    utc_offset: timedelta = timedelta(0)


def vaccination_certificate(
    full_name: str, birth_date: date, dose: DoseLike, issuer: Issuer
) -> HealthCertificate:
    """The EU DCC payload attesting `dose` for the person (ValueError for an unknown product)."""
    product = product_for(dose.product)
    family, given = split_full_name(full_name)
    given_t = icao_transliterate(given) if given else None
    name = PersonName(
        fn=family[:80], gn=given[:80] if given else None, fnt=icao_transliterate(family), gnt=given_t
    )
    entry = VaccinationEntry.model_validate(
        {
            "tg": DISEASE_COVID19,
            "vp": product.prophylaxis,
            "mp": product.code,
            "ma": product.manufacturer,
            "dn": dose.dose_number,
            "sd": dose.series_doses,
            "dt": dose.administered_at.astimezone(timezone(issuer.utc_offset)).date().isoformat(),
            "co": issuer.country,
            "is": issuer.name,
            "ci": make_uvci(issuer.country, issuer.uvci_code, dose.id),
        }
    )
    return HealthCertificate(nam=name, dob=birth_date.isoformat(), v=(entry,))
