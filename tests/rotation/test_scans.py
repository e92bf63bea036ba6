"""Scanning watched repositories into the leak pipeline, on real git repositories."""

import dataclasses

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from keystore import tokens
from keystore.config import Settings
from keystore.errors import ValidationError
from keystore.models import Incident, ScanRun, WatchedRepository
from keystore.services import repositories
from rotation import dispatch
from rotation.context import TaskContext
from rotation.scans import run_scan
from tests.gitrepos import Repo, git_identity
from tests.worlds import ACTOR, issue, world

__all__ = ["git_identity", "issue", "world"]


@pytest.fixture
def local(settings):
    """The test-only allowance: repositories on this machine (file://, loopback)."""
    return dataclasses.replace(settings, repo_allow_local=True, scan_timeout_seconds=5)


@pytest.fixture
def ctx(connection, local, monkeypatch):
    monkeypatch.setattr(dispatch, "run_inline", True)
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    context = TaskContext(settings=local, sessions=sessions, redis=None, usage=None)
    monkeypatch.setattr("rotation.context.current", lambda: context)
    return context


@pytest.fixture
def origin(tmp_path) -> Repo:
    repo = Repo(tmp_path / "origin")
    repo.commit("start", README="hello\n")
    return repo


def watch(session, origin, **options) -> int:
    settings = dataclasses.replace(Settings.from_env({}, pepper="p" * 32), repo_allow_local=True)
    url = f"file://{origin.path}"
    repo = repositories.add_repository(session, settings, actor=ACTOR, url=url, **options)
    session.flush()
    return repo.id


def test_a_live_token_found_by_a_scan_is_revoked_like_a_github_alert(ctx, session, origin, issue):
    key, token = issue(environment="dev")
    foreign = tokens.generate("kw", "prod")
    origin.commit("add config", **{"app.env": f"API_KEY={token}\nOTHER={foreign}\n"})
    repo_id = watch(session, origin)
    run = session.get(ScanRun, run_scan(ctx, repo_id, trigger="manual"))
    assert (run.status, run.findings_count, run.ours_count) == ("succeeded", 2, 1)
    ours = next(f for f in run.findings if f.ours)
    assert ours.path == "app.env"
    assert ours.line == 1
    stored = repr([(f.kind, f.commit, f.path, f.hint, f.fingerprint) for f in run.findings])
    assert token not in stored
    assert foreign not in stored
    session.refresh(key)
    assert key.state == "revoked"
    incident = session.scalar(select(Incident))
    assert incident.first_origin == "scan"
    assert incident.state == "notified"  # no SMTP configured: emails recorded as skipped
    assert "app.env#L1" in incident.occurrences[0].url


def test_rescans_read_only_what_is_new(ctx, session, origin, issue):
    repo_id = watch(session, origin)
    first = session.get(ScanRun, run_scan(ctx, repo_id, trigger="manual"))
    assert (first.full_scan, first.findings_count) == (True, 0)
    again = session.get(ScanRun, run_scan(ctx, repo_id, trigger="manual"))
    assert (again.full_scan, again.findings_count, again.objects_read) == (False, 0, 0)
    _, token = issue(environment="dev")
    origin.commit("oops", secret=token)
    third = session.get(ScanRun, run_scan(ctx, repo_id, trigger="schedule"))
    assert (third.findings_count, third.ours_count) == (1, 1)
    assert 0 < third.objects_read < 10


def test_branch_filters_limit_what_is_mirrored(ctx, session, origin, issue):
    _, token = issue(environment="dev")
    origin.git("checkout", "-q", "-b", "experiment")
    origin.commit("side", secret=token)
    origin.git("checkout", "-q", "main")
    only_main = watch(session, origin, branches=["main"])
    assert session.get(ScanRun, run_scan(ctx, only_main, trigger="manual")).findings_count == 0
    repositories.update_repository(
        session, ctx.settings, actor=ACTOR, repo_id=only_main, branches=["main", "exp*"]
    )
    session.flush()
    assert session.get(ScanRun, run_scan(ctx, only_main, trigger="manual")).ours_count == 1


def test_an_unreachable_remote_fails_the_run_with_its_reason(ctx, session, tmp_path):
    url = f"file://{tmp_path}/nowhere"
    repo_id = repositories.add_repository(session, ctx.settings, actor=ACTOR, url=url).id
    session.flush()
    run = session.get(ScanRun, run_scan(ctx, repo_id, trigger="manual"))
    assert (run.status, run.reason) == ("failed", "not_found")
    assert run.error.startswith("could not fetch")
    assert run.finished_at is not None


def test_due_repositories_are_claimed_once(session, origin):
    repo_id = watch(session, origin, interval_seconds=600)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    assert repositories.due_repositories(session, now=now) == [repo_id]
    assert repositories.claim_due(session, repo_id, now=now)
    assert not repositories.claim_due(session, repo_id, now=now)
    assert repositories.due_repositories(session, now=now) == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"url": "not a url"}, "url"),
        ({"url": "file:///x", "branches": ["a**"]}, "branches"),
        ({"url": "file:///x", "branches": "main"}, "branches"),
        ({"url": "file:///x", "interval_seconds": 5}, "interval_seconds"),
        ({"url": "file:///x", "credentials_env": "GITHUB_TOKEN"}, "credentials_env"),
    ],
)
def test_bad_registrations_are_refused(session, local, options, field):
    with pytest.raises(ValidationError) as info:
        repositories.add_repository(session, local, actor=ACTOR, **options)
    assert info.value.field == field
    assert session.scalar(select(WatchedRepository)) is None
