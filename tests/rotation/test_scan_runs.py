"""A scan run always ends, and the fetch policy holds at fetch time, not only at registration."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from keystore.models import Incident, ScanRun, WatchedRepository
from keystore.services import repositories
from rotation import dispatch, scans
from rotation.context import TaskContext
from rotation.scans import claim_due_scans, run_scan
from tests.fakedns import GITHUB_ADDRESS, dns
from tests.gitrepos import Repo, git_identity
from tests.stalled import StalledServer
from tests.worlds import ACTOR, issue, world

__all__ = ["dns", "git_identity", "issue", "world"]


@pytest.fixture
def stalled():
    server = StalledServer()
    yield server
    server.close()


@pytest.fixture
def ctx(connection, settings, monkeypatch):
    monkeypatch.setattr(dispatch, "run_inline", True)
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    local = dataclasses.replace(settings, repo_allow_local=True, scan_timeout_seconds=2)
    context = TaskContext(settings=local, sessions=sessions, redis=None, usage=None)
    monkeypatch.setattr("rotation.context.current", lambda: context)
    return context


@pytest.fixture
def origin(tmp_path) -> Repo:
    repo = Repo(tmp_path / "origin")
    repo.commit("start", README="hello\n")
    return repo


def add(session, settings, url: str, **options) -> int:
    repo = repositories.add_repository(session, settings, actor=ACTOR, url=url, **options)
    session.flush()
    return repo.id


def run_of(session, run_id: int) -> ScanRun:
    run = session.get(ScanRun, run_id)
    session.refresh(run)
    return run


def test_a_server_that_never_answers_is_cut_off_and_the_run_fails_with_a_reason(
    ctx, session, stalled
):
    repo_id = add(session, ctx.settings, f"http://127.0.0.1:{stalled.port}/stuck.git")
    run = run_of(session, run_scan(ctx, repo_id, trigger="manual"))
    assert run.status == "failed"
    assert run.reason in ("timeout", "transfer_stalled")
    assert run.error == f"could not fetch http://127.0.0.1:{stalled.port}/stuck.git ({run.reason})"
    assert run.finished_at is not None
    assert any(request.startswith(b"GET /stuck.git/") for request in stalled.requests)
    # Tried again on the next schedule: the repository is due after its interval as usual.
    assert repositories.get_repository(session, repo_id).enabled


def test_a_name_that_turns_private_after_registration_is_not_fetched(
    ctx, session, dns, stalled, monkeypatch
):
    settings = dataclasses.replace(ctx.settings, repo_allow_local=False)
    monkeypatch.setattr(ctx, "settings", settings)
    repo_id = add(session, settings, "https://github.com/acme/app.git")
    dns.answers["github.com"] = ["127.0.0.1"]  # DNS rebinding, between two scans
    run = run_of(session, run_scan(ctx, repo_id, trigger="schedule"))
    assert (run.status, run.reason) == ("failed", "address_not_allowed")
    assert run.error.startswith("could not fetch")
    assert stalled.connections == []


def test_a_host_taken_off_the_allow_list_is_no_longer_fetched(ctx, session, dns, monkeypatch):
    repo_id = add(session, ctx.settings, "https://github.com/acme/app.git")
    monkeypatch.setattr(ctx, "settings", dataclasses.replace(ctx.settings, repo_hosts=()))
    run = run_of(session, run_scan(ctx, repo_id, trigger="schedule"))
    assert (run.status, run.reason) == ("failed", "host_not_allowed")


def test_credentials_go_to_the_host_they_were_registered_for_only(ctx, session, dns, monkeypatch):
    monkeypatch.setenv("KEYWARD_REPO_TOKEN_ACME", "s3cret-token-value")
    repo_id = add(
        session,
        ctx.settings,
        "https://github.com/acme/app.git",
        credentials_env="KEYWARD_REPO_TOKEN_ACME",
    )
    repo = repositories.get_repository(session, repo_id)
    assert repo.credentials_host == "github.com"
    job = scans._Job(
        run_id=0,
        repo_id=repo_id,
        url=repo.url,
        branches=[],
        state_json=None,
        credentials_env=repo.credentials_env,
        credentials_host=repo.credentials_host,
    )
    options = scans.fetch_options(ctx, job)
    assert options.token_origin == "https://github.com:443/"
    assert options.pin == ("github.com", 443, GITHUB_ADDRESS)
    assert "s3cret" not in repr(options)
    # The row says the URL is on another host now (edited behind the API's back).
    session.execute(
        update(WatchedRepository)
        .where(WatchedRepository.id == repo_id)
        .values(url="https://gitlab.com/acme/app.git")
    )
    dns.answers["gitlab.com"] = ["172.65.251.78"]
    run = run_of(session, run_scan(ctx, repo_id, trigger="schedule"))
    assert (run.status, run.reason) == ("failed", "credentials_host_mismatch")
    assert "s3cret" not in run.error


def test_a_repository_deleted_mid_scan_still_has_its_leak_answered(
    ctx, session, origin, issue, monkeypatch
):
    key, token = issue(environment="dev")
    origin.commit("oops", secret=token)
    repo_id = add(session, ctx.settings, f"file://{origin.path}")
    real_scan = scans.scan_repository

    def scan_then_delete(*args, **kwargs):
        result = real_scan(*args, **kwargs)
        repositories.remove_repository(session, actor=ACTOR, repo_id=repo_id)
        session.flush()
        return result

    monkeypatch.setattr(scans, "scan_repository", scan_then_delete)
    run_id = run_scan(ctx, repo_id, trigger="manual")
    assert session.get(ScanRun, run_id) is None
    session.refresh(key)
    assert key.state == "revoked"
    assert session.scalar(select(Incident)).first_origin == "scan"


def test_an_unwritable_scan_cache_fails_the_run_instead_of_leaving_it_running(
    ctx, session, origin, tmp_path, monkeypatch
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setattr(
        ctx, "settings", dataclasses.replace(ctx.settings, scan_cache_dir=blocker / "repos")
    )
    repo_id = add(session, ctx.settings, f"file://{origin.path}")
    run = run_of(session, run_scan(ctx, repo_id, trigger="schedule"))
    assert (run.status, run.reason) == ("failed", "cache_unwritable")


def test_an_unexpected_error_still_ends_the_run(ctx, session, origin, monkeypatch):
    repo_id = add(session, ctx.settings, f"file://{origin.path}")

    def broken(*args, **kwargs):
        raise RuntimeError("boom /etc/secret-path")

    monkeypatch.setattr(scans, "scan_repository", broken)
    run = run_of(session, run_scan(ctx, repo_id, trigger="manual"))
    assert (run.status, run.reason) == ("failed", "internal")
    assert "secret-path" not in run.error


def test_runs_lost_with_their_worker_are_ended_by_the_schedule(ctx, session, origin):
    repo_id = add(session, ctx.settings, f"file://{origin.path}", interval_seconds=600)
    repo = repositories.get_repository(session, repo_id)
    old = repositories.start_run(session, repo, trigger="schedule")
    old.started_at = datetime.now(UTC) - timedelta(hours=1)
    recent = repositories.start_run(session, repo, trigger="manual")
    session.flush()
    assert claim_due_scans(ctx) == [repo_id]
    assert (run_of(session, old.id).status, run_of(session, old.id).reason) == (
        "failed",
        "stale",
    )
    assert run_of(session, recent.id).status == "running"
