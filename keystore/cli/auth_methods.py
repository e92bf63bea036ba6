"""``keyward jwt-key``, ``issuer`` and ``signing-key``: the authentication methods."""

from __future__ import annotations

from pathlib import Path

import click

from keystore import client_jwt, jwks, oidc
from keystore.cli.base import CliContext, Group, pass_context, ref, split_csv, yes_no
from keystore.services import audit


@click.group("jwt-key", cls=Group)
def jwt_key_group() -> None:
    """Keys a client signs its own JWTs with."""


@jwt_key_group.command("list")
@click.argument("client")
@pass_context
def jwt_key_list(ctx: CliContext, client: str) -> None:
    """List the keys a client signs its JWTs with."""
    with ctx.session() as session:
        rows = [client_jwt.serialize_key(k) for k in client_jwt.list_keys(session, ref(client))]
    ctx.emit(rows, [f"{k['id']:>5}  {k['algorithm']:<6} {k['fingerprint']}" for k in rows])


@jwt_key_group.command("add")
@click.argument("client")
@click.option("--algorithm", type=click.Choice(["ES256", "RS256", "HS256"]), required=True)
@click.option(
    "--public-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM or JWK (JSON) public key; not for HS256, whose secret Keyward generates.",
)
@pass_context
def jwt_key_add(ctx: CliContext, client: str, algorithm: str, public_key_file: Path | None):
    """Register a key; an HS256 secret is printed this once and never again."""
    public_key = public_key_file.read_text(encoding="utf-8") if public_key_file else None
    with ctx.session() as session:
        row, secret = client_jwt.add_key(
            session,
            ctx.settings,
            actor=ctx.actor,
            client_ref=ref(client),
            algorithm=algorithm,
            public_key=public_key,
        )
        data = {**client_jwt.serialize_key(row), "secret": secret}
    lines = [f"{algorithm} key {data['id']} added to client {client} (kid {data['kid']})"]
    if secret:
        lines.append(f"secret (shown once): {secret}")
    ctx.emit(data, lines)


@jwt_key_group.command("remove")
@click.argument("client")
@click.argument("key_id", type=int)
@pass_context
def jwt_key_remove(ctx: CliContext, client: str, key_id: int) -> None:
    """Remove one of a client's JWT keys."""
    with ctx.session() as session:
        client_jwt.delete_key(session, actor=ctx.actor, client_ref=ref(client), key_id=key_id)
    ctx.emit({"deleted": key_id}, f"JWT key {key_id} removed")


@click.group("issuer", cls=Group)
def issuer_group() -> None:
    """Trusted OpenID Connect issuers."""


@issuer_group.command("list")
@pass_context
def issuer_list(ctx: CliContext) -> None:
    """List a client's trusted issuers."""
    with ctx.session() as session:
        rows = [oidc.serialize_issuer(i) for i in oidc.list_issuers(session)]
    ctx.emit(
        rows,
        [
            f"{i['id']:>5}  {i['name']:<20} {i['issuer']}  aud={i['audience']} "
            f"claim={i['client_claim']} clients={','.join(i['clients'])} "
            f"enabled: {yes_no(i['enabled'])}"
            for i in rows
        ],
    )


@issuer_group.command("add")
@click.argument("name")
@click.option("--issuer", "issuer_url", required=True, help="The iss its tokens carry.")
@click.option("--jwks-url", required=True)
@click.option("--audience", required=True, help="The aud its tokens must carry.")
@click.option("--client-claim", default="sub", show_default=True)
@click.option("--client", "clients", multiple=True, required=True, help="Names or ids.")
@pass_context
def issuer_add(ctx: CliContext, name, issuer_url, jwks_url, audience, client_claim, clients):
    """Trust an OpenID Connect issuer for a client."""
    with ctx.session() as session:
        row = oidc.add_issuer(
            session,
            ctx.settings,
            actor=ctx.actor,
            name=name,
            issuer=issuer_url,
            jwks_url=jwks_url,
            audience=audience,
            client_claim=client_claim,
            clients=[ref(c) for c in split_csv(clients)],
        )
        data = oidc.serialize_issuer(row)
    ctx.emit(data, f"issuer {data['id']} ({data['name']}) trusted for {', '.join(data['clients'])}")


@issuer_group.command("enable")
@click.argument("issuer_id", type=int)
@click.option("--on/--off", "enabled", default=True)
@pass_context
def issuer_enable(ctx: CliContext, issuer_id: int, enabled: bool) -> None:
    """Enable or disable an issuer."""
    with ctx.session() as session:
        data = oidc.serialize_issuer(
            oidc.set_enabled(session, actor=ctx.actor, issuer_id=issuer_id, enabled=enabled)
        )
    ctx.emit(data, f"issuer {issuer_id}: {'enabled' if enabled else 'disabled'}")


@issuer_group.command("remove")
@click.argument("issuer_id", type=int)
@pass_context
def issuer_remove(ctx: CliContext, issuer_id: int) -> None:
    """Stop trusting an issuer."""
    with ctx.session() as session:
        oidc.delete_issuer(session, actor=ctx.actor, issuer_id=issuer_id)
    ctx.emit({"deleted": issuer_id}, f"issuer {issuer_id} removed")


@click.group("signing-key", cls=Group)
def signing_key_group() -> None:
    """Keyward's own JWT signing keys (published at /.well-known/jwks.json)."""


@signing_key_group.command("list")
@pass_context
def signing_key_list(ctx: CliContext) -> None:
    """List Keyward's JWT signing keys."""
    document = jwks.keyring(ctx.settings).jwks()
    ctx.emit(
        document,
        [
            f"{k['kid']}  {k['alg']}  {'signing' if n == 0 else 'retired, still published'}"
            for n, k in enumerate(document["keys"])
        ],
    )


@signing_key_group.command("rotate")
@pass_context
def signing_key_rotate(ctx: CliContext) -> None:
    """Sign with a new embedded key; the old one stays published until its JWTs expire."""
    retired, current = jwks.rotate(ctx.settings)
    with ctx.session() as session:
        audit.record(
            session,
            actor=ctx.actor,
            action="jwt.signing_key_rotate",
            object_type="signing_key",
            object_id="jwks",  # kids are longer than the column; the summary names both
            summary=f"signing with {current}; retired {retired}",
        )
    ctx.emit({"retired": retired, "current": current}, f"signing with {current}; {retired} retired")
