"""A real deployment on loopback for the integration tests.

PostgreSQL (a fresh database), a redis-server of our own (so a test can take it
down and bring it back), gunicorn with two workers, a Celery worker with beat,
aiosmtpd, and a small HTTP server publishing partner keys in GitHub's format.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis
import requests
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.db import make_engine
from keystore.services import admins, catalogue, clients, keys, roles
from keystore.services.bootstrap import bootstrap_admin
from tests.conftest import TEST_PEPPER
from tests.mailbox import Mailbox, free_port
from tests.partner import Signer, key_document

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ACTOR = "integration"
# Production mode: the gateway endpoints and /metrics want their tokens.
GATEWAY_HEADERS = {"X-Keyward-Gateway-Token": "integration-gateway-token-0123456789"}
METRICS_HEADERS = {"Authorization": "Bearer integration-metrics-token-0123456789"}


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class RedisProcess:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir, self.process = port, workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with redis.Redis(port=self.port) as client:
            wait_until(lambda: _pings(client), timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.RedisError:
        return False


class KeyServer:
    """Publishes ``documents[path]`` as JSON, like GitHub's /meta/public_keys endpoint."""

    def __init__(self) -> None:
        self.documents: dict[str, dict] = {}
        documents = self.documents

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # http.server calls it by this name
                body = json.dumps(documents.get(self.path, {"public_keys": []})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Service:
    """A subprocess in its own process group, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, logdir: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log = logdir / f"{name}.log"
        self.process = None

    def start(self) -> None:
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole group: a crash, not a shutdown."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def service_env(settings: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYWARD_")}
    env.update(settings)
    env["PYTHONPATH"] = str(ROOT)
    return env


def seed(database_url: str, pepper: str) -> str:
    """The operator's catalogue, two admins, and an admin token for the API."""
    settings = Settings.from_env(
        {}, database_url=database_url, pepper=pepper, redis_url="redis://unused"
    )
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        catalogue.declare_endpoint(
            session, actor=ACTOR, name="orders.list", method="GET", path="/orders"
        )
        catalogue.create_project(session, actor=ACTOR, name="shop")
        roles.create_role(session, actor=ACTOR, name="reader", endpoints=["orders.list"])
        admins.create_admin(session, actor=ACTOR, name="Ada", email="ada@example.com")
        admins.create_admin(session, actor=ACTOR, name="Bob", email="bob@example.com")
        _, token = bootstrap_admin(
            session, settings, actor=ACTOR, client_name="root", environment="prod"
        )
    engine.dispose()
    return token


def new_client(
    database_url: str,
    pepper: str,
    name: str,
    *,
    environment: str = "dev",
    limits: dict | None = None,
) -> tuple[int, str]:
    """A client with one key; returns (key id, token)."""
    settings = Settings.from_env(
        {}, database_url=database_url, pepper=pepper, redis_url="redis://unused"
    )
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        clients.create_client(
            session,
            actor=ACTOR,
            name=name,
            role="reader",
            environments=["dev", "prod"],
            projects=["shop"],
            contact_email=f"{name}@client.example",
        )
        key, token = keys.issue_key(
            session,
            settings,
            actor=ACTOR,
            client_ref=name,
            name="main",
            environment=environment,
            limits=limits,
        )
        key_id = key.id
    engine.dispose()
    return key_id, token


def healthy(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


class Stack:
    def __init__(self, *, tmp, database_url: str) -> None:
        self.tmp, self.database_url = tmp, database_url
        self.mailbox = Mailbox()
        self.smtp = Controller(self.mailbox, hostname="127.0.0.1", port=free_port())
        self.keys = KeyServer()
        self.github, self.gitlab = Signer("github-key-1"), Signer("gitlab-key-1")
        self.keys.documents["/github"] = key_document(self.github)
        self.keys.documents["/gitlab"] = key_document(self.gitlab)
        self.redis = RedisProcess(free_port(), tmp)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = service_env(self._settings())
        self.web = Service(
            "gunicorn",
            [str(BIN / "gunicorn"), "-c", "python:web.gunicorn_conf", "web:create_app()"],
            self.env,
            tmp,
        )
        # As in production: one worker for the leak response (and beat), one for scans.
        self.worker = Service("worker", self._worker_argv("leaks", beat=True), self.env, tmp)
        self.scan_worker = Service("scan-worker", self._worker_argv("scans"), self.env, tmp)

    def _settings(self) -> dict:
        metrics = self.tmp / "metrics"
        metrics.mkdir(exist_ok=True)
        return {
            "KEYWARD_DATABASE_URL": self.database_url,
            "KEYWARD_REDIS_URL": self.redis.url,
            "KEYWARD_PEPPER": TEST_PEPPER,
            "KEYWARD_GATEWAY_TOKEN": GATEWAY_HEADERS["X-Keyward-Gateway-Token"],
            "KEYWARD_METRICS_TOKEN": METRICS_HEADERS["Authorization"].removeprefix("Bearer "),
            "KEYWARD_BIND": f"127.0.0.1:{self.port}",
            "KEYWARD_WORKERS": "2",
            "KEYWARD_SMTP_HOST": "127.0.0.1",
            "KEYWARD_SMTP_PORT": str(self.smtp.port),
            "KEYWARD_SMTP_TLS": "none",
            "KEYWARD_GITHUB_KEYS_URL": self.keys.url("/github"),
            "KEYWARD_GITLAB_KEYS_URL": self.keys.url("/gitlab"),
            "KEYWARD_PARTNER_REFETCH_SECONDS": "1",
            "KEYWARD_SWEEP_INTERVAL_SECONDS": "2",
            "KEYWARD_SWEEP_AFTER_SECONDS": "3",
            "KEYWARD_TASK_VISIBILITY_SECONDS": "5",
            "KEYWARD_MAIL_LEASE_SECONDS": "4",
            "KEYWARD_SMTP_TIMEOUT_SECONDS": "30",
            "KEYWARD_LOG_FORMAT": "text",
            # Test-only: webhook receivers are local HTTP servers here.
            "KEYWARD_NOTIFY_WEBHOOK_ALLOW_LOOPBACK": "true",
            "KEYWARD_SCAN_SCHEDULE_SECONDS": "1",
            "KEYWARD_SCAN_CACHE": str(self.tmp / "scan-cache"),
            "KEYWARD_SCAN_TIMEOUT_SECONDS": "20",
            # Test-only: the repositories the tests watch are on this machine.
            "KEYWARD_REPO_ALLOW_LOCAL": "true",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        }

    def _worker_argv(self, queue: str, *, beat: bool = False) -> list[str]:
        argv = [str(BIN / "celery"), "-A", "rotation.worker", "worker", "--queues", queue]
        if beat:
            argv += ["--beat", "--schedule", str(self.tmp / "beat-schedule")]
        return [
            *argv,
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "--hostname",
            f"it-{queue}-{self.port}@%h",
        ]

    def start(self) -> None:
        self.smtp.start()
        self.redis.start()
        self.web.start()
        wait_until(lambda: healthy(self.base_url), timeout=30, what="gunicorn /healthz")
        self.start_worker()
        self.start_worker(self.scan_worker)

    def start_worker(self, worker: Service | None = None) -> None:
        worker = worker or self.worker
        offset = len(worker.output()) if worker.log.exists() else 0
        worker.start()
        wait_until(
            lambda: " ready." in worker.output()[offset:],
            timeout=60,
            what=f"the Celery {worker.name} to be ready",
        )

    def stop(self) -> None:
        for part in (self.scan_worker, self.worker, self.web):
            part.stop()
        self.redis.stop()
        self.smtp.stop()
        self.keys.stop()
