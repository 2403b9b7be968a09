"""Settings of an MQTT connection, shared by the edge uplink and the hub's ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from qmon.settings import StrictModel


class MqttSettings(StrictModel):
    """How to reach and authenticate to the MQTT broker."""

    url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://host:port, or mqtts://host:port for TLS.")
    username: str | None = Field(None, description="Account name; a site uses its site id.")
    password: SecretStr | None = Field(
        None, description="Account password (from a secret store, never the repo)."
    )
    client_id: str | None = Field(
        None, description="MQTT client id; defaults to a name derived from the role."
    )
    protocol: Literal["3.1.1", "5"] = Field(
        "3.1.1", description="MQTT protocol version (amqtt speaks 3.1.1 only)."
    )
    keepalive_s: int = Field(
        30, ge=5, le=3600, description="Keep-alive interval; the last will fires after 1.5x."
    )
    reconnect_min_s: float = Field(
        1.0, gt=0, description="First reconnect delay; doubles up to reconnect_max_s."
    )
    reconnect_max_s: float = Field(60.0, gt=0, description="Longest delay between reconnect attempts.")
    tls_ca_file: Path | None = Field(None, description="CA bundle to verify the broker (mqtts://).")
    tls_cert_file: Path | None = Field(None, description="Client certificate for mutual TLS.")
    tls_key_file: Path | None = Field(None, description="Private key of the client certificate.")
    tls_insecure: bool = Field(False, description="Skip host name verification (testing only).")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("MQTT url must look like mqtt://host:port or mqtts://host:port")
        return value

    @property
    def host(self) -> str:
        """Broker host name."""
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """Broker port (1883, or 8883 for mqtts, when the url names none)."""
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def use_tls(self) -> bool:
        """True for mqtts:// urls."""
        return urlsplit(self.url).scheme == "mqtts"
