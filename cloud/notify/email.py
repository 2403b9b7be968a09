"""E-mail notifications through SMTP (the standard library's smtplib, in a worker thread); plain text."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from cloud.notify.notifier import DELIVERED, Delivery, Notification
from cloud.notify.routing import email_body, email_subject
from cloud.notify.settings import SmtpSettings


def build_message(notification: Notification, sender: str, console_url: str | None = None) -> EmailMessage:
    """The e-mail of one notification: To its target's addresses, plain-text body."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = notification.target
    message["Subject"] = email_subject(notification.payload)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(idstring=f"qmon-{notification.id}")
    message.set_content(email_body(notification.payload, console_url))
    return message


class EmailNotifier:
    """Sends each notification as one e-mail through the configured SMTP server."""

    channel = "email"

    def __init__(self, smtp: SmtpSettings, console_url: str | None = None) -> None:
        self._smtp = smtp
        self._console_url = console_url

    async def deliver(self, notification: Notification) -> Delivery:
        """Send once: a 5xx answer or refused recipients are final; 4xx and connection errors retried."""
        message = build_message(notification, self._smtp.from_address, self._console_url)
        return await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> Delivery:
        smtp = self._smtp
        try:
            client: smtplib.SMTP
            if smtp.security == "ssl":
                client = smtplib.SMTP_SSL(
                    smtp.host, smtp.port, timeout=smtp.timeout_s, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
            with client:
                if smtp.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                password = smtp.login_password()
                if smtp.username is not None and password is not None:
                    client.login(smtp.username, password)
                refused = client.send_message(message)
            if refused:
                return Delivery(False, permanent=True, error=f"recipients refused: {sorted(refused)}")
            return DELIVERED
        except smtplib.SMTPRecipientsRefused as exc:
            return Delivery(False, permanent=True, error=f"recipients refused: {sorted(exc.recipients)}")
        except smtplib.SMTPResponseException as exc:
            return Delivery(
                False, permanent=exc.smtp_code >= 500, error=f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            )
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(False, error=f"{type(exc).__name__}: {exc}"[:500])
