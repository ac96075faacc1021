"""Sending e-mail through the configured SMTP server (ballot links for elections, chase reminders).

The server is the app's ``SMTP_*`` configuration (``PCNREG_SMTP_HOST``, ``_PORT``, ``_STARTTLS``,
``_USER``, ``_PASSWORD``, ``_FROM``, read by ``pcnreg.config``); without ``SMTP_HOST`` e-mail is off
and ballot links are printed as letters.
"""
from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app

TIMEOUT_SECONDS = 15


class MailError(Exception):
    pass


def configured() -> bool:
    return bool(current_app.config.get("SMTP_HOST"))


def send(to: str, subject: str, body: str) -> None:
    """Send one plain-text message; MailError naming the problem when it cannot be sent."""
    config = current_app.config
    if not configured():
        raise MailError("This service has no e-mail server set up: print the ballot letter instead")
    message = EmailMessage()
    message["From"] = config.get("SMTP_FROM") or "pcnreg@localhost"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(config["SMTP_HOST"], int(config.get("SMTP_PORT") or 25), timeout=TIMEOUT_SECONDS) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USER"):
                smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"The e-mail to {to} could not be sent: {exc}") from exc
