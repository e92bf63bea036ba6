"""Inviting a client's contact to the portal: by email, or a link shown to the admin once."""

from __future__ import annotations

from email.message import EmailMessage

from flask import render_template, url_for

from keystore.services import clients, keys, portal
from keystore.services.keys import MAX_KEYS_PER_CLIENT
from rotation.mail import send
from web.console import actor, console
from web.console.permissions import needs
from web.forms import run_form, text
from web.runtime import runtime
from web.token_page import no_store


@console.post("/clients/<int:client_id>/invite")
@needs("operator")
def client_invite(client_id: int):
    settings = runtime().settings

    def work(session):
        invitation, token = portal.invite(
            session, settings, actor=actor(), client_id=client_id, email=text("email")
        )
        return invitation.email, token

    result, errors = run_form(work, fields=("email",))
    link = notice = None
    if result:
        email, token = result
        link = settings.public_url + url_for("portal.accept", invitation=token)
        if settings.smtp_host:
            send(_invitation_mail(settings, email=email, link=link), settings)
            notice, link = f"invitation sent to {email}", None
    return no_store(_client_page(client_id, link=link, notice=notice, errors=errors))


def _client_page(client_id: int, *, link, notice, errors):
    with runtime().unit_of_work() as session:
        return render_template(
            "console/client.html",
            client=clients.get_client(session, client_id),
            keys=keys.list_keys(session, client_ref=client_id),
            max_keys=MAX_KEYS_PER_CLIENT,
            invitation_link=link,
            notice=notice,
            errors=errors,
        ), errors.status


def _invitation_mail(settings, *, email: str, link: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = settings.mail_from, email
    message["Subject"] = "Your Keyward portal invitation"
    message.set_content(
        "You have been invited to manage your API keys in Keyward's client portal.\n\n"
        f"Choose your password here (the link works once, for 7 days):\n{link}\n"
    )
    return message
