"""The integration stack, started once per test module (see ``stack.py``)."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PEPPER, service_missing
from tests.databases import recreate_database
from tests.integration.stack import BIN, Stack, seed


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
    for service in (running.web, running.worker, running.scan_worker):
        if "Traceback" in service.output():
            print(f"--- {service.name} log ---\n{service.output()[-5000:]}")


@pytest.fixture(autouse=True)
def clean_mailbox(stack):
    stack.mailbox.messages.clear()
    stack.mailbox.refuse, stack.mailbox.rcpt_delay = False, 0.0
