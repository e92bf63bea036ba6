"""The CLI of the authentication methods: client JWT keys, issuers, Keyward's signing keys."""

import json

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.keystore.test_cli import cli, setup_client

__all__ = ["cli"]


def test_jwt_keys_from_the_cli(cli, tmp_path):
    setup_client(cli)
    private = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "client.pem"
    path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    added = json.loads(
        cli(
            "--json",
            "jwt-key",
            "add",
            "acme",
            "--algorithm",
            "ES256",
            "--public-key-file",
            str(path),
        ).stdout
    )
    assert added["secret"] is None
    hs = json.loads(cli("--json", "jwt-key", "add", "acme", "--algorithm", "HS256").stdout)
    assert len(hs["secret"]) >= 40
    listed = json.loads(cli("--json", "jwt-key", "list", "acme").stdout)
    assert [k["algorithm"] for k in listed] == ["ES256", "HS256"]
    assert hs["secret"] not in cli("jwt-key", "list", "acme").stdout
    cli("jwt-key", "remove", "acme", str(added["id"]))
    assert len(json.loads(cli("--json", "jwt-key", "list", "acme").stdout)) == 1
    bad = cli(
        "jwt-key", "add", "acme", "--algorithm", "RS256", "--public-key-file", str(path), code=1
    )
    assert bad.stderr.startswith("error: ")


def test_issuers_from_the_cli(cli):
    setup_client(cli)
    args = ["--issuer", "https://idp.example/realm", "--jwks-url", "https://idp.example/jwks"]
    added = json.loads(
        cli(
            "--json", "issuer", "add", "corp", *args, "--audience", "keyward", "--client", "acme"
        ).stdout
    )
    assert added["clients"] == ["acme"]
    cli("issuer", "enable", str(added["id"]), "--off")
    (listed,) = json.loads(cli("--json", "issuer", "list").stdout)
    assert listed["enabled"] is False
    refused = cli(
        "issuer",
        "add",
        "lan",
        "--issuer",
        "https://10.0.0.1/",
        "--jwks-url",
        "https://10.0.0.1/j",
        "--audience",
        "x",
        "--client",
        "acme",
        code=1,
    )
    assert "issuer" in refused.stderr
    cli("issuer", "remove", str(added["id"]))
    assert json.loads(cli("--json", "issuer", "list").stdout) == []


def test_signing_keys_rotate_and_stay_published(cli, request):
    before = json.loads(cli("--json", "signing-key", "list").stdout)
    (current,) = before["keys"]
    if request.node.callspec.params["cli"] == "postgresql":
        # Production without a key file signs with a key derived from the pepper: rotating
        # it means configuring a key file, and the CLI says so.
        refused = cli("signing-key", "rotate", code=1)
        assert "KEYWARD_JWT_PRIVATE_KEY_FILE" in refused.stderr
        return
    rotated = json.loads(cli("--json", "signing-key", "rotate").stdout)
    assert rotated["retired"] == current["kid"]
    after = json.loads(cli("--json", "signing-key", "list").stdout)
    assert [k["kid"] for k in after["keys"]] == [rotated["current"], current["kid"]]
    assert all(jwt.PyJWK(k).algorithm_name == "ES256" for k in after["keys"])
