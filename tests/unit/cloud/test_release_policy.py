"""The release policy's pure checks (cloud/release.py) and its settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from cloud.errors import ConflictError, UnprocessableError
from cloud.release import (
    Release,
    ReleasePolicy,
    ReleaseReason,
    ReleaseSample,
    check_release_request,
    check_release_sample,
)
from cloud.settings import OrderReleaseSettings
from tests.unit.cloud.builders import T0

NOW = T0
STARTED = T0 - timedelta(days=13)
POLICY = ReleasePolicy()


def make_sample(**overrides: Any) -> ReleaseSample:
    """A negative PCR of the person, collected a day ago."""
    defaults: dict[str, Any] = {
        "id": 7,
        "kind": "pcr",
        "status": "negative",
        "collected_at": NOW - timedelta(days=1),
        "pooled": False,
        "of_person": True,
    }
    return ReleaseSample(**{**defaults, **overrides})


def check(sample: ReleaseSample | None, *, identified: bool = True, policy: ReleasePolicy = POLICY) -> None:
    check_release_sample(
        sample, sample_id=7, person_identified=identified, order_starts_at=STARTED, policy=policy, now=NOW
    )


def test_a_fresh_negative_sample_of_the_person_releases() -> None:
    check(make_sample())
    check(make_sample(pooled=True, kind="rapid_antigen"))
    check(make_sample(collected_at=NOW - timedelta(hours=72)))  # the bound is inclusive


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        (None, "sample 7 not found"),
        (make_sample(of_person=False), "not a sample of this order's person"),
        (make_sample(of_person=False, pooled=True), "not a pool with this order's person"),
        (make_sample(status="pending"), "has no result yet"),
        (make_sample(status="positive"), "is positive"),
        (make_sample(collected_at=None), "no collection time"),
        (make_sample(collected_at=STARTED - timedelta(minutes=1)), "before the order started"),
        (make_sample(collected_at=NOW - timedelta(hours=73)), "more than 72 hours ago"),
    ],
)
def test_samples_that_do_not_release(sample: ReleaseSample | None, message: str) -> None:
    with pytest.raises(UnprocessableError, match=message):
        check(sample)


def test_the_policy_decides_kinds_and_age_and_the_person_must_be_identified() -> None:
    pcr_only = replace(POLICY, sample_kinds=frozenset({"pcr"}), max_sample_age=timedelta(hours=12))
    with pytest.raises(UnprocessableError, match="releases on pcr only"):
        check(make_sample(kind="rapid_antigen"), policy=pcr_only)
    with pytest.raises(UnprocessableError, match="more than 12 hours ago"):
        check(make_sample(), policy=pcr_only)
    with pytest.raises(UnprocessableError, match="no identity number on record"):
        check(make_sample(), identified=False)


@pytest.mark.parametrize(
    ("release", "status", "error", "message"),
    [
        (Release(ReleaseReason.NEGATIVE_TEST), "active", UnprocessableError, "needs release_sample_id"),
        (Release(ReleaseReason.COMPLETED), "active", UnprocessableError, "requires a negative test"),
        (Release(ReleaseReason.TRANSFERRED, note=" "), "active", UnprocessableError, "needs a note"),
        (Release(ReleaseReason.ENTERED_IN_ERROR), "pending", UnprocessableError, "needs a note"),
        (Release(ReleaseReason.CLEARED, note="ruled out"), "active", ConflictError, "only a pending order"),
        (Release(ReleaseReason.TRANSFERRED, 3, "x"), "active", UnprocessableError, "goes with"),
    ],
)
def test_requests_that_do_not_fit(
    release: Release, status: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check_release_request(release, status, POLICY)


def test_requests_that_fit() -> None:
    check_release_request(Release(ReleaseReason.NEGATIVE_TEST, 3), "active", POLICY)
    check_release_request(Release(ReleaseReason.CLEARED, note="ruled out"), "pending", POLICY)
    check_release_request(Release(ReleaseReason.TRANSFERRED, note="Bach Mai"), "active", POLICY)
    no_test = replace(POLICY, require_negative_test=False)
    check_release_request(Release(ReleaseReason.COMPLETED), "active", no_test)


def test_settings_make_the_policy() -> None:
    assert OrderReleaseSettings.model_validate({}).to_policy() == POLICY
    settings = {"require_negative_test": False, "test_kinds": ["pcr"], "max_sample_age_h": 24}
    policy = OrderReleaseSettings.model_validate(settings).to_policy()
    assert policy == ReleasePolicy(False, frozenset({"pcr"}), timedelta(hours=24))
    bad: dict[str, Any]
    for bad in ({"test_kinds": []}, {"test_kinds": ["elisa"]}, {"max_sample_age_h": 0}, {"extra": 1}):
        with pytest.raises(ValidationError):
            OrderReleaseSettings.model_validate(bad)
