"""Settings of escalation and notifications (part of HubSettings: `escalation`, `notifications`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from cloud.escalation import MAX_LEVEL, EscalationPolicy
from cloud.rules import AlertType, Severity
from qmon.settings import StrictModel, check_secret

Channel = Literal["webhook", "email"]
ANY_WARD = "*"


class EscalationSettings(StrictModel):
    """When unacknowledged alerts escalate and how often reminders repeat (cloud/escalation.py)."""

    enabled: bool = Field(True, description="Run the escalation sweep in the hub.")
    sweep_interval_s: float = Field(
        10.0, gt=0, le=600, description="How often the hub looks for escalations and reminders due (s)."
    )
    deadlines_s: dict[AlertType, float] = Field(
        default_factory=lambda: {AlertType.LEFT_HOME: 900.0, AlertType.TAMPER: 900.0},
        description="Seconds an unacknowledged alert of this type stays at one level before it escalates "
        "(overrides severity_deadlines_s).",
    )
    severity_deadlines_s: dict[Severity, float] = Field(
        default_factory=lambda: {Severity.CRITICAL: 900.0, Severity.HIGH: 1800.0, Severity.MEDIUM: 3600.0},
        description="Deadline per severity for types without their own; a severity missing here (low by "
        "default) never escalates and gets no reminders.",
    )
    reminder_interval_s: float | None = Field(
        600.0, gt=0, description="Reminders to the current level of an unacknowledged alert (null: none)."
    )
    acknowledged_reminder_interval_s: float | None = Field(
        None,
        gt=0,
        description="Slower reminders for acknowledged but unresolved alerts, to the level that was reached "
        "(null, the default: acknowledging stops reminders).",
    )

    @field_validator("deadlines_s", "severity_deadlines_s")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        if any(seconds <= 0 for seconds in value.values()):
            raise ValueError("deadlines must be positive seconds")
        return value

    def to_policy(self) -> EscalationPolicy:
        """The pure escalation policy."""
        return EscalationPolicy(
            type_deadlines_s={str(k): v for k, v in self.deadlines_s.items()},
            severity_deadlines_s={str(k): v for k, v in self.severity_deadlines_s.items()},
            reminder_interval_s=self.reminder_interval_s,
            acknowledged_reminder_interval_s=self.acknowledged_reminder_interval_s,
        )


class NotificationRule(StrictModel):
    """Which channels fire for which alerts and levels."""

    types: list[AlertType] | None = Field(None, description="Alert types it applies to (null: all).")
    min_severity: Severity = Field(Severity.LOW, description="Lowest severity it applies to.")
    channels: list[Channel] = Field(description="Channels that fire: webhook, email.")
    levels: list[int] = Field(
        default_factory=lambda: list(range(MAX_LEVEL + 1)),
        description="Escalation levels it applies to (0 officers, 1 supervisors, 2 district).",
    )
    reminders: bool = Field(True, description="Also on reminders (not only on opening and escalation).")

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        if any(level < 0 or level > MAX_LEVEL for level in value):
            raise ValueError(f"levels are 0..{MAX_LEVEL}")
        return value


class WebhookTarget(StrictModel):
    """A ward's webhook (an SMS or chat gateway): URL and the HMAC secret its receiver verifies."""

    url: str = Field(pattern=r"^https?://", description="Where notifications are POSTed.")
    secret: SecretStr | None = Field(None, description="HMAC-SHA256 key (or secret_file), >= 32 characters.")
    secret_file: Path | None = Field(None, description="File holding the HMAC key (kept outside the repo).")

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return check_secret(value, "webhook secret", min_length=32)

    @model_validator(mode="after")
    def _one_secret(self) -> Self:
        if (self.secret is None) == (self.secret_file is None):
            raise ValueError("give a webhook secret or secret_file (exactly one)")
        return self

    def key(self) -> bytes:
        """The HMAC key (read from secret_file if given)."""
        if self.secret is not None:
            return self.secret.get_secret_value().encode()
        assert self.secret_file is not None
        raw = self.secret_file.read_text(encoding="utf-8").strip()
        check_secret(SecretStr(raw), f"webhook secret in {self.secret_file}", min_length=32)
        return raw.encode()


class SmtpSettings(StrictModel):
    """The SMTP server e-mail goes through; recipients per ward and level."""

    host: str = Field(description="SMTP server host.")
    port: int = Field(587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 SSL, 25 plain).")
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (upgrade), ssl (TLS from the start) or none (local relays only)."
    )
    username: str | None = Field(None, description="Login user (none: no authentication).")
    password: SecretStr | None = Field(None, description="Login password (or password_file).")
    password_file: Path | None = Field(None, description="File holding the login password.")
    from_address: str = Field(description="The From address.")
    timeout_s: float = Field(20.0, gt=0, le=300, description="Connection and command timeout (s).")
    recipients: dict[str, dict[int, list[str]]] = Field(
        default_factory=dict,
        description="Addresses per ward (or '*': every ward) and level: {ward-a: {0: [...], 1: [...]}}; a "
        "ward's own entry for a level wins over '*'.",
    )

    @model_validator(mode="after")
    def _password_source(self) -> Self:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give an SMTP password or password_file, not both")
        return self

    def login_password(self) -> str | None:
        """The password (read from password_file if given)."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return None


class NotificationSettings(StrictModel):
    """Notification channels, targets, the rules that pick them, and delivery retries."""

    rules: list[NotificationRule] = Field(
        default_factory=lambda: [
            NotificationRule.model_validate({"min_severity": "high", "channels": ["webhook", "email"]}),
        ],
        description="Which channels fire for which types, severities and levels (a step matching several "
        "rules sends once per channel).",
    )
    webhooks: dict[str, WebhookTarget] = Field(
        default_factory=dict, description="Webhook per ward ('*': wards without their own)."
    )
    smtp: SmtpSettings | None = Field(None, description="E-mail through SMTP (none: no e-mail).")
    console_url: str | None = Field(
        None, description="Base URL of the console, for a link to the alert in e-mails (optional)."
    )
    dispatch_interval_s: float = Field(
        2.0, gt=0, le=60, description="How often pending notifications are looked for (s)."
    )
    retry_base_s: float = Field(5.0, gt=0, description="First retry delay; doubles with each attempt (s).")
    retry_max_s: float = Field(600.0, gt=0, description="Longest delay between attempts (s).")
    max_attempts: int = Field(8, ge=1, le=100, description="Attempts before a notification is failed.")
    webhook_timeout_s: float = Field(10.0, gt=0, le=120, description="Timeout of one webhook request (s).")
    batch_size: int = Field(50, ge=1, le=1000, description="Most notifications sent per dispatch round.")
    claim_s: float = Field(
        300.0,
        ge=10,
        le=3600,
        description="How long a dispatcher holds the rows it is attempting, so that other hub replicas skip "
        "them (s); extended while it works. A replica that dies holding rows delays them this long.",
    )

    @field_validator("webhooks")
    @classmethod
    def _ward_keys(cls, value: dict[str, WebhookTarget]) -> dict[str, WebhookTarget]:
        if any(not ward.strip() for ward in value):
            raise ValueError("webhook ward ids must not be empty")
        return value

    @model_validator(mode="after")
    def _claim_outlasts_an_attempt(self) -> Self:
        # A claim is extended once half of it has passed, so that half must cover one attempt; an e-mail's
        # timeout applies to each SMTP command, hence the margin.
        longest = max(self.webhook_timeout_s, self.smtp.timeout_s if self.smtp is not None else 0.0)
        if self.claim_s < 4 * longest:
            raise ValueError(
                f"claim_s must be at least 4 times the longest notifier timeout: {4 * longest:g} s"
            )
        return self
