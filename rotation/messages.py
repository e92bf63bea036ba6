"""What a leak notification says, to whom: the admins, the client's contact, a webhook.

Texts are built from :class:`LeakFacts`, read in the task's transaction; nothing
here ever sees a token (the replacement is named by its hint and picked up once in
the console or the portal).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from keystore.config import Settings

MAX_LISTED_OCCURRENCES = 20


@dataclass(frozen=True)
class LeakFacts:
    """Everything a notification says, read in the task's transaction (no ORM objects)."""

    incident_id: int
    client_id: int
    client_name: str
    key_id: int
    key_name: str
    key_hint: str
    environment: str
    action: str
    action_detail: str
    replacement_hint: str | None
    replacement_waiting: bool
    contact_email: str
    contact_has_portal: bool
    occurrences: tuple[tuple[str, str, str], ...]  # (origin, source, url)
    occurrence_count: int


@dataclass(frozen=True)
class Line:
    label: str
    text: str
    link: str | None = None  # an absolute URL the HTML part turns into <a href>


ADMIN_STEPS = {
    "revoke": "Issue a new key for the client and deploy it where the old one was used. "
    "Remove the leaked token from the places listed below, including git history.",
    "regenerate": "The client's contact can pick up the replacement token once in the portal, "
    "or you can pick it up on the incident page and hand it over. Remove the leaked token from the "
    "places listed below, including git history.",
    "notify_only": "The key still works. Revoke or regenerate it on the incident page unless "
    "you are sure the exposure is harmless, and remove the token from the places below.",
    "replaced": "The leaked token had already been replaced and has stopped working now; keep "
    "the new one. Remove the leaked token from the places listed below.",
    "none": "The token had already stopped working; remove it from the places listed below.",
}

CLIENT_STEPS = {
    "revoke": "The key was revoked and no longer works. Ask your Keyward administrator for a "
    "new key, or issue one yourself in the portal, and deploy it. Remove the leaked token "
    "from the places listed below, including git history.",
    "regenerate": "The key has a new token: pick up the new token once in the portal (link "
    "below) and deploy it; the leaked token no longer works. Remove the leaked token from "
    "the places listed below, including git history.",
    "notify_only": "The key still works. Regenerate or revoke it in the portal, or ask your "
    "Keyward administrator to, and remove the token from the places listed below.",
    "replaced": "The leaked token had already been replaced and has stopped working now; keep "
    "using the new one. Remove the leaked token from the places listed below.",
    "none": "The token had already stopped working; remove it from the places listed below.",
}


def console_link(settings: Settings, incident_id: int) -> str:
    return f"{settings.public_url}/console/incidents/{incident_id}"


def portal_link(settings: Settings, incident_id: int) -> str:
    return f"{settings.public_url}/portal/incidents/{incident_id}"


def message_host(settings: Settings) -> str:
    """The host Message-IDs are made on: that of ``KEYWARD_PUBLIC_URL``."""
    return urlsplit(settings.public_url).hostname or "keyward"


def subject(facts: LeakFacts) -> str:
    return f"[Keyward] Leaked API key {facts.key_hint} of {facts.client_name}"


def admin_lines(facts: LeakFacts, settings: Settings) -> list[Line]:
    """The admins' text: what happened, what to do, and the console page to do it on."""
    lines = [
        Line("Client", facts.client_name),
        Line("Key", f"{facts.key_name} ({facts.key_hint}, environment {facts.environment})"),
        Line("What Keyward did", _did(facts)),
        Line("Reports", str(facts.occurrence_count)),
        Line("What to do next", _steps(ADMIN_STEPS, facts)),
    ]
    if facts.replacement_waiting and facts.contact_email and not facts.contact_has_portal:
        lines.append(
            Line(
                "Portal account",
                f"The client's contact {facts.contact_email} has no portal account: invite "
                "them from the client page so they can pick up the replacement.",
                link=f"{settings.public_url}/console/clients/{facts.client_id}",
            )
        )
    lines.append(
        Line(
            "Incident",
            console_link(settings, facts.incident_id),
            link=console_link(settings, facts.incident_id),
        )
    )
    return lines


def client_lines(facts: LeakFacts, settings: Settings) -> list[Line]:
    """The client contact's text: their key, what it means for them, and the portal."""
    lines = [
        Line("Key", f"{facts.key_name} ({facts.key_hint}, environment {facts.environment})"),
        Line("What Keyward did", _did(facts)),
        Line("What to do next", _steps(CLIENT_STEPS, facts)),
    ]
    link = portal_link(settings, facts.incident_id)
    if facts.contact_has_portal:
        lines.append(Line("Your incident page", link, link=link))
    else:
        login = f"{settings.public_url}/portal/login"
        lines.append(
            Line(
                "Portal account",
                f"{facts.contact_email} has no portal account yet. Ask your Keyward "
                "administrator for a portal invitation (it comes by email and lets you "
                f"choose a password), then sign in at {login} and open {link}.",
                link=login,
            )
        )
    return lines


def summary(facts: LeakFacts) -> str:
    """One line for chat: which key, whose, and what was done."""
    return (
        f"Leaked API key {facts.key_hint} ({facts.key_name}, {facts.environment}) of "
        f"{facts.client_name}: {facts.action_detail or 'no action yet'}."
    )


def _did(facts: LeakFacts) -> str:
    replacement = (
        f" New token: {facts.replacement_hint} (picked up once, never sent by email)."
        if (facts.replacement_hint and facts.action == "regenerate")
        else ""
    )
    return f"{facts.action_detail}.{replacement}"


def _steps(steps: dict[str, str], facts: LeakFacts) -> str:
    action = facts.action
    if action == "regenerate" and not facts.replacement_hint:
        action = "replaced"  # a token in its grace period: nothing new to pick up
    return steps.get(action, steps["none"])
