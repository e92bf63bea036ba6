"""Load the gateway endpoints under gunicorn against two floors, and time invalidation.

    python bench/verify_load.py [--seconds 5] [--rounds 3] [--connections 8] [--workers 1]
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--lag-trials 24]

Production mode: PostgreSQL (a fresh database next to ``--url``), a redis-server of
its own, gunicorn (gthread, ``--workers`` x 1 thread) started with Keyward's own
settings file.  The load generator is wrk (Debian package ``wrk``).  Targets, run
in turn and interleaved over ``--rounds`` rounds (A B C D E A B C D E ...):

* ``floor``        a one-route Flask app (bench/floor_app.py) under the same gunicorn settings
* ``/livez``       Keyward's trivial endpoint: no database, no Redis
* ``verify``       ``POST /v1/verify``, a key without limits
* ``verify lim``   the same with a rate limit and a quota (one Redis script per request)
* ``auth``         ``GET /v1/auth`` with ``X-Original-URI`` (the catalogue's path patterns)

For each: CPU per request (the gunicorn workers' utime+stime over the run divided by
the requests served; on this shared machine it swings far less than req/s), req/s
and p99 latency, as medians over the rounds, and the ratios of CPU per request to
``/livez``'s.  Then a 3-worker gunicorn for the invalidation lag
(:mod:`bench.invalidation_lag`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import invalidation_lag
from tests.databases import drop_database, recreate_database
from tests.integration.stack import (
    BIN,
    GATEWAY_HEADERS,
    RedisProcess,
    Service,
    new_client,
    seed,
    service_env,
    wait_until,
)
from tests.mailbox import free_port

PEPPER = "bench-pepper-0123456789abcdefghijklmnopqrstuvwxyz"
TICKS = os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--lag-trials", type=int, default=24)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    url = recreate_database(args.url, "keyward_bench_load")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            run(Path(tmp), url, args)
        finally:
            drop_database(args.url, "keyward_bench_load")


def run(tmp: Path, database_url: str, args) -> None:
    admin_token = seed(database_url, PEPPER)
    _, free = new_client(database_url, PEPPER, "bench-free", environment="prod")
    limits = {"rate_limit": 1_000_000_000, "rate_window_seconds": 60, "quota_daily": 10**9}
    _, limited = new_client(
        database_url, PEPPER, "bench-limited", environment="prod", limits=limits
    )
    redis = RedisProcess(free_port(), tmp)
    redis.start()
    settings = {
        "KEYWARD_DATABASE_URL": database_url,
        "KEYWARD_REDIS_URL": redis.url,
        "KEYWARD_PEPPER": PEPPER,
        "KEYWARD_GATEWAY_TOKEN": GATEWAY_HEADERS["X-Keyward-Gateway-Token"],
        "KEYWARD_LOG_LEVEL": "WARNING",
        "KEYWARD_THREADS": "1",
    }
    servers = []
    try:
        floor = _gunicorn(servers, tmp, "floor", "bench.floor_app:app", settings, args.workers)
        keyward = _gunicorn(servers, tmp, "keyward", "web:create_app()", settings, args.workers)
        print(
            f"gunicorn: {args.workers} worker(s) x 1 thread; wrk: {args.connections} connections, "
            f"{args.seconds} s per run, {args.rounds} interleaved rounds; 2 cores shared"
        )
        targets = {
            "floor": (floor, "/", None),
            "/livez": (keyward, "/livez", None),
            "verify": (keyward, "/v1/verify", _verify_script(tmp, free, "free")),
            "verify lim": (keyward, "/v1/verify", _verify_script(tmp, limited, "limited")),
            "auth": (keyward, "/v1/auth", _auth_script(tmp, free)),
        }
        figures = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (server, path, script) in targets.items():
                figures[name].append(_load(server, path, script, args))
        if args.rounds:  # --rounds 0: the invalidation lag only
            _report(figures)
        lag_env = service_env({**settings, "KEYWARD_WORKERS": "3"})
        three = _gunicorn(servers, tmp, "keyward3", "web:create_app()", settings, 3)
        lags, violations = invalidation_lag.measure(
            base_port=three.port,
            env=lag_env,
            admin_token=admin_token,
            new_key=lambda name: new_client(database_url, PEPPER, name, environment="prod"),
            gateway_headers=GATEWAY_HEADERS,
            trials=args.lag_trials,
        )
        invalidation_lag.report(lags, violations)
    finally:
        for server in servers:
            server.stop()
        redis.stop()


def _gunicorn(servers: list, tmp: Path, name: str, app: str, settings: dict, workers: int):
    port = free_port()
    env = service_env(
        {**settings, "KEYWARD_BIND": f"127.0.0.1:{port}", "KEYWARD_WORKERS": str(workers)}
    )
    server = Service(name, [str(BIN / "gunicorn"), "-c", "python:web.gunicorn_conf", app], env, tmp)
    server.start()
    server.port = port
    servers.append(server)
    probe = "/healthz" if app.startswith("web:") else "/"
    wait_until(lambda: _get_ok(f"http://127.0.0.1:{port}{probe}"), timeout=30, what=name)
    return server


def _get_ok(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _verify_script(tmp: Path, token: str, name: str) -> Path:
    body = json.dumps({"token": token, "endpoint": "orders.list", "address": "10.0.0.1"})
    headers = {"Content-Type": "application/json", **GATEWAY_HEADERS}
    return _script(tmp / f"{name}.lua", "POST", body, headers)


def _auth_script(tmp: Path, token: str) -> Path:
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Original-URI": "/orders?page=2",
        "X-Original-Method": "GET",
        **GATEWAY_HEADERS,
    }
    return _script(tmp / "auth.lua", "GET", None, headers)


def _script(path: Path, method: str, body: str | None, headers: dict) -> Path:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _load(server, path: str, script: Path | None, args) -> dict:
    """Warm up for 1 s, then one measured wrk run; the workers' CPU over the run."""
    url = f"http://127.0.0.1:{server.port}{path}"
    command = ["wrk", "-t2", f"-c{args.connections}", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    subprocess.run([*command, "-d1s", url], capture_output=True, check=True, timeout=60)
    workers = _workers(server.process.pid)
    before = _cpu_seconds(workers)
    out = subprocess.run(
        [*command, f"-d{args.seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=args.seconds + 60,
    ).stdout
    cpu = _cpu_seconds(workers) - before
    figures = _parse(out)
    if figures["errors"]:
        raise SystemExit(f"{path}: {figures['errors']} non-2xx answers\n{out}")
    figures["cpu_us"] = cpu / figures["requests"] * 1e6
    return figures


def _workers(master: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                children.append(int(entry.name))
    return children


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def _parse(output: str) -> dict:
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, flags=re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p99_ms": _ms(latency["99"]),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def _report(figures: dict) -> None:
    medians = {
        name: {k: statistics.median(run[k] for run in runs) for k in ("cpu_us", "rps", "p99_ms")}
        for name, runs in figures.items()
    }
    livez, floor = medians["/livez"]["cpu_us"], medians["floor"]["cpu_us"]
    print(f"{'':<11} {'CPU/request':>12} {'x /livez':>9} {'x floor':>8} {'req/s':>8} {'p99':>9}")
    for name, m in medians.items():
        print(
            f"{name:<11} {m['cpu_us']:>9.0f} µs {m['cpu_us'] / livez:>8.2f}x "
            f"{m['cpu_us'] / floor:>7.2f}x {m['rps']:>8.0f} {m['p99_ms']:>7.2f} ms"
        )
    per_round = ", ".join(f"{r['cpu_us']:.0f}" for r in figures["verify"])
    print(f"verify CPU/request per round (µs): {per_round}")


if __name__ == "__main__":
    main()
