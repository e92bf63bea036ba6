"""Does `POST /v1/credentials/revoke` answer a live token faster or slower than a stranger's?

    python bench/public_revoke.py [--rounds 200] [--worker]

Production mode against a local gunicorn (tests/integration/stack.py): PostgreSQL
(a fresh database), its own redis-server, and a Celery worker with ``--worker``
(without one the matching tasks wait in Redis, which changes nothing in the
answer).  Each round posts, in random order, one live token of ours (ten keys,
used in turn) and one well-formed token nobody issued, one credential each.
Prints the median and p90 of each kind and their difference; an endpoint that
leaks liveness through timing shows a difference well above the noise (the
first implementation: ~43 ms against ~18 ms).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from keystore import tokens
from tests.conftest import TEST_PEPPER
from tests.databases import drop_database, recreate_database
from tests.integration.stack import Stack, healthy, new_client, seed, wait_until

POSTGRES = os.environ.get(
    "KEYWARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DATABASE = "keyward_bench_revoke"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="live/unknown pairs to time")
    parser.add_argument("--worker", action="store_true", help="run a Celery worker too")
    args = parser.parse_args()
    args.rounds = max(10, min(args.rounds, 2000))
    url = recreate_database(POSTGRES, DATABASE)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stack = Stack(tmp=Path(tmp), database_url=url)
            seed(url, TEST_PEPPER)
            live = [new_client(url, TEST_PEPPER, f"c{i}", environment="dev")[1] for i in range(10)]
            stack.env["KEYWARD_PUBLIC_REVOKE_PER_HOUR"] = str(10 * args.rounds)
            try:
                stack.redis.start()
                stack.web.start()
                wait_until(lambda: healthy(stack.base_url), timeout=30, what="gunicorn")
                if args.worker:
                    stack.start_worker()
                run(stack.base_url, live, args)
            finally:
                stack.worker.stop()
                stack.web.stop()
                stack.redis.stop()
                stack.keys.stop()
    finally:
        drop_database(POSTGRES, DATABASE)


def run(base: str, live: list[str], args) -> None:
    times: dict[str, list[float]] = {"live": [], "unknown": []}
    with requests.Session() as http:
        for _ in range(20):  # warm up connections and both workers
            post(http, base, tokens.generate("kw", "dev"))
        for index in range(args.rounds):
            pair = [("live", live[index % len(live)]), ("unknown", tokens.generate("kw", "dev"))]
            random.shuffle(pair)  # interleaved, in random order, so drift hits both alike
            for kind, token in pair:
                times[kind].append(post(http, base, token))
    print(f"{args.rounds} rounds; worker {'on' if args.worker else 'off'}; 2 cores shared")
    for kind, seconds in times.items():
        deciles = statistics.quantiles(seconds, n=10)
        print(
            f"{kind:<8} median {statistics.median(seconds) * 1000:7.2f} ms   "
            f"p90 {deciles[8] * 1000:7.2f} ms"
        )
    gap = statistics.median(times["live"]) - statistics.median(times["unknown"])
    print(f"median live - median unknown: {gap * 1000:+.2f} ms")


def post(http: requests.Session, base: str, token: str) -> float:
    started = time.perf_counter()
    response = http.post(f"{base}/v1/credentials/revoke", json={"credentials": [token]}, timeout=30)
    elapsed = time.perf_counter() - started
    if response.status_code != 202:
        raise SystemExit(f"unexpected answer {response.status_code}: {response.text[:200]}")
    return elapsed


if __name__ == "__main__":
    main()
