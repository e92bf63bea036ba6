"""Forged partner alerts beside a `/v1/verify` load: do forgeries hold the web workers?

    python bench/forged_partner.py [--seconds 5] [--forgers 20] [--verifiers 4]

Production mode against a local gunicorn (2 workers, from tests/integration/stack.py):
PostgreSQL (a fresh database), its own redis-server, a local server publishing
the partner's signing key; no Celery worker (none is needed to answer).  Two
phases of ``--seconds`` each:

1. ``--verifiers`` threads call ``POST /v1/verify`` in a loop (the baseline);
2. the same, while ``--forgers`` threads post signed alerts whose
   ``Github-Public-Key-Identifier`` is random and whose signature is made with
   a random key (the refetch window's one fetch is spent on the first of them).

Prints p50/p99 of both, and the forgers' answers by status.  Python threads
on 2 shared cores: read the figures as relative, not absolute.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from tests.conftest import TEST_PEPPER
from tests.databases import drop_database, recreate_database
from tests.integration.stack import Stack, healthy, new_client, seed, wait_until
from tests.partner import Signer, alert

POSTGRES = os.environ.get(
    "KEYWARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DATABASE = "keyward_bench_forged"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    parser.add_argument("--forgers", type=int, default=20, help="concurrent forged senders")
    parser.add_argument("--verifiers", type=int, default=4, help="concurrent /v1/verify callers")
    args = parser.parse_args()
    args.seconds = min(args.seconds, 30.0)  # keep runs short on a shared machine
    url = recreate_database(POSTGRES, DATABASE)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stack = Stack(tmp=Path(tmp), database_url=url)
            seed(url, TEST_PEPPER)
            _, token = new_client(url, TEST_PEPPER, "bench", environment="prod")
            stack.env["KEYWARD_PARTNER_REFETCH_SECONDS"] = "60"
            try:
                stack.redis.start()
                stack.web.start()
                wait_until(lambda: healthy(stack.base_url), timeout=30, what="gunicorn")
                run(stack, token, args)
            finally:
                stack.web.stop()
                stack.redis.stop()
                stack.keys.stop()
    finally:
        drop_database(POSTGRES, DATABASE)


def run(stack: Stack, token: str, args) -> None:
    base = stack.base_url
    # One genuine alert first, so the key document is cached as it would be in production.
    genuine = alert("kw_prod_notatoken")
    requests.post(
        f"{base}/v1/secret-scanning/github",
        data=genuine,
        headers=stack.github.headers(genuine),
        timeout=10,
    )
    baseline = phase(base, token, args, forgers=0)
    attacked = phase(base, token, args, forgers=args.forgers)
    print(
        f"gunicorn 2 workers; {args.verifiers} /v1/verify callers; "
        f"{args.forgers} forged senders; {args.seconds:g} s per phase"
    )
    show("/v1/verify alone", baseline["verify"])
    show("/v1/verify beside forgers", attacked["verify"])
    show("forged alerts", attacked["forged"])
    print(f"forged alerts by status: {dict(sorted(attacked['statuses'].items()))}")


def phase(base: str, token: str, args, *, forgers: int) -> dict:
    stop = time.monotonic() + args.seconds
    results = {"verify": [], "forged": [], "statuses": Counter()}
    lock = threading.Lock()
    threads = [
        threading.Thread(target=verifier, args=(base, token, stop, results, lock))
        for _ in range(args.verifiers)
    ] + [threading.Thread(target=forger, args=(base, stop, results, lock)) for _ in range(forgers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=args.seconds + 30)
    return results


def verifier(base: str, token: str, stop: float, results: dict, lock) -> None:
    body = {"token": token, "endpoint": "orders.list", "address": "10.0.0.1"}
    with requests.Session() as http:
        while time.monotonic() < stop:
            started = time.perf_counter()
            http.post(f"{base}/v1/verify", json=body, timeout=30)
            with lock:
                results["verify"].append(time.perf_counter() - started)


def forger(base: str, stop: float, results: dict, lock) -> None:
    body = alert("kw_prod_forged")
    with requests.Session() as http:
        while time.monotonic() < stop:
            signer = Signer(secrets.token_hex(32))  # a new random key id and key each time
            headers = signer.headers(body)
            started = time.perf_counter()
            response = http.post(
                f"{base}/v1/secret-scanning/github", data=body, headers=headers, timeout=30
            )
            with lock:
                results["forged"].append(time.perf_counter() - started)
                results["statuses"][response.status_code] += 1


def show(label: str, seconds: list[float]) -> None:
    if len(seconds) < 2:
        print(f"{label:<28} too few samples ({len(seconds)})")
        return
    cuts = statistics.quantiles(seconds, n=100)
    print(
        f"{label:<28} n={len(seconds):>6}   p50 {cuts[49] * 1000:8.1f} ms   "
        f"p99 {cuts[98] * 1000:8.1f} ms   max {max(seconds) * 1000:8.1f} ms"
    )


if __name__ == "__main__":
    main()
