"""The hub's settings: one validated object, built at start-up and passed down."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Self

import limits
from pydantic import Field, SecretStr, field_validator, model_validator

from cloud.notify.settings import EscalationSettings, NotificationSettings
from cloud.ratelimit import RateLimitPolicy
from cloud.release import ReleasePolicy
from cloud.rules import DEFAULT_SEVERITIES, AlertType, Policy, Severity
from gateway.settings import MqttSettings
from qmon.settings import StrictModel, check_secret, load_settings

ENV_PREFIX = "QMON_HUB__"


class RuleSettings(StrictModel):
    """Thresholds and severities of the violation rules."""

    battery_critical_pct: int = Field(
        5,
        ge=0,
        le=100,
        description="A signal loss with the last battery at or below this is a depleted battery.",
    )
    rssi_fade_trend_db_per_min: float = Field(
        -3.0,
        le=0,
        description="An RSSI trend at or below this (dB/min) before a signal loss means a probable exit.",
    )
    hub_offline_grace_s: float = Field(
        90.0,
        ge=0,
        le=3600,
        description="A site offline for less than this raises no hub_offline alert (0: alert at once).",
    )
    severities: dict[AlertType, Severity] = Field(
        default_factory=lambda: dict(DEFAULT_SEVERITIES),
        description="Severity per alert type (missing keys use defaults).",
    )

    def to_policy(self) -> Policy:
        """The pure rules engine's policy."""
        return Policy(
            battery_critical_pct=self.battery_critical_pct,
            rssi_fade_trend_db_per_min=self.rssi_fade_trend_db_per_min,
            hub_offline_grace_s=self.hub_offline_grace_s,
            severities={**DEFAULT_SEVERITIES, **self.severities},
        )


class RateLimitSettings(StrictModel):
    """Limits on sign-in, self-registration, identity look-ups and public verification (cloud/ratelimit.py),
    in the `limits` notation ("10/minute", "5 per hour")."""

    storage_uri: str = Field(
        "memory://",
        description="Where counts live: memory:// for one hub process; redis://host:6379 when several share "
        "one API.",
    )
    sign_in_client: str = Field("30/minute", description="Sign-in attempts from one client address.")
    sign_in_account: str = Field("10/minute", description="Sign-in attempts at one account, from anywhere.")
    registration: str = Field("5/hour", description="Citizen self-registrations from one client address.")
    lookup: str = Field("120/minute", description="Identity-number look-ups by one staff account.")
    verify: str = Field("300/minute", description="Public certificate verifications from one client address.")

    @field_validator("sign_in_client", "sign_in_account", "registration", "lookup", "verify")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit: {value!r} (e.g. 10/minute)") from exc
        return value

    def policy(self) -> RateLimitPolicy:
        """The limiter's policy."""
        return RateLimitPolicy(
            sign_in_client=self.sign_in_client,
            sign_in_account=self.sign_in_account,
            registration=self.registration,
            lookup=self.lookup,
            verify=self.verify,
        )


class CertificateSettings(StrictModel):
    """EU Digital COVID Certificates: the hub's document signer and the keys it trusts when verifying.

    The key id (`kid`) is the DCC one: the first 8 bytes of the SHA-256 of the signer certificate, so it comes
    with `signer_certificate_file`. Keys live outside the repository.
    """

    signing_key: SecretStr | None = Field(
        None,
        description="PEM of the document signer's ECDSA P-256 private key (or use signing_key_file). Unset "
        "(both): certificates are not issued (503), verification still works with the trusted certificates.",
    )
    signing_key_file: Path | None = Field(
        None, description="PEM file of the document signer's ECDSA P-256 private key (or signing_key)."
    )
    signer_certificate_file: Path | None = Field(
        None,
        description="PEM file of the document signer certificate (DSC) for the signing key; its DCC key id "
        "names the key in every certificate issued. Required with a signing key.",
    )
    trusted_certificate_files: list[Path] = Field(
        default_factory=list,
        description="PEM files of other issuers' document signer certificates (one or more each) whose "
        "certificates the verify route accepts; the hub's own is always trusted.",
    )
    trusted_certificates: list[str] = Field(
        default_factory=list,
        description="PEM texts of other issuers' document signer certificates, as trusted_certificate_files.",
    )
    issuer_country: str = Field(
        "VN", pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2 country of the issuer (CWT `iss`, `co`)."
    )
    issuer_name: str = Field(
        "Ministry of Health of Viet Nam",
        min_length=1,
        max_length=80,
        description="The certificate issuer written in each vaccination entry (`is`).",
    )
    uvci_code: str = Field(
        "QMON",
        pattern=r"^[A-Z0-9]{1,12}$",
        description="The issuing system's code inside each certificate id (URN:UVCI:01:VN:<code>...).",
    )
    utc_offset_minutes: int = Field(
        7 * 60,
        ge=-14 * 60,
        le=14 * 60,
        description="The issuing country's local time offset (minutes): a dose's certified date is the local "
        "date it was given on.",
    )
    validity_days: int = Field(
        365, ge=1, le=3 * 365, description="How long an issued certificate is valid (CWT expiry), days."
    )
    clock_skew_s: float = Field(
        300.0, ge=0, le=3600, description="How far a certificate's issued-at may lead the hub's clock (s)."
    )

    @model_validator(mode="after")
    def _check_key_source(self) -> Self:
        if self.signing_key is not None and self.signing_key_file is not None:
            raise ValueError("give signing_key or signing_key_file, not both")
        has_key = self.signing_key is not None or self.signing_key_file is not None
        if has_key and self.signer_certificate_file is None:
            raise ValueError("a signing key needs its signer_certificate_file")
        return self


class TelemetrySettings(StrictModel):
    """Where bracelets' and rooms' readings are kept for the console's charts (cloud/telemetry)."""

    backend: Literal["sql", "influx"] = Field(
        "sql",
        description="sql: the hub's own database (embedded default); influx: written in InfluxDB line "
        "protocol with influxdb-client, read back through VictoriaMetrics' /api/v1/export (VictoriaMetrics).",
    )
    url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Base URL of the time-series server (influx backend), e.g. http://127.0.0.1:8428.",
    )
    token: SecretStr | None = Field(
        None, description="API token sent as `Authorization: Token ...` (unset: no authorization header)."
    )
    org: str = Field("qmon", min_length=1, description="InfluxDB organisation (VictoriaMetrics ignores it).")
    bucket: str = Field("qmon", min_length=1, description="InfluxDB bucket (VictoriaMetrics ignores it).")
    retention_days: float = Field(
        30.0,
        gt=0,
        le=3650,
        description="How long readings are kept, days. sql: older rows are purged hourly; influx: set the "
        "server's retention to match (VictoriaMetrics -retentionPeriod=30d); queries never reach further.",
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="HTTP timeout of one write or read (s).")
    batch_lines: int = Field(
        2_000, ge=100, le=1_000_000, description="Most points (lines) sent in one write request."
    )

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        return check_secret(value, "telemetry.token", min_length=8)

    @model_validator(mode="after")
    def _check_url(self) -> Self:
        if self.backend == "influx" and self.url is None:
            raise ValueError("telemetry.backend influx needs telemetry.url")
        return self


TestKind = Literal["pcr", "rapid_antigen"]
TEST_KINDS: tuple[TestKind, ...] = ("pcr", "rapid_antigen")


class OrderReleaseSettings(StrictModel):
    """What ending a quarantine order needs (cloud/release.py): the hub enforces it, not only the console."""

    require_negative_test: bool = Field(
        True,
        description="Ending an order needs a negative lab sample of its person (reason negative_test) or a "
        "reason that needs no test and a note (transferred, cleared, entered_in_error). false: reason "
        "completed (the term is served) is accepted without a test.",
    )
    test_kinds: list[TestKind] = Field(
        default_factory=lambda: list(TEST_KINDS),
        min_length=1,
        description="The kinds of test whose negative sample releases an order.",
    )
    max_sample_age_h: float = Field(
        72.0,
        gt=0,
        le=14 * 24,
        description="A releasing sample was collected at most this many hours before the order ends (and "
        "not before the order started).",
    )

    def to_policy(self) -> ReleasePolicy:
        """The pure release policy."""
        return ReleasePolicy(
            require_negative_test=self.require_negative_test,
            sample_kinds=frozenset(self.test_kinds),
            max_sample_age=timedelta(hours=self.max_sample_age_h),
        )


class HubSettings(StrictModel):
    """Everything the hub process needs."""

    mqtt: MqttSettings = Field(
        default_factory=lambda: MqttSettings.model_validate({"client_id": "qmon-hub"}),
        description="Broker connection; the client id must be stable so the broker keeps the hub's session.",
    )
    shared_subscription_group: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Mosquitto `$share/<group>/` group for hub replicas (amqtt lacks it; off by default).",
    )
    mqtt_session_expiry_s: int = Field(
        7 * 24 * 3600,
        ge=60,
        description="MQTT 5 session expiry: how long the broker keeps QoS 1 events for an absent hub.",
    )
    mqtt_receive_maximum: int = Field(
        65535,
        ge=1,
        le=65535,
        description="MQTT 5 receive maximum: unacknowledged QoS 1 messages the broker may send.",
    )
    database_url: str = Field(
        "sqlite:///var/qmon-hub.db",
        description="SQLAlchemy URL: an SQLite file (embedded) or postgresql+psycopg://...",
    )
    http_host: str = Field("127.0.0.1", description="Address the REST API listens on (loopback unless set).")
    http_port: int = Field(8642, ge=0, le=65535, description="Port of the REST API (0 picks a free one).")
    jwt_secret: SecretStr = Field(
        description="HMAC key that signs officers' access tokens (at least 32 characters)."
    )
    identity_hash_key: SecretStr | None = Field(
        None,
        description="HMAC key under which citizens' identity numbers are stored (at least 32 characters, "
        "not the jwt_secret; never change it: stored hashes cannot be recomputed). Unset: the citizen "
        "routes answer 503.",
    )
    venue_qr_key_file: Path | None = Field(
        None,
        description="PEM file of the ECDSA P-256 private key that signs venue and checkpoint QR codes (kept "
        "outside the repository; `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`). Unset: "
        "QR codes and check-ins answer 503.",
    )
    venue_qr_retired_key_files: list[Path] = Field(
        default_factory=list,
        description="PEM public keys of earlier venue QR signing keys: codes printed under them still verify "
        "(key rotation).",
    )
    jwt_issuer: str = Field("qmon-hub", description="`iss` claim of issued tokens, checked on every request.")
    token_ttl_s: int = Field(
        3600, ge=60, le=7 * 24 * 3600, description="Lifetime of an access token, seconds."
    )
    auto_migrate: bool = Field(True, description="Apply database migrations when the hub starts.")
    rules: RuleSettings = Field(
        default_factory=lambda: RuleSettings.model_validate({}),
        description="Violation rule thresholds and severities.",
    )
    sse_keepalive_s: float = Field(
        15.0, gt=0, le=300, description="Idle seconds before an SSE keep-alive comment."
    )
    sse_queue_size: int = Field(
        1000,
        ge=1,
        description="Alert changes buffered per SSE client; a client that falls further behind is dropped.",
    )
    ingest_batch_max: int = Field(
        2000,
        ge=1,
        le=20_000,
        description="Most MQTT messages written in one transaction (bigger batches amortise each commit).",
    )
    site_sweep_interval_s: float = Field(
        5.0,
        gt=0,
        le=60,
        description="How often ingest looks for sites offline past rules.hub_offline_grace_s.",
    )
    ingest_batch_linger_s: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Extra wait for more messages when the queue runs dry (0: commit what is queued; batches "
        "grow by themselves under load; brokers that hold back QoS 1 until acknowledged are not starved).",
    )
    ingest_receiver: Literal["process", "thread"] = Field(
        "process",
        description="Where MQTT packets are received and parsed: a child process of the hub (default: "
        "the interpreter time it takes is not taken from the ingest worker) or a thread of the hub process.",
    )
    order_cache_ttl_s: float = Field(
        30.0,
        ge=0,
        description="How long ingest trusts a cached order look-up (API changes invalidate it at once).",
    )
    snapshot_timeout_s: float = Field(
        30.0,
        ge=1,
        le=600,
        description="A room snapshot request the edge has not answered within this (s) becomes failed; "
        "a later answer is dropped.",
    )
    snapshot_retention_s: float = Field(
        15 * 60.0,
        ge=10,
        le=7 * 24 * 3600,
        description="How long a received snapshot's image is kept (s); then its bytes are deleted and the "
        "request is kept as expired (personal data: keep it short).",
    )
    rate_limits: RateLimitSettings = Field(
        default_factory=RateLimitSettings,
        description="Rate limits on sign-in, registration, identity look-ups and public verification.",
    )
    certificates: CertificateSettings = Field(
        default_factory=lambda: CertificateSettings.model_validate({}),
        description="EU DCC vaccination certificates: signing key, signer certificate, trusted issuers.",
    )
    vaccination_bulk_max_rows: int = Field(
        200_000,
        ge=1,
        le=2_000_000,
        description="Most dose rows one bulk upload may hold (the rows are checked in full before any is "
        "stored, so they are held in memory).",
    )
    telemetry: TelemetrySettings = Field(
        default_factory=lambda: TelemetrySettings.model_validate({}),
        description="The telemetry store: backend (sql or influx), server URL, token, retention.",
    )
    local_utc_offset_minutes: int = Field(
        7 * 60,
        ge=-14 * 60,
        le=14 * 60,
        description="The fixed UTC offset (minutes) of the local day the daily aggregates per ward count in "
        "(+420: Viet Nam). Certificates keep their own offset (certificates.utc_offset_minutes).",
    )

    escalation: EscalationSettings = Field(
        default_factory=lambda: EscalationSettings.model_validate({}),
        description="When unacknowledged alerts escalate (officers, supervisors, district) and reminders.",
    )
    notifications: NotificationSettings = Field(
        default_factory=lambda: NotificationSettings.model_validate({}),
        description="Webhook and e-mail notifications of alerts and escalations, their rules and retries.",
    )
    order_release: OrderReleaseSettings = Field(
        default_factory=lambda: OrderReleaseSettings.model_validate({}),
        description="What ending a quarantine order needs: a negative test (which kinds, how recent).",
    )

    @field_validator("jwt_secret")
    @classmethod
    def _check_jwt_secret(cls, value: SecretStr) -> SecretStr:
        check_secret(value, "jwt_secret", min_length=32)
        return value

    @field_validator("identity_hash_key")
    @classmethod
    def _check_identity_hash_key(cls, value: SecretStr | None) -> SecretStr | None:
        return check_secret(value, "identity_hash_key", min_length=32)

    @model_validator(mode="after")
    def _check_keys_differ(self) -> Self:
        # One key per purpose: a leaked token key must not also unlock the identity hashes.
        key = self.identity_hash_key
        if key is not None and key.get_secret_value() == self.jwt_secret.get_secret_value():
            raise ValueError("identity_hash_key must differ from jwt_secret")
        return self

    @field_validator("http_host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("http_host must not be empty")
        return value


def load_hub_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> HubSettings:
    """Settings from a file, then QMON_HUB__* environment variables, then dotted overrides (flags)."""
    return load_settings(HubSettings, path, overrides=overrides, env_prefix=ENV_PREFIX)
