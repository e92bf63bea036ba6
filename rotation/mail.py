"""Leak emails: what leaked, where, what Keyward did, what to do next.

The message names the key by hint only.  A replacement token never travels by
email: the message says where to pick it up once.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from keystore.config import Settings
from keystore.errors import KeywardError

MAX_LISTED_OCCURRENCES = 20


class MailError(KeywardError):
    """SMTP is down or refused the message: transient, the task retries."""

    status = 503
    error = "mail_failed"


@dataclass(frozen=True)
class LeakFacts:
    """Everything an email says, read in the task's transaction (no ORM objects leave it)."""

    incident_id: int
    client_name: str
    key_name: str
    key_hint: str
    environment: str
    action: str
    action_detail: str
    replacement_hint: str | None
    occurrences: tuple[tuple[str, str, str], ...]  # (origin, source, url)
    occurrence_count: int


NEXT_STEPS = {
    "revoke": "Issue a new key for the client in Keyward and deploy it where the old one was used. "
    "Remove the leaked token from the places listed above, including git history.",
    "regenerate": "Pick up the replacement token once in Keyward (incident page or "
    "POST /api/v1/incidents/{id}/replacement) and deploy it. Remove the leaked "
    "token from the places listed above, including git history.",
    "notify_only": "The key still works. Revoke or regenerate it in Keyward unless you are sure "
    "the exposure is harmless, and remove the token from the places above.",
    "none": "The token had already stopped working; remove it from the places listed above.",
}


def compose(
    facts: LeakFacts, *, recipient: str, message_id: str, settings: Settings
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[Keyward] Leaked API key {facts.key_hint} of {facts.client_name}"
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message.set_content(_plain(facts, settings))
    message.add_alternative(_html(facts, settings), subtype="html")
    return message


def _lines(facts: LeakFacts, settings: Settings) -> list[tuple[str, str]]:
    link = f"{settings.public_url}/api/v1/incidents/{facts.incident_id}"
    steps = NEXT_STEPS.get(facts.action, NEXT_STEPS["none"]).replace("{id}", str(facts.incident_id))
    replacement = (
        f" New token: {facts.replacement_hint} (pick it up once)."
        if (facts.replacement_hint and facts.action == "regenerate")
        else ""
    )
    return [
        ("Client", facts.client_name),
        ("Key", f"{facts.key_name} ({facts.key_hint}, environment {facts.environment})"),
        ("What Keyward did", f"{facts.action_detail}.{replacement}"),
        ("Reports", str(facts.occurrence_count)),
        ("What to do next", steps),
        ("Incident", link),
    ]


def _plain(facts: LeakFacts, settings: Settings) -> str:
    body = ["A Keyward API token was found in public and must be treated as compromised.", ""]
    body += [f"{label}: {value}" for label, value in _lines(facts, settings)]
    body += ["", "Where it was found:"]
    body += [
        f"  - {url or '(no url given)'} [{origin}, {source or 'unknown source'}]"
        for origin, source, url in facts.occurrences
    ]
    return "\n".join(body) + "\n"


def _html(facts: LeakFacts, settings: Settings) -> str:
    rows = "".join(
        f"<tr><th align='left'>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in _lines(facts, settings)
    )
    places = "".join(
        f"<li>{html.escape(url or '(no url given)')} [{html.escape(origin)}, "
        f"{html.escape(source or 'unknown source')}]</li>"
        for origin, source, url in facts.occurrences
    )
    return (
        f"<html><body><p>A Keyward API token was found in public and must be treated as "
        f"compromised.</p><table>{rows}</table><p>Where it was found:</p><ul>{places}</ul>"
        f"</body></html>"
    )


def send(message: EmailMessage, settings: Settings) -> None:
    """Deliver through the configured SMTP server; any failure is a :class:`MailError`."""
    try:
        with _connect(settings) as smtp:
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(
            f"SMTP delivery failed: {type(exc).__name__}: {exc}", reason="smtp_unavailable"
        ) from None


def _connect(settings: Settings) -> smtplib.SMTP:
    timeout = settings.smtp_timeout_seconds
    if settings.smtp_tls == "ssl":
        return smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    if settings.smtp_tls == "starttls":
        try:
            smtp.starttls(context=ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
    return smtp
