"""The console's message catalogs: Vietnamese and English have the same keys, and every key the console's
modules and page use is in both (so that no visible string falls back to a bare key)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cloud.console import static_root
from cloud.overview import PersonState

STATIC = Path(str(static_root()))
# t("group.key"), data-i18n="group.key", and keys passed around as strings ("alert.resolvedOk").
KEY_IN_CODE = re.compile(
    r'\bt\(\s*"([A-Za-z]+\.[A-Za-z]+)"|data-i18n(?:-placeholder)?="([A-Za-z.]+)"'
    r'|"((?:alert|signin|orders|chart|col)\.[A-Za-z]+)"'
)


def _catalog(lang: str) -> dict[str, str]:
    catalog: dict[str, str] = json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    return catalog


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    english, vietnamese = _catalog("en"), _catalog("vi")
    assert english.keys() == vietnamese.keys()
    for key, text in english.items():
        assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", vietnamese[key])), key
        assert vietnamese[key].strip(), key


def test_every_key_the_console_uses_is_in_the_catalogs() -> None:
    english = _catalog("en")
    sources = [*STATIC.glob("*.js"), *STATIC.glob("views/*.js"), STATIC / "index.html"]
    used = {k for path in sources for groups in KEY_IN_CODE.findall(path.read_text()) for k in groups if k}
    assert len(used) > 100
    assert sorted(used - english.keys()) == []


def test_every_person_state_has_a_label() -> None:
    english = _catalog("en")
    assert {f"state.{s.value}" for s in PersonState} <= english.keys()
