"""Time one ``decide()`` per credential kind on the embedded SQLite store.

    python bench/auth_methods.py [--rounds 2000]

Prints the median and p99 of: an API token, a Keyward JWT (ES256), and a
client-signed JWT with an ES256, RS256 and HS256 key (each with a fresh
``jti``, so the replay insert is included).  A JWT costs its signature check
on top of the token's single query; a client JWT adds a read of the client's
keys and, with a ``jti``, one insert.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keystore import client_jwt
from keystore.config import Settings
from keystore.db import make_engine, make_read_session_factory, make_session_factory, transaction
from keystore.decision import Request, decide
from keystore.jwt_access import issue_jwt
from keystore.migrate import prepare
from keystore.services import catalogue, clients, keys, roles

PEPPER = "bench-pepper-0123456789abcdefghijklmnopqrstuvwxyz"
REQUEST = Request(endpoint="orders.list", environment="prod")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings.from_env({}, data_dir=Path(directory), pepper=PEPPER)
        engine = make_engine(settings.database_url)
        prepare(engine)
        credentials = setup(settings, make_session_factory(engine))
        reads = make_read_session_factory(engine)
        for name, make in credentials.items():
            report(name, [timed(settings, reads, make()) for _ in range(args.rounds)])
        engine.dispose()


def setup(settings: Settings, sessions) -> dict:
    with transaction(sessions) as session:
        catalogue.declare_endpoint(session, actor="bench", name="orders.list", section="Orders")
        roles.create_role(session, actor="bench", name="reader", endpoints=["orders.list"])
        client = clients.create_client(
            session, actor="bench", name="acme", role="reader", environments=["prod"]
        )
        key, token = keys.issue_key(
            session, settings, actor="bench", client_ref=client.id, name="k", environment="prod"
        )
        keyward_jwt, _ = issue_jwt(session, settings, actor="bench", key_id=key.id)
        signers = {"token": lambda: token, "keyward JWT (ES256)": lambda: keyward_jwt}
        for kind in ("ES256", "RS256", "HS256"):
            signers[f"client JWT ({kind})"] = client_signer(session, settings, client.id, kind)
    return signers


def client_signer(session, settings: Settings, client_id: int, kind: str):
    if kind == "HS256":
        _, secret = client_jwt.add_key(
            session, settings, actor="bench", client_ref=client_id, algorithm="HS256"
        )
        private, algorithm = secret, "HS256"
    else:
        private = (
            ec.generate_private_key(ec.SECP256R1())
            if kind == "ES256"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        client_jwt.add_key(
            session,
            settings,
            actor="bench",
            client_ref=client_id,
            algorithm=kind,
            public_key=pem.decode(),
        )
        algorithm = kind

    def sign() -> str:
        claims = {"iss": str(client_id), "exp": int(time.time()) + 300, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, private, algorithm=algorithm)

    return sign


def timed(settings: Settings, reads, credential: str) -> float:
    started = time.perf_counter()
    with reads() as session:
        decision = decide(session, settings, credential=credential, request=REQUEST)
    elapsed = time.perf_counter() - started
    assert decision.allowed, decision.reason
    return elapsed


def report(name: str, samples: list[float]) -> None:
    samples.sort()
    median = statistics.median(samples) * 1000
    p99 = samples[int(len(samples) * 0.99) - 1] * 1000
    print(f"{name:<22} median {median:6.2f} ms   p99 {p99:6.2f} ms")


if __name__ == "__main__":
    main()
