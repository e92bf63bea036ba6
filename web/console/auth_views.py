"""Authentication methods in the console: signing keys, trusted issuers, a client's JWT keys."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from keystore import client_jwt, jwks, oidc
from keystore.services import clients
from web.console import actor, console
from web.console.permissions import needs
from web.forms import FormErrors, lines, run_form, text
from web.runtime import runtime
from web.token_page import no_store

ISSUER_FIELDS = ("name", "issuer", "jwks_url", "audience", "client_claim", "clients")
KEY_FIELDS = ("algorithm", "public_key")


def ref(value: str) -> int | str:
    """Clients are named by id (digits) or by name."""
    return int(value) if value.isdigit() and len(value) <= 10 else value


@console.get("/auth")
@needs("viewer")
def auth_methods():
    return _auth_page(errors=FormErrors())


@console.post("/issuers")
@needs("admin")
def issuer_add():
    settings = runtime().settings

    def work(session):
        return oidc.add_issuer(
            session,
            settings,
            actor=actor(),
            name=text("name"),
            issuer=text("issuer"),
            jwks_url=text("jwks_url"),
            audience=text("audience"),
            client_claim=text("client_claim") or "sub",
            clients=[ref(name) for name in lines("clients")],
        )

    _, errors = run_form(work, fields=ISSUER_FIELDS)
    if errors:
        return _auth_page(errors=errors)
    return redirect(url_for("console.auth_methods"))


@console.post("/issuers/<int:issuer_id>/enable")
@needs("admin")
def issuer_enable(issuer_id: int):
    return _switch(issuer_id, enabled=True)


@console.post("/issuers/<int:issuer_id>/disable")
@needs("admin")
def issuer_disable(issuer_id: int):
    return _switch(issuer_id, enabled=False)


def _switch(issuer_id: int, *, enabled: bool):
    _, errors = run_form(
        lambda session: oidc.set_enabled(
            session, actor=actor(), issuer_id=issuer_id, enabled=enabled
        )
    )
    if errors:
        return _auth_page(errors=errors)
    return redirect(url_for("console.auth_methods"))


@console.post("/issuers/<int:issuer_id>/delete")
@needs("admin")
def issuer_delete(issuer_id: int):
    _, errors = run_form(
        lambda session: oidc.delete_issuer(session, actor=actor(), issuer_id=issuer_id)
    )
    if errors:
        return _auth_page(errors=errors)
    return redirect(url_for("console.auth_methods"))


@console.get("/clients/<int:client_id>/jwt-keys")
@needs("viewer")
def client_jwt_keys(client_id: int):
    return _keys_page(client_id, errors=FormErrors())


@console.post("/clients/<int:client_id>/jwt-keys")
@needs("operator")
def client_jwt_key_add(client_id: int):
    settings = runtime().settings

    def work(session):
        row, secret = client_jwt.add_key(
            session,
            settings,
            actor=actor(),
            client_ref=client_id,
            algorithm=text("algorithm"),
            public_key=text("public_key") or None,
        )
        return row.id, secret

    result, errors = run_form(work, fields=KEY_FIELDS)
    if errors:
        return _keys_page(client_id, errors=errors)
    key_id, secret = result
    if secret is None:
        return redirect(url_for("console.client_jwt_keys", client_id=client_id))
    page = render_template(
        "console/jwt_key_secret.html", client_id=client_id, key_id=key_id, secret=secret
    )
    return no_store(page)


@console.post("/clients/<int:client_id>/jwt-keys/<int:key_id>/delete")
@needs("operator")
def client_jwt_key_delete(client_id: int, key_id: int):
    _, errors = run_form(
        lambda session: client_jwt.delete_key(
            session, actor=actor(), client_ref=client_id, key_id=key_id
        )
    )
    if errors:
        return _keys_page(client_id, errors=errors)
    return redirect(url_for("console.client_jwt_keys", client_id=client_id))


def _auth_page(*, errors: FormErrors):
    settings = runtime().settings
    with runtime().unit_of_work() as session:
        return render_template(
            "console/auth_methods.html",
            signing_keys=jwks.keyring(settings).jwks()["keys"],
            issuers=[oidc.serialize_issuer(i) for i in oidc.list_issuers(session)],
            clients=clients.list_clients(session),
            public_url=settings.public_url,
            errors=errors,
        ), errors.status


def _keys_page(client_id: int, *, errors: FormErrors):
    with runtime().unit_of_work() as session:
        return render_template(
            "console/jwt_keys.html",
            client=clients.get_client(session, client_id),
            keys=[client_jwt.serialize_key(k) for k in client_jwt.list_keys(session, client_id)],
            errors=errors,
        ), errors.status
