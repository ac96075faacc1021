"""Sending e-mail through the configured SMTP server (ballot links for elections, chase reminders).

PCNREG_SMTP_HOST      the server (unset: e-mail is off; ballot links are printed as letters)
PCNREG_SMTP_PORT      its port (default 25; 587 with STARTTLS is usual)
PCNREG_SMTP_STARTTLS  1/true to upgrade the connection with STARTTLS before sending
PCNREG_SMTP_USER, PCNREG_SMTP_PASSWORD   credentials, when the server needs them
PCNREG_SMTP_FROM      the sender address (default pcnreg@localhost)
"""
from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage

from flask import current_app

TIMEOUT_SECONDS = 15


class MailError(Exception):
    pass


def settings_from_environment() -> dict:
    return {
        "SMTP_HOST": os.environ.get("PCNREG_SMTP_HOST") or None,
        "SMTP_PORT": int(os.environ.get("PCNREG_SMTP_PORT") or 25),
        "SMTP_STARTTLS": (os.environ.get("PCNREG_SMTP_STARTTLS") or "").lower() in ("1", "true", "yes", "on"),
        "SMTP_USER": os.environ.get("PCNREG_SMTP_USER") or None,
        "SMTP_PASSWORD": os.environ.get("PCNREG_SMTP_PASSWORD") or None,
        "SMTP_FROM": os.environ.get("PCNREG_SMTP_FROM") or "pcnreg@localhost",
    }


def configured() -> bool:
    return bool(current_app.config.get("SMTP_HOST"))


def send(to: str, subject: str, body: str) -> None:
    """Send one plain-text message; MailError naming the problem when it cannot be sent."""
    config = current_app.config
    if not configured():
        raise MailError("E-mail is not configured (PCNREG_SMTP_HOST): print the ballot letter instead")
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
