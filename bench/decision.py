"""Time the access decision on PostgreSQL filled with 100,000 keys.

    python bench/decision.py [--keys 100000] [--url postgresql+psycopg://postgres@127.0.0.1/test]

It creates (and at the end drops) a database ``keyward_bench`` next to the one
in ``--url``, fills it through the real schema (Alembic), then reports the
median and p99 time of one ``decide()`` call:

* cold: the first decision for each of 2,000 distinct keys, on a brand-new
  engine (new connections, nothing prepared, rows not recently read);
* warm, database: 20,000 decisions over 200 keys already checked, cache off
  (``KEYWARD_DECISION_CACHE=off``: one query per decision);
* warm, cached: the same through the decision cache (its listener connected),
  interleaved with the database rounds (A B A B ...), 2,000 decisions per round.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from keystore import tokens
from keystore.cache_freshness import make_decision_cache
from keystore.config import Settings
from keystore.db import make_engine
from keystore.decision import Request, decide
from keystore.models import ApiKey, Client, Endpoint, KeyToken, Project, Role
from keystore.models.base import utcnow
from keystore.models.catalogue import role_endpoints
from keystore.models.clients import client_environments, client_projects

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.databases import drop_database, recreate_database

PEPPER = "bench-pepper-0123456789abcdefghijklmnopqrstuvwxyz"
KEYS_PER_CLIENT = 10
ENDPOINTS = 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    url = recreate_database(args.url, "keyward_bench")
    settings = Settings.from_env({}, database_url=url, pepper=PEPPER)
    try:
        started = time.perf_counter()
        sample = fill(settings, args.keys)
        print(f"filled {args.keys:,} keys in {time.perf_counter() - started:.1f} s")
        measure(settings, sample)
    finally:
        drop_database(args.url, "keyward_bench")


def fill(settings: Settings, key_count: int) -> list[str]:
    """Insert clients and keys in bulk; return every 50th token for sampling."""
    engine = make_engine(settings.database_url)
    clients = key_count // KEYS_PER_CLIENT
    sample: list[str] = []
    with Session(engine) as session, session.begin():
        insert_catalogue(session)
        insert_clients(session, clients)
        for start in range(0, clients, 1000):
            rows = range(start + 1, min(start + 1000, clients) + 1)
            sample += insert_keys(session, settings, rows)
    engine.dispose()
    return sample


def insert_catalogue(session: Session) -> None:
    session.execute(
        insert(Endpoint),
        [
            {
                "name": f"api.ep{i}",
                "section": "API",
                "description": "",
                "dev_only": False,
                "builtin": False,
            }
            for i in range(1, ENDPOINTS + 1)
        ],
    )
    session.execute(insert(Project), [{"name": "shop", "description": "", "created_at": utcnow()}])
    session.execute(
        insert(Role),
        [{"name": "reader", "description": "", "created_at": utcnow(), "updated_at": utcnow()}],
    )
    session.execute(
        insert(role_endpoints),
        [{"role_id": 1, "endpoint_id": i} for i in range(1, ENDPOINTS + 1, 2)],
    )


def insert_clients(session: Session, count: int) -> None:
    now = utcnow()
    session.execute(
        insert(Client),
        [
            {
                "id": i,
                "name": f"client-{i}",
                "description": "",
                "contact_email": "",
                "role_id": 1,
                "enabled": True,
                "jwt_version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(1, count + 1)
        ],
    )
    session.execute(
        insert(client_environments),
        [{"client_id": i, "environment_id": 3} for i in range(1, count + 1)],
    )
    session.execute(
        insert(client_projects), [{"client_id": i, "project_id": 1} for i in range(1, count + 1)]
    )


def insert_keys(session: Session, settings: Settings, client_ids) -> list[str]:
    now, keys, rows, sample = utcnow(), [], [], []
    for client_id in client_ids:
        for n in range(KEYS_PER_CLIENT):
            key_id = (client_id - 1) * KEYS_PER_CLIENT + n + 1
            token = tokens.generate("kw", "prod")
            keys.append(
                {
                    "id": key_id,
                    "client_id": client_id,
                    "name": f"k{n}",
                    "environment_id": 3,
                    "allowed_ips": ["10.0.0.0/8"],
                    "blocked_ips": [],
                    "state": "active",
                    "hint": tokens.hint_of(token),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            rows.append(
                {
                    "key_id": key_id,
                    "digest": tokens.digest(token, settings.pepper_bytes),
                    "digest_version": 1,
                    "hint": tokens.hint_of(token),
                    "created_at": now,
                }
            )
            if key_id % 50 == 0:
                sample.append(token)
    session.execute(insert(ApiKey), keys)
    session.execute(insert(KeyToken), rows)
    return sample


def timed_decisions(
    session: Session, settings: Settings, credentials: list[str], cache=None
) -> list[float]:
    request = Request(endpoint="api.ep1", environment="prod", project="shop", address="10.2.3.4")
    times = []
    for credential in credentials:
        started = time.perf_counter()
        decision = decide(session, settings, credential=credential, request=request, cache=cache)
        times.append(time.perf_counter() - started)
        if not decision.allowed:
            raise SystemExit(f"unexpected decision {decision.reason}")
    return times


def report(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    print(
        f"{label:<15} n={len(times):>6}  median {statistics.median(ordered) * 1e6:7.1f} µs  "
        f"p99 {p99 * 1e6:7.1f} µs"
    )


def measure(settings: Settings, sample: list[str]) -> None:
    random.seed(7)
    cold_set = random.sample(sample, min(2000, len(sample)))
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        report("cold", timed_decisions(session, settings, cold_set))
        hot = cold_set[:200]
        cache = make_decision_cache(settings)
        while cache.freshness.generation(session) is None:  # the listener connects
            time.sleep(0.01)
        timed_decisions(session, settings, hot)
        timed_decisions(session, settings, hot, cache)
        database, cached = [], []
        for _ in range(10):
            database += timed_decisions(session, settings, hot * 10)
            cached += timed_decisions(session, settings, hot * 10, cache)
        report("warm, database", database)
        report("warm, cached", cached)
        malformed = [t[:-1] + ("0" if t[-1] != "0" else "1") for t in hot]
        request = Request(endpoint="api.ep1")
        started = time.perf_counter()
        for credential in malformed * 10:
            decide(session, settings, credential=credential, request=request)
        per_call = (time.perf_counter() - started) / (len(malformed) * 10)
        print(f"malformed (no database read): mean {per_call * 1e6:.1f} µs")
    engine.dispose()


if __name__ == "__main__":
    main()
