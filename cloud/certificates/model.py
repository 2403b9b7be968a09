"""The health certificate payload (EU DCC schema 1.3.0): name, date of birth and one entry.

Only the fields the schema defines are kept: unknown fields in a scanned certificate are dropped, so no
extra personal data travels further than the decoder. Field names are the wire names (`is` is spelt
`is_` in Python).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

from cloud.certificates.errors import PayloadError

SCHEMA_VERSION = "1.3.0"

_SHORT_TEXT = 80
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_DATE_OF_BIRTH = re.compile(r"^((19|20)\d\d(-\d\d){0,2})?$")
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COUNTRY = re.compile(r"^[A-Z]{1,10}$")
_ICAO_NAME = re.compile(r"^[A-Z<]*$")


def _full_date(value: str) -> str:
    if not _FULL_DATE.match(value):
        raise ValueError("expected a full date YYYY-MM-DD")
    date.fromisoformat(value)
    return value


def _date_time(value: str) -> str:
    if "T" not in value:
        raise ValueError("expected an ISO 8601 date-time")
    datetime.fromisoformat(value)
    return value


def _date_of_birth(value: str) -> str:
    if not _DATE_OF_BIRTH.match(value):
        raise ValueError("expected YYYY, YYYY-MM or YYYY-MM-DD between 1900 and 2099 (or empty)")
    if len(value) == len("YYYY-MM-DD"):
        date.fromisoformat(value)
    return value


# Strict scalars: a dose number must be a CBOR integer, not "1" or 1.0, as the schema says.
Text = Annotated[str, Strict(), Field(max_length=_SHORT_TEXT)]
Code = Annotated[str, Strict(), Field(min_length=1)]
FullDate = Annotated[str, Strict(), AfterValidator(_full_date)]
DateTime = Annotated[str, Strict(), AfterValidator(_date_time)]
DateOfBirth = Annotated[str, Strict(), AfterValidator(_date_of_birth)]
Version = Annotated[str, Strict(), Field(pattern=_VERSION.pattern)]
Country = Annotated[str, Strict(), Field(pattern=_COUNTRY.pattern)]
IcaoName = Annotated[str, Strict(), Field(max_length=_SHORT_TEXT, pattern=_ICAO_NAME.pattern)]
Dose = Annotated[int, Strict(), Field(ge=1)]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class CertificateKind(StrEnum):
    """What a certificate attests; the value is its key in the payload."""

    VACCINATION = "v"
    TEST = "t"
    RECOVERY = "r"


class PersonName(_Wire):
    """Surname and forename, as written and transliterated (ICAO 9303)."""

    fn: Text | None = None
    gn: Text | None = None
    fnt: IcaoName
    gnt: IcaoName | None = None


class VaccinationEntry(_Wire):
    """One vaccination: disease, vaccine, product, holder, dose n of series, date, country, issuer, id."""

    tg: Code
    vp: Code
    mp: Code
    ma: Code
    dn: Dose
    sd: Dose
    dt: FullDate
    co: Country
    is_: Text = Field(alias="is")
    ci: Text


class TestEntry(_Wire):
    """One test: disease, type, name or device, sample time, result, centre, country, issuer, id."""

    __test__ = False  # not a pytest class, whatever its name

    tg: Code
    tt: Code
    nm: Text | None = None
    ma: Code | None = None
    sc: DateTime
    dr: DateTime | None = None  # time of the result: schemas 1.0 to 1.2 only, kept when present
    tr: Code
    tc: Text | None = None
    co: Country
    is_: Text = Field(alias="is")
    ci: Text


class RecoveryEntry(_Wire):
    """One recovery: disease, first positive result, country, issuer, validity window, id."""

    tg: Code
    fr: FullDate
    co: Country
    is_: Text = Field(alias="is")
    df: FullDate
    du: FullDate
    ci: Text


class HealthCertificate(_Wire):
    """A DCC payload with exactly one vaccination, test or recovery entry."""

    ver: Version = SCHEMA_VERSION
    nam: PersonName
    dob: DateOfBirth
    v: tuple[VaccinationEntry, ...] | None = None
    t: tuple[TestEntry, ...] | None = None
    r: tuple[RecoveryEntry, ...] | None = None

    @model_validator(mode="after")
    def _one_entry(self) -> HealthCertificate:
        groups = [group for group in (self.v, self.t, self.r) if group is not None]
        if len(groups) != 1 or len(groups[0]) != 1:
            raise ValueError("a DCC holds exactly one of v, t or r, with exactly one entry")
        return self

    @property
    def kind(self) -> CertificateKind:
        """Whether this is a vaccination, test or recovery certificate."""
        if self.v is not None:
            return CertificateKind.VACCINATION
        if self.t is not None:
            return CertificateKind.TEST
        return CertificateKind.RECOVERY

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> HealthCertificate:
        """Validate a decoded payload against the schema; raise PayloadError if it does not conform."""
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise PayloadError(_summarise(exc)) from exc

    def to_payload(self) -> dict[str, Any]:
        """The payload as it goes into CBOR: wire names, absent fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _summarise(exc: ValidationError) -> str:
    # Say where and what, never the offending value: it may be personal data.
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'payload'}: {error['msg']}"
        for error in exc.errors()
    )
