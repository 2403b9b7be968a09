"""Typed settings: one pydantic model per process, loaded from a YAML/JSON file, QMON_* environment
variables and command-line flags (later sources win), validated once at start-up."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, SecretStr

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "example", "xxx", "todo"})

S = TypeVar("S", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every settings model: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def key_discriminator(keys: Sequence[str], error_type: str, message: str) -> Discriminator:
    """A pydantic discriminator for a union of models told apart by which one of `keys` a value carries
    (clearer errors than a plain union: one message naming the keys instead of one per member)."""

    def kind(value: Any) -> str | None:
        present = value.keys() if isinstance(value, dict) else getattr(value, "__dict__", {}).keys()
        return next((key for key in keys if key in present), None)

    return Discriminator(kind, custom_error_type=error_type, custom_error_message=message)


def check_secret(value: SecretStr | None, name: str, min_length: int = 16) -> SecretStr | None:
    """Reject well-known placeholders and short secrets (used by settings validators)."""
    if value is None:
        return None
    raw = value.get_secret_value()
    if raw.strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"{name} is a placeholder; set a real secret")
    if len(raw) < min_length:
        raise ValueError(f"{name} must be at least {min_length} characters")
    return value


def read_settings_file(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON settings file into a dict."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: settings file must hold a mapping at the top level")
    return data


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = target
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"cannot set {dotted}: {key} is not a section")
    node[keys[-1]] = value


def env_overrides(prefix: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """QMON_HUB__MQTT__URL=... -> {"mqtt": {"url": ...}} for prefix 'QMON_HUB__'."""
    environ = dict(os.environ) if environ is None else environ
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if key.startswith(prefix):
            dotted = key[len(prefix) :].lower().replace("__", ".")
            _set_dotted(out, dotted, value)
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(
    model: type[S],
    path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    env_prefix: str | None = None,
    environ: dict[str, str] | None = None,
) -> S:
    """Build `model` from a file, then environment variables under `env_prefix`, then dotted `overrides`."""
    data: dict[str, Any] = read_settings_file(path) if path else {}
    if env_prefix:
        data = _merge(data, env_overrides(env_prefix, environ))
    dotted: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(dotted, key, value)
    return model.model_validate(_merge(data, dotted))


def set_dotted(settings: dict[str, Any], overrides: dict[str, object]) -> None:
    """Set each dotted key ("vitals.fever_sustain_s") of `overrides` in the nested `settings`."""
    for dotted, value in overrides.items():
        node = settings
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
