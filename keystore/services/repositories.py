"""Watched repositories: the registry the scheduled scans work from, and their runs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import repo_urls, serialize
from keystore.errors import ConflictError, NotFoundError, ValidationError
from keystore.models import ScanRun, WatchedRepository
from keystore.paging import MAX_LIMIT, Page, PageRequest, SortKey, fetch_page
from keystore.services import audit
from keystore.services.roles import UNSET

MIN_INTERVAL = 60
MAX_INTERVAL = 30 * 24 * 3600
MAX_BRANCHES = 50
MAX_ID = 2**31 - 1
_BRANCH_RE = re.compile(r"\A[A-Za-z0-9._/-]*\*?[A-Za-z0-9._/-]*\Z")
_ENV_NAME_RE = re.compile(r"\AKEYWARD_REPO_TOKEN_[A-Z0-9_]{1,60}\Z")


def list_repositories(session: Session, *, page: PageRequest | None = None) -> Page:
    """In creation order; everything, or one ``page`` (keystore.paging)."""
    return fetch_page(session, select(WatchedRepository), (SortKey(WatchedRepository.id),), page)


def get_repository(session: Session, repo_id: int) -> WatchedRepository:
    repo = session.get(WatchedRepository, repo_id) if _storable(repo_id) else None
    if repo is None:
        raise NotFoundError(f"no watched repository {repo_id}", reason="repository_not_found")
    return repo


def add_repository(
    session: Session,
    settings,
    *,
    actor: str,
    url: str,
    branches: list[str] = (),
    interval_seconds: int = 3600,
    credentials_env: str | None = None,
) -> WatchedRepository:
    """Watch a repository; its first scheduled scan is due at once.

    The URL must pass the fetch policy now (scheme, host allow-list, public addresses);
    every fetch checks it again.  Credentials are bound to the URL's host.
    """
    policy = repo_urls.RepoPolicy.from_settings(settings)
    checked = repo_urls.parse(url, policy)
    branches, interval = _branches(branches), _interval(interval_seconds)
    credentials_env = _credentials_env(credentials_env, checked)
    repo_urls.resolve(checked, policy)
    url = checked.url
    if session.scalar(select(WatchedRepository.id).where(WatchedRepository.url == url)):
        raise ConflictError(f"{url} is watched already", reason="duplicate")
    repo = WatchedRepository(
        url=url,
        branches=branches,
        interval_seconds=interval,
        credentials_env=credentials_env,
        credentials_host=checked.host if credentials_env else None,
        next_scan_at=datetime.now(UTC),
    )
    session.add(repo)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="repository.create",
        object_type="repository",
        object_id=repo.id,
        summary=repo.url,
        after=serialize.repository(repo),
    )
    return repo


def update_repository(
    session: Session,
    settings,
    *,
    actor: str,
    repo_id: int,
    branches=UNSET,
    interval_seconds=UNSET,
    credentials_env=UNSET,
    enabled=UNSET,
) -> WatchedRepository:
    repo = get_repository(session, repo_id)
    before = serialize.repository(repo)
    if branches is not UNSET:
        repo.branches = _branches(branches)
    if interval_seconds is not UNSET:
        repo.interval_seconds = _interval(interval_seconds)
    if credentials_env is not UNSET:
        checked = repo_urls.parse(repo.url, repo_urls.RepoPolicy.from_settings(settings))
        repo.credentials_env = _credentials_env(credentials_env, checked)
        repo.credentials_host = checked.host if repo.credentials_env else None
    if enabled is not UNSET:
        if not isinstance(enabled, bool):
            raise ValidationError("enabled must be true or false", field="enabled")
        repo.enabled = enabled
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="repository.update",
        object_type="repository",
        object_id=repo.id,
        summary=repo.url,
        before=before,
        after=serialize.repository(repo),
    )
    return repo


def remove_repository(session: Session, *, actor: str, repo_id: int) -> None:
    repo = get_repository(session, repo_id)
    audit.record(
        session,
        actor=actor,
        action="repository.delete",
        object_type="repository",
        object_id=repo.id,
        summary=repo.url,
        before=serialize.repository(repo),
    )
    session.delete(repo)
    session.flush()


def due_repositories(session: Session, *, now: datetime | None = None) -> list[int]:
    """Enabled repositories whose next scan is due."""
    now = now or datetime.now(UTC)
    return list(
        session.scalars(
            select(WatchedRepository.id)
            .where(WatchedRepository.enabled.is_(True), WatchedRepository.next_scan_at <= now)
            .order_by(WatchedRepository.next_scan_at)
        )
    )


def claim_due(session: Session, repo_id: int, *, now: datetime) -> bool:
    """Push the next scan one interval on, so one beat tick enqueues a repository once."""
    repo = session.scalars(
        select(WatchedRepository).where(WatchedRepository.id == repo_id).with_for_update()
    ).one_or_none()
    if repo is None or not repo.enabled or repo.next_scan_at > now:
        return False
    repo.next_scan_at = now + timedelta(seconds=repo.interval_seconds)
    return True


def start_run(session: Session, repo: WatchedRepository, *, trigger: str) -> ScanRun:
    """A run in state ``running``; :func:`end_run` or the stale-run sweep always ends it."""
    run = ScanRun(
        repository_id=repo.id, trigger=trigger, status="running", full_scan=repo.scan_state is None
    )
    session.add(run)
    session.flush()
    return run


def fail_run(session: Session, run_id: int, *, reason: str, message: str) -> bool:
    """Mark a running run failed with its reason; False if it is gone or already ended."""
    run = session.get(ScanRun, run_id, with_for_update=True)
    if run is None or run.status != "running":
        return False
    run.status, run.finished_at = "failed", datetime.now(UTC)
    run.reason, run.error = reason[:40], message[:2000]
    return True


def fail_stale_runs(session: Session, *, older_than: timedelta) -> list[int]:
    """Runs still ``running`` after ``older_than`` (a worker killed mid-scan) end as failed."""
    cutoff = datetime.now(UTC) - older_than
    stale = list(
        session.scalars(
            select(ScanRun.id).where(ScanRun.status == "running", ScanRun.started_at < cutoff)
        )
    )
    for run_id in stale:
        fail_run(
            session,
            run_id,
            reason="stale",
            message=f"no result within {int(older_than.total_seconds())} s; the scan was lost",
        )
    return stale


def list_runs(
    session: Session, *, repo_id: int, limit: int = 20, page: PageRequest | None = None
) -> Page:
    """A repository's runs, newest first: ``page`` (keystore.paging), or the first ``limit``."""
    get_repository(session, repo_id)
    query = select(ScanRun).where(ScanRun.repository_id == repo_id)
    page = page or PageRequest(limit=max(1, min(limit, MAX_LIMIT)))
    return fetch_page(session, query, (SortKey(ScanRun.id, descending=True),), page)


def get_run(session: Session, run_id: int) -> ScanRun:
    run = session.get(ScanRun, run_id) if _storable(run_id) else None
    if run is None:
        raise NotFoundError(f"no scan run {run_id}", reason="scan_run_not_found")
    return run


def _storable(row_id) -> bool:
    """Ids beyond the column's range exist nowhere (and would make the driver raise)."""
    return isinstance(row_id, int) and 0 < row_id <= MAX_ID


def _branches(branches) -> list[str]:
    if isinstance(branches, str) or not isinstance(branches, list | tuple):
        raise ValidationError("branches must be a list of branch patterns", field="branches")
    if len(branches) > MAX_BRANCHES:
        raise ValidationError(f"at most {MAX_BRANCHES} branch patterns", field="branches")
    for branch in branches:
        if (
            not isinstance(branch, str)
            or not 0 < len(branch) <= 200
            or not _BRANCH_RE.match(branch)
            or ".." in branch
            or branch.startswith(("-", "/", "."))
        ):
            raise ValidationError(
                "each branch pattern is a name such as main or release/* (one * at most)",
                field="branches",
            )
    return list(dict.fromkeys(branches))


def _interval(seconds) -> int:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not (MIN_INTERVAL <= seconds <= MAX_INTERVAL)
    ):
        raise ValidationError(
            f"interval_seconds must be from {MIN_INTERVAL} to {MAX_INTERVAL}",
            field="interval_seconds",
        )
    return seconds


def _credentials_env(name, checked: repo_urls.RepoUrl) -> str | None:
    if name is None or name == "":
        return None
    if not isinstance(name, str) or not _ENV_NAME_RE.match(name):
        raise ValidationError(
            "credentials_env must name an environment variable "
            "KEYWARD_REPO_TOKEN_<NAME> (the token itself is never stored)",
            field="credentials_env",
        )
    if checked.scheme != "https":
        # The token travels as an HTTP header: never in clear text, and ssh has its own keys.
        raise ValidationError(
            "credentials_env is for https:// repositories only",
            reason="credentials_need_https",
            field="credentials_env",
        )
    return name
