"""The advert gate: keys, tags, counters, and rejection counting that never raises."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.gate import Admission, AdvertGate
from qmon.bracelet.advert import COMPANY_ID, AdvertRejected, RejectReason, format_device_id
from tests.unit.edge.builders import DEVICE_ID, KEY, KEYS, OTHER_KEY, T0, make_mfr

ADDRESS = "C0:00:00:00:A0:01"


def make_gate(**kwargs: Any) -> AdvertGate:
    return AdvertGate({format_device_id(d): k for d, k in KEYS.items()}, **kwargs)


def admit(
    gate: AdvertGate, time: float = T0, rssi: int = -60, **overrides: Any
) -> Admission | AdvertRejected:
    return gate.admit_report(ADDRESS, rssi, make_mfr(**overrides), time)


def test_a_genuine_advert_is_admitted() -> None:
    gate = make_gate()

    verdict = admit(gate, counter=5)

    assert isinstance(verdict, Admission)
    assert verdict.advert.device_id == DEVICE_ID and not verdict.duplicate
    assert gate.accepted == 1 and gate.rejected == {}


def test_an_advert_signed_with_another_key_is_a_bad_tag() -> None:
    gate = make_gate()

    verdict = admit(gate, key=OTHER_KEY)

    assert isinstance(verdict, AdvertRejected) and verdict.reason is RejectReason.BAD_TAG
    assert gate.rejected == {RejectReason.BAD_TAG: 1}


def test_a_bracelet_not_assigned_here_is_an_unknown_device() -> None:
    gate = make_gate()

    verdict = admit(gate, device_id=0x0000C0DE, key=OTHER_KEY)

    assert isinstance(verdict, AdvertRejected) and verdict.reason is RejectReason.UNKNOWN_DEVICE


def test_a_lower_counter_is_a_replay() -> None:
    gate = make_gate()
    admit(gate, counter=10)

    verdict = admit(gate, time=T0 + 1, counter=9)

    assert isinstance(verdict, AdvertRejected) and verdict.reason is RejectReason.REPLAYED


def test_the_same_counter_soon_after_is_a_duplicate_sample_not_new_state() -> None:
    gate = make_gate(duplicate_window_s=2.0)
    admit(gate, counter=10)

    verdict = admit(gate, time=T0 + 0.05, counter=10, rssi=-70)

    assert isinstance(verdict, Admission) and verdict.duplicate
    assert verdict.advert.rssi == -70
    assert (gate.accepted, gate.duplicates) == (1, 1)


def test_the_same_counter_replayed_later_is_rejected() -> None:
    """Otherwise replaying the last genuine advert would keep a bracelet that left looking at home."""
    gate = make_gate(duplicate_window_s=2.0)
    admit(gate, counter=10)

    verdict = admit(gate, time=T0 + 60, counter=10)

    assert isinstance(verdict, AdvertRejected) and verdict.reason is RejectReason.REPLAYED


def test_a_forged_high_counter_does_not_lock_the_genuine_bracelet_out() -> None:
    gate = make_gate()
    admit(gate, counter=10)
    admit(gate, time=T0 + 1, counter=1_000_000, key=OTHER_KEY)  # bad tag: must not move the counter

    assert isinstance(admit(gate, time=T0 + 2, counter=11), Admission)


def test_restored_counters_reject_replays_after_a_restart() -> None:
    gate = make_gate(counters={DEVICE_ID: 500, "ffffffff": 3})

    same = admit(gate, counter=500)
    fresh = admit(gate, time=T0 + 1, counter=501)

    assert isinstance(same, AdvertRejected) and same.reason is RejectReason.REPLAYED
    assert isinstance(fresh, Admission)
    assert gate.last_counters() == {DEVICE_ID: 501}


def test_rejections_are_counted_per_reason() -> None:
    gate = make_gate()
    admit(gate, counter=3)
    admit(gate, counter=2)
    admit(gate, counter=4, key=OTHER_KEY)
    gate.admit_report(ADDRESS, -50, {0x004C: b"\x02\x15"}, T0)
    gate.admit_report(ADDRESS, -50, {COMPANY_ID: make_mfr()[COMPANY_ID][:7]}, T0)

    assert gate.rejected == {
        RejectReason.REPLAYED: 1,
        RejectReason.BAD_TAG: 1,
        RejectReason.NOT_BRACELET: 1,
        RejectReason.TRUNCATED: 1,
    }
    assert gate.rejected_total() == 4


# ---- fuzzing: corrupted and truncated adverts are counted, never raised ---------------------------------

GENUINE = make_mfr(key=KEY, counter=77)[COMPANY_ID]


@settings(max_examples=400, deadline=None)
@given(payload=st.binary(max_size=40), company=st.sampled_from([COMPANY_ID, 0x004C, 0x0006]))
def test_random_bytes_are_counted_never_raised(payload: bytes, company: int) -> None:
    gate = make_gate()

    verdict = gate.admit_report(ADDRESS, -60, {company: payload}, T0)

    assert isinstance(verdict, AdvertRejected)
    assert gate.rejected_total() == 1 and gate.accepted == 0


@settings(max_examples=400, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(GENUINE) - 1),
    flip=st.integers(min_value=1, max_value=255),
    cut=st.integers(min_value=0, max_value=len(GENUINE)),
)
def test_corrupted_genuine_adverts_are_never_accepted(position: int, flip: int, cut: int) -> None:
    corrupted = bytearray(GENUINE)
    corrupted[position] ^= flip
    gate = make_gate()

    flipped = gate.admit_report(ADDRESS, -60, {COMPANY_ID: bytes(corrupted)}, T0)
    truncated = gate.admit_report(ADDRESS, -60, {COMPANY_ID: GENUINE[:cut]}, T0)

    assert isinstance(flipped, AdvertRejected)
    assert isinstance(truncated, AdvertRejected) or cut == len(GENUINE)
    assert gate.rejected_total() + gate.accepted == 2


@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        st.none(),
        st.integers(),
        st.text(max_size=5),
        st.lists(st.integers(0, 255), max_size=5),
        st.dictionaries(
            st.integers(0, 0xFFFF), st.one_of(st.binary(max_size=25), st.none(), st.integers(0, 10**6))
        ),
    ),
    rssi=st.integers(min_value=-127, max_value=20),
)
def test_garbage_from_a_broken_backend_is_counted_never_raised(data: object, rssi: int) -> None:
    gate = make_gate()

    verdict = gate.admit_report(ADDRESS, rssi, data, T0)  # type: ignore[arg-type]

    assert isinstance(verdict, AdvertRejected)
    assert gate.rejected_total() == 1
