"""Load `POST /v1/verify` under gunicorn and compare it with a trivial endpoint of the same app.

    python bench/verify_load.py [--seconds 10] [--connections 32] [--workers 2]

Production mode: PostgreSQL (a fresh database ``keyward_bench_load``), a
redis-server of its own, gunicorn (gthread; 2 workers x 1 thread by default).  The load
generator is wrk (Debian package ``wrk``); the machine has 2 cores, so wrk and
gunicorn share them — read the figures as a lower bound.  Prints requests per
second and p50/p99 latency for:

* ``GET /livez``                 — no database, no Redis (the floor of the stack)
* ``POST /v1/verify``            — a key without limits: one query + usage buffered in Redis
* ``POST /v1/verify`` (limited)  — the same plus the rate-limit script in Redis
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.stack import (
    BIN,
    GATEWAY_HEADERS,
    RedisProcess,
    Service,
    healthy,
    new_client,
    seed,
    service_env,
    wait_until,
)
from tests.mailbox import free_port

PEPPER = "bench-pepper-0123456789abcdefghijklmnopqrstuvwxyz"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    from bench.decision import drop_database, recreate_database

    url = recreate_database(POSTGRES, "keyward_bench_load")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            run(Path(tmp), url, args)
        finally:
            drop_database(POSTGRES, "keyward_bench_load")


def run(tmp: Path, database_url: str, args) -> None:
    from keystore.db import make_engine
    from keystore.migrate import upgrade

    upgrade(make_engine(database_url))
    seed(database_url, PEPPER)
    _, free_token = new_client(database_url, PEPPER, "bench-free", environment="prod")
    _, limited_token = new_client(
        database_url,
        PEPPER,
        "bench-limited",
        environment="prod",
        limits={"rate_limit": 1_000_000_000, "rate_window_seconds": 60},
    )
    redis = RedisProcess(free_port(), tmp)
    redis.start()
    port = free_port()
    env = service_env(
        {
            "KEYWARD_DATABASE_URL": database_url,
            "KEYWARD_REDIS_URL": redis.url,
            "KEYWARD_PEPPER": PEPPER,
            "KEYWARD_GATEWAY_TOKEN": GATEWAY_HEADERS["X-Keyward-Gateway-Token"],
            "KEYWARD_BIND": f"127.0.0.1:{port}",
            "KEYWARD_WORKERS": str(args.workers),
            "KEYWARD_THREADS": str(args.threads),
            "KEYWARD_LOG_LEVEL": "WARNING",
        }
    )
    web = Service(
        "gunicorn",
        [str(BIN / "gunicorn"), "-c", "python:web.gunicorn_conf", "web:create_app()"],
        env,
        tmp,
    )
    web.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: healthy(base), timeout=30, what="gunicorn")
        print(
            f"gunicorn: {args.workers} workers x {args.threads} threads; wrk: 2 threads, "
            f"{args.connections} connections, {args.seconds} s each; 2 cores shared"
        )
        report("GET  /livez", wrk(base + "/livez", None, tmp, args))
        report("POST /v1/verify", wrk(base + "/v1/verify", free_token, tmp, args))
        report("POST /v1/verify (limited)", wrk(base + "/v1/verify", limited_token, tmp, args))
    finally:
        web.stop()
        redis.stop()


def wrk(url: str, token: str | None, tmp: Path, args) -> dict:
    """Warm up for 2 s (connections, prepared statements), then measure."""
    threads = min(2, args.connections)
    base = ["wrk", f"-t{threads}", f"-c{args.connections}", "--latency"]
    if token is not None:
        body = json.dumps({"token": token, "endpoint": "orders.list", "address": "10.0.0.1"})
        script = tmp / "post.lua"
        script.write_text(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            + "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in GATEWAY_HEADERS.items())
        )
        base += ["-s", str(script)]
    subprocess.run([*base, "-d2s", url], capture_output=True, check=True)
    measured = [*base, f"-d{args.seconds}s", url]
    return parse(subprocess.run(measured, capture_output=True, text=True, check=True).stdout)


def parse(output: str) -> dict:
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, flags=re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": latency.get("50"),
        "p99": latency.get("99"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def report(label: str, figures: dict) -> None:
    print(
        f"{label:<28} {figures['rps']:>9,.0f} req/s   p50 {figures['p50']:>8}   "
        f"p99 {figures['p99']:>8}   non-2xx {figures['errors']}"
    )


if __name__ == "__main__":
    main()
