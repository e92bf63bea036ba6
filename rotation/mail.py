"""Leak emails: one text for the admins, another for the client's contact.

Both name the key by hint only; a replacement token never travels by email, the
message links to the page where it is picked up once.  Links in the HTML part are
real ``<a href>`` elements, escaped; only http(s) URLs ever become links.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from keystore.config import Settings
from keystore.errors import KeywardError
from rotation.messages import LeakFacts, Line, admin_lines, client_lines, subject


class MailError(KeywardError):
    """A notification could not be delivered (SMTP down, a webhook receiver failing) for now:
    transient, the task retries."""

    status = 503
    error = "mail_failed"


INTRO = {
    "admin": "A Keyward API token was found in public and must be treated as compromised.",
    "client": "An API key of yours was found in public and must be treated as compromised. "
    "Keyward has already acted on it, as described below.",
}


def compose(
    facts: LeakFacts, *, recipient: str, audience: str, message_id: str, settings: Settings
) -> EmailMessage:
    """The email for ``audience`` ``admin`` or ``client`` (the client's contact)."""
    lines = client_lines(facts, settings) if audience == "client" else admin_lines(facts, settings)
    intro = INTRO["client" if audience == "client" else "admin"]
    message = envelope(
        subject=subject(facts), recipient=recipient, message_id=message_id, settings=settings
    )
    message.set_content(_plain(intro, lines, facts))
    message.add_alternative(_html(intro, lines, facts), subtype="html")
    return message


def envelope(*, subject: str, recipient: str, message_id: str, settings: Settings) -> EmailMessage:
    """A machine-made message's headers; the caller adds the body."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    # RFC 3834: machine-made; auto-responders (vacation replies) should stay quiet.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    return message


def _plain(intro: str, lines: list[Line], facts: LeakFacts) -> str:
    body = [intro, ""]
    body += [f"{line.label}: {line.text}" for line in lines]
    body += ["", "Where it was found:"]
    body += [
        f"  - {url or '(no url given)'} [{origin}, {source or 'unknown source'}]"
        for origin, source, url in facts.occurrences
    ]
    return "\n".join(body) + "\n"


def _html(intro: str, lines: list[Line], facts: LeakFacts) -> str:
    rows = "".join(
        f"<tr><th align='left' valign='top'>{html.escape(line.label)}</th>"
        f"<td>{_linked(line.text, line.link)}</td></tr>"
        for line in lines
    )
    places = "".join(
        f"<li>{_linked(url or '(no url given)', url)} [{html.escape(origin)}, "
        f"{html.escape(source or 'unknown source')}]</li>"
        for origin, source, url in facts.occurrences
    )
    return (
        f"<html><body><p>{html.escape(intro)}</p><table>{rows}</table>"
        f"<p>Where it was found:</p><ul>{places}</ul></body></html>"
    )


def _linked(text: str, link: str | None) -> str:
    """``text`` escaped; the link's own text becomes an anchor, other text keeps it as a link."""
    if not link or not link.lower().startswith(("https://", "http://")):
        return html.escape(text)
    anchor = (
        f'<a href="{html.escape(link, quote=True)}" rel="noopener noreferrer">'
        f"{html.escape(link)}</a>"
    )
    if text == link:
        return anchor
    if link in text:
        before, _, after = text.partition(link)
        return html.escape(before) + anchor + html.escape(after)
    return f"{html.escape(text)} {anchor}"


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
