"""A watched repository, scanned on schedule by the real worker, feeding the leak pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

import requests
from sqlalchemy import update
from sqlalchemy.orm import Session

from keystore.db import make_engine
from keystore.models import WatchedRepository
from tests.conftest import TEST_PEPPER
from tests.gitrepos import Repo, git_identity
from tests.integration.stack import new_client, wait_until
from tests.integration.test_leak_pipeline import RECIPIENTS, mails_about, notified, revocations

__all__ = ["git_identity"]


def admin(stack, method: str, path: str, **kwargs):
    return requests.request(
        method,
        f"{stack.base_url}{path}",
        timeout=10,
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        **kwargs,
    )


def runs(stack, repo_id: int) -> list[dict]:
    return admin(stack, "GET", f"/api/v1/repositories/{repo_id}/runs").json()


def finished_runs(stack, repo_id: int, count: int) -> list[dict] | None:
    done = [run for run in runs(stack, repo_id) if run["status"] != "running"]
    return done if len(done) >= count else None


def make_due(stack, repo_id: int) -> None:
    """What the passing of one interval does: the next scan is due now."""
    engine = make_engine(stack.database_url)
    with Session(engine) as session, session.begin():
        session.execute(
            update(WatchedRepository)
            .where(WatchedRepository.id == repo_id)
            .values(next_scan_at=datetime.now(UTC))
        )
    engine.dispose()


def test_a_new_commit_with_a_live_token_is_found_on_schedule_and_revoked(stack, tmp_path):
    origin = Repo(tmp_path / "origin")
    origin.commit("start", README="hello\n")
    added = admin(
        stack,
        "POST",
        "/api/v1/repositories",
        json={"url": f"file://{origin.path}", "interval_seconds": 3600},
    )
    assert added.status_code == 201
    repo_id = added.json()["id"]
    first = wait_until(
        lambda: finished_runs(stack, repo_id, 1), timeout=60, what="the first scheduled scan"
    )
    assert (first[0]["status"], first[0]["trigger"], first[0]["findings_count"]) == (
        "succeeded",
        "schedule",
        0,
    )
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "oscar")
    origin.commit("configure the client", **{"deploy.env": f"KEYWARD_TOKEN={token}\n"})
    make_due(stack, repo_id)
    second = wait_until(
        lambda: finished_runs(stack, repo_id, 2), timeout=60, what="the second scan"
    )[0]
    assert (second["full_scan"], second["findings_count"], second["ours_count"]) == (False, 1, 1)
    wait_until(lambda: notified(stack, key_id), timeout=60, what="the leak to be handled")
    assert revocations(stack, key_id) == 1
    assert mails_about(stack, "oscar") == sorted([*RECIPIENTS, "oscar@client.example"])
    detail = admin(stack, "GET", f"/api/v1/scan-runs/{second['id']}").json()
    assert detail["findings"][0]["path"] == "deploy.env"
    assert token not in str(detail)
