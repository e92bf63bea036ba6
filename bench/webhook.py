"""Signed GitHub alerts against gunicorn with a real Celery worker: latency and time to revocation.

    python bench/webhook.py [--single 200] [--batches 50] [--leaks 50]

The integration stack (tests/integration/stack.py): PostgreSQL (a fresh database),
its own redis-server, gunicorn (2 workers), a Celery worker with beat, aiosmtpd,
and a local server publishing the signing key.  Prints:

* webhook latency p50/p99 for batches of 1 record and of 100 records (client-side,
  signature verification + storage + answer);
* time from receipt to revocation, and to the last email, p50/p99, from the
  incidents' own timestamps (received_at, acted_at, notified_at) for ``--leaks``
  leaked dev keys posted one after another.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import tokens
from keystore.db import make_engine
from keystore.models import Incident
from tests.conftest import TEST_PEPPER
from tests.databases import drop_database, recreate_database
from tests.integration.stack import Stack, new_client, seed, wait_until
from tests.partner import alert

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASE = "keyward_bench_hook"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--single", type=int, default=200, help="1-record alerts to time")
    parser.add_argument("--batches", type=int, default=50, help="100-record alerts to time")
    parser.add_argument("--leaks", type=int, default=50, help="leaked keys to follow")
    parser.add_argument(
        "--spacing", type=float, default=0.25, help="seconds between leak alerts (0: one burst)"
    )
    args = parser.parse_args()
    url = recreate_database(POSTGRES, DATABASE)
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(tmp=Path(tmp), database_url=url)
        stack.admin_token = seed(url, TEST_PEPPER)
        try:
            stack.start()
            run(stack, args)
        finally:
            stack.stop()
            drop_database(POSTGRES, DATABASE)


def run(stack: Stack, args) -> None:
    http = requests.Session()
    print(
        "stack: gunicorn 2 workers, Celery worker (concurrency 2) + beat, Redis, PostgreSQL,"
        " aiosmtpd; 2 cores shared by all of it and this client"
    )
    single = [post(stack, http, alert(tokens.generate("kw", "prod"))) for _ in range(args.single)]
    report(f"webhook, 1 record    (n={len(single)})", single)
    batches = [
        post(stack, http, alert(*(tokens.generate("kw", "prod") for _ in range(100))))
        for _ in range(args.batches)
    ]
    report(f"webhook, 100 records (n={len(batches)})", batches)
    for label, spacing in ((f"every {args.spacing:g} s", args.spacing), ("one burst", 0.0)):
        incidents = follow_leaks(stack, http, count=args.leaks, spacing=spacing, label=label)
        report(
            f"receipt -> revocation, {label} (n={len(incidents)})",
            [(i.acted_at - i.received_at).total_seconds() for i in incidents],
        )
        report(
            f"receipt -> last email, {label} (n={len(incidents)})",
            [(i.notified_at - i.received_at).total_seconds() for i in incidents],
        )


def follow_leaks(stack: Stack, http, *, count: int, spacing: float, label: str) -> list:
    """Leak ``count`` dev keys, ``spacing`` seconds apart; wait until each is fully handled."""
    tag = label.replace(" ", "-").replace(".", "")
    leaked = [new_client(stack.database_url, TEST_PEPPER, f"bench-{tag}-{i}") for i in range(count)]
    for _, token in leaked:
        post(stack, http, alert(token))
        time.sleep(spacing)
    key_ids = [key_id for key_id, _ in leaked]
    return wait_until(
        lambda: finished(stack, key_ids), timeout=300, what="every leak to be handled"
    )


def post(stack: Stack, http: requests.Session, body: bytes) -> float:
    started = time.perf_counter()
    response = http.post(
        f"{stack.base_url}/v1/secret-scanning/github",
        data=body,
        headers=stack.github.headers(body),
        timeout=30,
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"webhook answered {response.status_code}: {response.text[:200]}")
    return elapsed


def finished(stack: Stack, key_ids: list[int]):
    engine = make_engine(stack.database_url)
    try:
        with Session(engine) as session:
            rows = list(session.scalars(select(Incident).where(Incident.key_id.in_(key_ids))))
    finally:
        engine.dispose()
    done = [row for row in rows if row.state == "notified"]
    return done if len(done) == len(key_ids) else None


def report(label: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    print(f"{label:<52} p50 {statistics.median(ordered) * 1000:8.1f} ms   p99 {p99 * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
