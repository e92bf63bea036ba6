"""The console's authentication pages: signing keys, trusted issuers, a client's JWT keys."""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from keystore.models import AuditEvent, ClientJwtKey, TrustedIssuer


def test_the_page_lists_signing_keys_and_manages_issuers(console, session, world):
    page = console.get("/console/auth")
    assert page.status_code == 200
    assert b"signing-keys" in page.data
    assert b"ES256" in page.data
    form = {
        "name": "corp",
        "issuer": "https://sso.example.com/realm",
        "jwks_url": "https://sso.example.com/jwks",
        "audience": "keyward",
        "client_claim": "azp",
        "clients": "acme",
    }
    assert console.post("/console/issuers", form).status_code == 302
    issuer = session.scalar(select(TrustedIssuer))
    assert (issuer.client_claim, [c.name for c in issuer.clients]) == ("azp", ["acme"])
    assert b"sso.example.com/realm" in console.get("/console/auth").data
    assert console.post(f"/console/issuers/{issuer.id}/disable").status_code == 302
    session.refresh(issuer)
    assert issuer.enabled is False
    refused = console.post(
        "/console/issuers", {**form, "name": "lan", "jwks_url": "https://10.1.2.3/"}
    )
    assert refused.status_code == 422
    assert b"jwks_url" in refused.data
    assert console.post(f"/console/issuers/{issuer.id}/delete").status_code == 302
    assert session.scalar(select(TrustedIssuer)) is None
    actions = set(session.scalars(select(AuditEvent.action)))
    assert {"issuer.add", "issuer.disable", "issuer.delete"} <= actions


def test_a_clients_jwt_keys_page_shows_an_hs256_secret_once(console, session, world):
    path = f"/console/clients/{world.client.id}/jwt-keys"
    assert console.get(path).status_code == 200
    shown = console.post(path, {"algorithm": "HS256"}, follow_redirects=True)
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"].startswith("no-store")
    row = session.scalar(select(ClientJwtKey))
    assert row.secret_sealed is not None
    assert row.fingerprint.encode() in console.get(path).data
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    assert console.post(path, {"algorithm": "ES256", "public_key": pem}).status_code == 303
    wrong = console.post(path, {"algorithm": "RS256", "public_key": pem})
    assert wrong.status_code == 422
    assert console.post(f"{path}/{row.id}/delete").status_code == 302
    remaining = session.scalars(select(ClientJwtKey.algorithm)).all()
    assert remaining == ["ES256"]
