"""The integration stack, started once per test module (see ``stack.py``)."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import TEST_PEPPER, service_missing
from tests.databases import recreate_database
from tests.integration.stack import (
    BIN,
    KeyServer,
    RedisProcess,
    Service,
    healthy,
    seed,
    service_env,
    wait_until,
)
from tests.mailbox import Mailbox, free_port
from tests.partner import Signer, key_document


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
        self.worker = Service("worker", self._worker_argv(), self.env, tmp)

    def _settings(self) -> dict:
        metrics = self.tmp / "metrics"
        metrics.mkdir(exist_ok=True)
        return {
            "KEYWARD_DATABASE_URL": self.database_url,
            "KEYWARD_REDIS_URL": self.redis.url,
            "KEYWARD_PEPPER": TEST_PEPPER,
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
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        }

    def _worker_argv(self) -> list[str]:
        return [
            str(BIN / "celery"),
            "-A",
            "rotation.worker",
            "worker",
            "--beat",
            "--schedule",
            str(self.tmp / "beat-schedule"),
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "--hostname",
            f"it-{self.port}@%h",
        ]

    def start(self) -> None:
        self.smtp.start()
        self.redis.start()
        self.web.start()
        wait_until(lambda: healthy(self.base_url), timeout=30, what="gunicorn /healthz")
        self.start_worker()

    def start_worker(self) -> None:
        offset = len(self.worker.output()) if self.worker.log.exists() else 0
        self.worker.start()
        wait_until(
            lambda: " ready." in self.worker.output()[offset:],
            timeout=60,
            what="the Celery worker to be ready",
        )

    def stop(self) -> None:
        for part in (self.worker, self.web):
            part.stop()
        self.redis.stop()
        self.smtp.stop()
        self.keys.stop()


@pytest.fixture(scope="module")
def stack(postgres_url, tmp_path_factory, request):
    if not (BIN / "celery").exists() or not (BIN / "gunicorn").exists():
        service_missing("celery/gunicorn executables", FileNotFoundError(str(BIN)))
    database_url = recreate_database(
        postgres_url, f"keyward_it_{request.module.__name__[-20:]}".replace(".", "_").lower()
    )
    running = Stack(tmp=tmp_path_factory.mktemp("stack"), database_url=database_url)
    running.admin_token = seed(database_url, TEST_PEPPER)
    try:
        running.start()
    except Exception:
        running.stop()
        raise
    yield running
    running.stop()
    for service in (running.web, running.worker):
        if "Traceback" in service.output():
            print(f"--- {service.name} log ---\n{service.output()[-5000:]}")


@pytest.fixture(autouse=True)
def clean_mailbox(stack):
    stack.mailbox.messages.clear()
    stack.mailbox.refuse, stack.mailbox.rcpt_delay = False, 0.0
