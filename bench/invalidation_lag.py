"""How long a change takes to reach every worker: change through the API or CLI, poll /v1/verify.

Run by ``bench/verify_load.py`` against a 3-worker gunicorn.  Per trial: a fresh key
is checked on 12 keep-alive connections (so every worker has it cached, 3 calls each),
then revoked through the admin API (or ``keyward key revoke``); from the moment the
change is acknowledged (API answer, CLI exit) each connection polls until refused.
The lag of a trial is its slowest connection's; a connection that is allowed again
after a refusal would be reported as a violation.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

CONNECTIONS = 12


def measure(
    base_port: int, env: dict, admin_token: str, new_key, gateway_headers: dict, trials: int
):
    lags = {"api": [], "cli": []}
    violations = 0
    for trial in range(trials):
        surface = "cli" if trial % 4 == 3 else "api"
        key_id, token = new_key(f"lag-{surface}-{trial}")
        lag, bad = _trial(base_port, env, admin_token, key_id, token, gateway_headers, surface)
        lags[surface].append(lag)
        violations += bad
    return lags, violations


def _trial(port, env, admin_token, key_id, token, gateway_headers, surface):
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=5) for _ in range(12)]
    body = json.dumps({"token": token, "endpoint": "orders.list", "address": "10.0.0.1"})
    headers = {"Content-Type": "application/json", **gateway_headers}

    def ask(connection) -> bool:
        try:
            connection.request("POST", "/v1/verify", body=body, headers=headers)
            answer = connection.getresponse().read()
        except (http.client.HTTPException, ConnectionError):
            # gunicorn closed an idle keep-alive connection (its 2 s limit): open a new one.
            connection.close()
            connection.request("POST", "/v1/verify", body=body, headers=headers)
            answer = connection.getresponse().read()
        return json.loads(answer)["allowed"]

    for connection in connections:
        for _ in range(3):
            if not ask(connection):
                raise SystemExit("a fresh key was refused")
    changed_at = _change(port, env, admin_token, key_id, surface)
    lags, violations = [], [0]

    def poll(connection):
        while True:
            sent = time.perf_counter()
            if not ask(connection):
                break
        # When the refused answer came, and when the request that got it was sent: the
        # difference is one request's time in this (loaded) server.
        lags.append((time.perf_counter() - changed_at, sent - changed_at))
        violations[0] += sum(ask(connection) for _ in range(3))

    threads = [threading.Thread(target=poll, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for connection in connections:
        connection.close()
    return max(lags), violations[0]  # the slowest connection's (answered, sent)


def _change(port: int, env: dict, admin_token: str, key_id: int, surface: str) -> float:
    if surface == "cli":
        command = [str(Path(sys.executable).with_name("keyward")), "key", "revoke", str(key_id)]
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=60)
        return time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request(
        "POST", f"/api/v1/keys/{key_id}/revoke", headers={"Authorization": f"Bearer {admin_token}"}
    )
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"revoke answered {response.status}")
    acknowledged = time.perf_counter()
    connection.close()
    return acknowledged


def report(lags: dict, violations: int) -> None:
    every = lags["api"] + lags["cli"]
    answered, sent = sorted(a for a, _ in every), sorted(s for _, s in every)
    print(
        f"invalidation lag (3 workers, {CONNECTIONS} connections, "
        f"slowest per trial, n={len(every)}):"
    )
    for label, figures in (("refused answer received", answered), ("refused request sent", sent)):
        p99 = figures[max(0, int(len(figures) * 0.99) - 1)]
        print(
            f"  {label:<24} p50 {statistics.median(figures) * 1e3:6.1f} ms  "
            f"p99 {p99 * 1e3:6.1f} ms  max {figures[-1] * 1e3:6.1f} ms"
        )
    for surface, figures in lags.items():
        if figures:
            median = statistics.median(a for a, _ in figures) * 1e3
            print(f"  via {surface}: n={len(figures)}  answered median {median:.1f} ms")
    print(f"  allowed again after a refusal: {violations}")
