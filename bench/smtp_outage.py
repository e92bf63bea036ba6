"""Leaked keys through an SMTP outage: how many tasks ran, and was every email sent once?

    python bench/smtp_outage.py [--incidents 20] [--outage 600] [--visibility 120]

The integration stack (tests/integration/stack.py) with production-like task timing:
the SMTP server refuses every message for ``--outage`` seconds while ``--incidents``
leaked dev keys are reported, then accepts again.  Prints the task receipts per task
name (from the worker's log), the SMTP attempts per notification, the executions of
``notify_incident`` against the attempts they made (an execution that tried nothing
is a duplicate), and checks that every recipient got exactly one email per incident.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from email.header import decode_header, make_header
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore.db import make_engine
from keystore.models import Incident, Notification
from tests.conftest import TEST_PEPPER
from tests.databases import recreate_database
from tests.integration.stack import Stack, new_client, seed, wait_until
from tests.partner import alert

POSTGRES = os.environ.get(
    "KEYWARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DATABASE = "keyward_bench_outage"
RECEIVED = re.compile(r"Task (keyward\.\w+)\[[0-9a-f-]+\] received")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=20)
    parser.add_argument("--outage", type=float, default=600, help="seconds SMTP refuses")
    parser.add_argument("--visibility", type=int, default=120, help="broker visibility timeout")
    parser.add_argument("--max-retries", type=int, default=10)
    parser.add_argument("--sweep-interval", type=int, default=10)
    parser.add_argument("--postgres", default=POSTGRES)
    args = parser.parse_args()
    url = recreate_database(args.postgres, DATABASE)
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(tmp=Path(tmp), database_url=url)
        stack.env.update(
            {
                "KEYWARD_TASK_VISIBILITY_SECONDS": str(args.visibility),
                "KEYWARD_TASK_MAX_RETRIES": str(args.max_retries),
                "KEYWARD_SWEEP_INTERVAL_SECONDS": str(args.sweep_interval),
                "KEYWARD_SWEEP_AFTER_SECONDS": "60",
                "KEYWARD_MAIL_LEASE_SECONDS": "60",
            }
        )
        stack.admin_token = seed(url, TEST_PEPPER)
        try:
            stack.start()
            run(stack, args)
        finally:
            stack.stop()


def run(stack: Stack, args) -> None:
    from tests.integration.test_leak_pipeline import post_github

    names = [f"bench{i:02d}" for i in range(args.incidents)]
    tokens = [new_client(stack.database_url, TEST_PEPPER, name)[1] for name in names]
    stack.mailbox.refuse = True
    for token in tokens:
        assert post_github(stack, alert(token)).status_code == 200
    print(f"{args.incidents} incidents reported; SMTP refuses for {args.outage:.0f} s")
    deadline = time.monotonic() + args.outage
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 60))
        print(f"  outage: {max(0.0, deadline - time.monotonic()):.0f} s left", flush=True)
    stack.mailbox.refuse = False
    recovered = time.monotonic()
    wait_until(
        lambda: all_notified(stack.database_url),
        timeout=args.visibility * 2 + 300,
        what="every incident to be notified",
        interval=1.0,
    )
    print(f"all notified {time.monotonic() - recovered:.0f} s after SMTP came back")
    report(stack, names)


def all_notified(database_url: str) -> bool:
    return set(rows(database_url, select(Incident.state))) == {("notified",)}


def rows(database_url: str, statement) -> list:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.execute(statement).all())
    finally:
        engine.dispose()


def report(stack: Stack, names: list[str]) -> None:
    receipts = Counter(RECEIVED.findall(stack.worker.output()))
    print("task receipts:", dict(sorted(receipts.items())))
    attempts = rows(
        stack.database_url,
        select(Notification.incident_id, Notification.attempts, Notification.state),
    )
    per_note = [n for _, n, _ in attempts]
    per_incident: dict[int, int] = {}
    for incident_id, n, _ in attempts:
        per_incident[incident_id] = max(per_incident.get(incident_id, 0), n)
    print(
        f"SMTP attempts per notification: min {min(per_note)}, "
        f"median {statistics.median(per_note):.0f}, max {max(per_note)} "
        f"({len(per_note)} notifications, states {dict(Counter(s for *_, s in attempts))})"
    )
    tried = sum(per_incident.values())
    executions = receipts["keyward.notify_incident"]
    print(
        f"notify_incident executions {executions} for {tried} attempts "
        f"(retries + 1, summed over incidents): {executions - tried} without an attempt"
    )
    check_once(stack, names)


def check_once(stack: Stack, names: list[str]) -> None:
    sent = Counter(
        (m["To"], str(make_header(decode_header(m["Subject"])))) for m in stack.mailbox.messages
    )
    wrong = []
    for name in names:
        mine = sorted(n for (_, subject), n in sent.items() if subject.endswith(f" of {name}"))
        if mine != [1, 1, 1]:
            wrong.append((name, mine))
    total = sum(sent.values())
    print(f"emails: {total}; every recipient exactly once: {wrong or 'yes'}")


if __name__ == "__main__":
    main()
