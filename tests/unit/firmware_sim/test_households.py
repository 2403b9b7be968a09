"""Households as data: loading, validation, timeline events, keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from firmware_sim.households import (
    BraceletSpec,
    DropoutEvent,
    HouseholdSet,
    RadioEvent,
    StrapEvent,
    bracelet_keys,
    demo_households_path,
    derive_key,
    households_by_site,
    load_households,
)


def household(n: int, **bracelet: object) -> dict[str, object]:
    return {
        "id": f"hh-{n}",
        "site_id": "site-a",
        "hub": {"id": f"hub-{n}", "x": 0, "y": 0},
        "home": {"x": 0, "y": 0, "radius_m": 5},
        "bracelets": [{"device_id": f"{n:08x}", **bracelet}],
    }


def test_the_demo_file_has_the_four_scenarios() -> None:
    homes = load_households(demo_households_path())
    assert [h.id for h in homes] == ["hh-stay", "hh-walker", "hh-strap", "hh-battery"]
    assert {h.site_id for h in homes} == {"demo-site"}
    walker = homes[1]
    inside = [walker.home.contains(p.x, p.y) for p in walker.bracelets[0].path]
    assert inside.count(False) >= 3  # spends a while outside
    strap = homes[2].bracelets[0]
    assert [type(e) for e in strap.timeline] == [StrapEvent, type(strap.timeline[1])]
    battery = homes[3].bracelets[0]
    assert battery.battery_pct < 20 and battery.drain_pct_per_hour > 100


def test_every_timeline_event_kind_parses_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "h.yaml"
    path.write_text(
        """
households:
  - id: hh-1
    site_id: site-a
    hub: {id: hub-1, x: 0, y: 0}
    home: {x: 0, y: 0, radius_m: 5}
    bracelets:
      - device_id: "0000000a"
        timeline:
          - {t: 1, strap: open}
          - {t: 2, skin_contact: false}
          - {t: 3, battery: 12.5}
          - {t: 4, charging: true}
          - {t: 5, fever: true}
          - {t: 6, radio: off}
          - {t: 7, radio: on}
          - {t: 8, dropout_s: 20}
"""
    )
    (home,) = load_households(path)
    events = home.bracelets[0].timeline
    assert len(events) == 8
    assert events[5] == RadioEvent(t=6, radio="off")  # YAML's boolean `off` still means "off"
    assert events[6] == RadioEvent(t=7, radio="on")
    assert events[7] == DropoutEvent(t=8, dropout_s=20)


def test_json_files_load_too(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"households": [household(1, path=[{"t": 0, "x": 1, "y": 2}, [5, 2, 3]])]}))
    (home,) = load_households(path)
    assert home.bracelets[0].path[1].t == 5.0


@pytest.mark.parametrize(
    ("bracelet", "message"),
    [
        ({"timeline": [{"t": 1, "volume": 3}]}, "timeline event needs"),
        ({"timeline": [{"t": 1, "strap": "ajar"}]}, "'open' or 'closed'"),
        ({"timeline": [{"t": -1, "strap": "open"}]}, "greater than or equal"),
        ({"path": [{"t": 5, "x": 0, "y": 0}, {"t": 2, "x": 0, "y": 0}]}, "must not decrease"),
        ({"key": "00" * 8}, "String should match"),
        ({"battery_pct": 120}, "less than or equal"),
        ({"adv_interval_ms": 20}, "greater than or equal"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_bracelets_are_refused(bracelet: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HouseholdSet.model_validate({"households": [household(1, **bracelet)]})


def test_duplicate_ids_are_refused() -> None:
    one = household(1)
    same_device = household(2)
    same_device["bracelets"] = one["bracelets"]
    with pytest.raises(ValidationError, match="duplicate device id"):
        HouseholdSet.model_validate({"households": [one, same_device]})
    with pytest.raises(ValidationError, match="duplicate household id"):
        HouseholdSet.model_validate({"households": [one, {**household(3), "id": "hh-1"}]})


def test_derived_keys_are_deterministic_per_seed_and_device() -> None:
    assert derive_key(7, 0xA001) == derive_key(7, 0xA001)
    assert len(derive_key(7, 0xA001)) == 16
    assert derive_key(7, 0xA001) != derive_key(8, 0xA001)
    assert derive_key(7, 0xA001) != derive_key(7, 0xA002)


def test_an_explicit_key_wins_over_derivation() -> None:
    spec = BraceletSpec(device_id="0000000a", key="ab" * 16)
    assert spec.key_bytes(seed=1) == bytes([0xAB]) * 16
    assert BraceletSpec(device_id="0000000a").key_bytes(seed=1) == derive_key(1, 10)


def test_keys_and_sites_helpers() -> None:
    homes = HouseholdSet.model_validate(
        {"households": [household(1), household(2, key="01" * 16)]}
    ).households
    keys = bracelet_keys(homes, seed=3)
    assert keys == {"00000001": derive_key(3, 1), "00000002": bytes([1]) * 16}
    assert list(households_by_site(homes)) == ["site-a"]


def test_every_field_has_a_description() -> None:
    for model in (BraceletSpec,):
        for name, field in model.model_fields.items():
            assert field.description, name
