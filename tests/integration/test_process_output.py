"""What the processes really print: gunicorn, a Celery worker running a task, beat, and
``keyward serve``'s metrics across its workers.

Every line of output must be one JSON object with ``ts`` (UTC, ms), ``level`` and ``logger``.
"""

from __future__ import annotations

import json
import re
import signal

import pytest
import requests

from keystore.config import Settings
from rotation.celery_app import make_celery
from tests.conftest import TEST_PEPPER
from tests.databases import recreate_database
from tests.integration.stack import (
    BIN,
    GATEWAY_HEADERS,
    RedisProcess,
    Service,
    healthy,
    service_env,
    wait_until,
)
from tests.mailbox import free_port

TS = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
TOKEN = "kw_prod_" + "D" * 36


@pytest.fixture
def clean_mailbox():
    """No mail server here: the integration conftest's autouse fixture, disarmed."""


@pytest.fixture(scope="module")
def services(postgres_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("output")
    database_url = recreate_database(postgres_url, "keyward_it_output")
    redis_server = RedisProcess(free_port(), tmp)
    redis_server.start()
    env = {
        "KEYWARD_DATABASE_URL": database_url,
        "KEYWARD_REDIS_URL": redis_server.url,
        "KEYWARD_PEPPER": TEST_PEPPER,
        "KEYWARD_GATEWAY_TOKEN": GATEWAY_HEADERS["X-Keyward-Gateway-Token"],
        "KEYWARD_METRICS_TOKEN": "integration-metrics-token-0123456789",
        "KEYWARD_LOG_FORMAT": "json",
    }
    yield tmp, env
    redis_server.stop()


def json_records(output: str) -> list[dict]:
    records = []
    for line in output.splitlines():
        if line.strip():
            record = json.loads(line)  # a line that is not JSON fails the test here
            assert TS.match(record["ts"]), line
            assert record["level"], line
            assert record["logger"], line
            records.append(record)
    return records


def stopped(service: Service) -> str:
    service.stop()
    return service.output()


def test_every_gunicorn_line_is_json_access_log_included(services):
    tmp, env = services
    port = free_port()
    (tmp / "metrics-gunicorn").mkdir()
    web = Service(
        "gunicorn",
        [
            str(BIN / "gunicorn"),
            "-c",
            "python:web.gunicorn_conf",
            "--access-logfile",
            "-",
            "web:create_app()",
        ],
        service_env(
            {
                **env,
                "KEYWARD_BIND": f"127.0.0.1:{port}",
                "KEYWARD_WORKERS": "2",
                "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics-gunicorn"),
            }
        ),
        tmp,
    )
    web.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: healthy(base), timeout=30, what="gunicorn")
        requests.get(f"{base}/livez", headers={"X-Request-Id": "out-1"}, timeout=5)
        requests.get(f"{base}/nowhere/{TOKEN}", headers={"X-Request-Id": "out-2"}, timeout=5)
        requests.post(f"{base}/v1/verify", json={"token": TOKEN, "endpoint": "x"}, timeout=5)
    finally:
        output = stopped(web)
    records = json_records(output)
    loggers = {record["logger"] for record in records}
    assert {"gunicorn.error", "gunicorn.access", "keyward.access"} <= loggers
    access = {r.get("request_id"): r for r in records if r["logger"] == "keyward.access"}
    assert access["out-1"]["status"] == 200
    assert access["out-2"]["status"] == 404
    # gunicorn's own access line names the request the app answered.
    assert "out-1" in {r.get("request_id") for r in records if r["logger"] == "gunicorn.access"}
    assert any("Booting worker" in r["message"] for r in records)
    assert "D" * 36 not in output


def test_every_worker_and_beat_line_is_json_and_task_lines_name_the_task(services):
    tmp, env = services
    metrics_port = free_port()
    (tmp / "metrics-worker").mkdir()
    environment = service_env(
        {
            **env,
            "KEYWARD_WORKER_METRICS_PORT": str(metrics_port),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics-worker"),
        }
    )
    worker = Service(
        "worker",
        [
            str(BIN / "celery"),
            "-A",
            "rotation.worker",
            "--quiet",
            "worker",
            "--queues",
            "leaks",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "--hostname",
            f"output-{free_port()}@%h",
        ],
        environment,
        tmp,
    )
    worker.start()
    try:
        wait_until(lambda: " ready." in worker.output(), timeout=60, what="the Celery worker")
        settings = Settings.from_env(
            {}, database_url=env["KEYWARD_DATABASE_URL"], redis_url=env["KEYWARD_REDIS_URL"]
        )
        sent = make_celery(settings).send_task("keyward.sweep_incidents", queue="leaks")
        wait_until(lambda: "succeeded" in worker.output(), timeout=60, what="the task to run")
        # The worker is its own scrape target: its pool's leak-response metrics.
        scraped = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert "keyward_leak_receipt_to_action_seconds_count" in scraped
    finally:
        output = stopped(worker)
    records = json_records(output)
    mine = [r for r in records if r.get("task_id") == sent.id]
    assert any("succeeded" in r["message"] for r in mine), output[-3000:]
    assert {r["task"] for r in mine} == {"keyward.sweep_incidents"}
    # Lines outside the task (start-up, shut-down) carry no task id.
    assert any("ready" in r["message"] and "task_id" not in r for r in records)

    beat = Service(
        "beat",
        [
            str(BIN / "celery"),
            "-A",
            "rotation.worker",
            "--quiet",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(tmp / "beat-schedule"),
        ],
        service_env({**env, "KEYWARD_SWEEP_INTERVAL_SECONDS": "1"}),
        tmp,
    )
    beat.start()
    try:
        wait_until(lambda: "Sending due task" in beat.output(), timeout=60, what="beat")
    finally:
        beat_output = stopped(beat)
    assert any(r["logger"].startswith("celery.beat") for r in json_records(beat_output))


def test_keyward_serve_counts_every_worker_in_every_scrape(services):
    tmp, env = services
    port, temp = free_port(), tmp / "serve-tmp"
    temp.mkdir()
    serve = Service(
        "serve",
        [str(BIN / "keyward"), "serve", "--port", str(port), "--workers", "3"],
        service_env({**env, "TMPDIR": str(temp)}),
        tmp,
    )
    serve.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: healthy(base), timeout=60, what="keyward serve")
        # A new connection per request: the three workers take turns.
        for _ in range(24):
            requests.post(
                f"{base}/v1/verify",
                json={"token": "kw_prod_bad", "endpoint": "x"},
                headers={"Connection": "close", **GATEWAY_HEADERS},
                timeout=5,
            )
        scrapes = {_malformed(base) for _ in range(6)}
        # keyward serve made its own directory (none was configured), under TMPDIR.
        [directory] = temp.glob("keyward-metrics-*")
        assert list(directory.glob("counter_*.db"))
    finally:
        serve.process.send_signal(signal.SIGTERM)
        serve.process.wait(timeout=30)
    # Every scrape, whichever worker answered it, counts all 24 (not one worker's share).
    assert scrapes == {24.0}
    assert not directory.exists()  # a fresh directory per run, removed at the end


def _malformed(base: str) -> float:
    text = requests.get(
        f"{base}/metrics",
        headers={"Authorization": "Bearer integration-metrics-token-0123456789"},
        timeout=5,
    ).text
    line = re.search(
        r'^keyward_decisions_total\{reason="malformed",surface="verify"\} (\S+)$', text, re.M
    )
    return float(line.group(1))
