"""Scanning a watched repository and feeding what it finds into the leak pipeline.

A run reads only what is new since the repository's last successful scan (its
saved ref tips).  Each token Keyward issued becomes an occurrence (origin
``scan``) of the same incident a GitHub alert would open, so it is revoked or
regenerated and notified exactly like one.

A run always ends: ``succeeded``, or ``failed`` with a reason code.  The URL is
checked against the fetch policy right before the fetch (DNS answers change) and
git connects to the address that was checked.  A worker killed mid-scan leaves a
run ``running``; :func:`claim_due_scans` ends such runs as ``stale``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from keystore import repo_urls
from keystore.db import transaction
from keystore.errors import KeywardError
from keystore.models import ScanFinding, ScanRun, WatchedRepository
from keystore.services import repositories
from rotation import dispatch
from rotation.context import TaskContext
from rotation.intake import Report, record_reports
from rotation.partners import TOKEN_TYPE
from scanner import ScanState, scan_repository
from scanner.remote import FetchOptions, mirror

log = logging.getLogger("keyward.rotation")


@dataclass(frozen=True)
class _Job:
    run_id: int
    repo_id: int
    url: str
    branches: list[str]
    state_json: str | None
    credentials_env: str | None = field(default=None, repr=False)
    credentials_host: str | None = None


def run_scan(ctx: TaskContext, repo_id: int, *, trigger: str) -> int:
    """Scan one repository now and return the run's id; a failure is recorded on the run."""
    job = _start(ctx, repo_id, trigger=trigger)
    try:
        result = _fetch_and_scan(ctx, job)
        incident_ids = _record(ctx, job, result)
    except KeywardError as exc:
        log.warning("scan run %s of repository %s failed: %s", job.run_id, repo_id, exc.reason)
        _fail(ctx, job.run_id, reason=exc.reason, message=exc.message)
        return job.run_id
    except Exception:
        log.exception("scan run %s of repository %s failed unexpectedly", job.run_id, repo_id)
        _fail(ctx, job.run_id, reason="internal", message="internal error; see the worker log")
        return job.run_id
    except BaseException:
        # Interrupted (shutdown, Ctrl-C): end the run before going down.
        _fail(ctx, job.run_id, reason="interrupted", message="the scan was interrupted")
        raise
    for incident_id in incident_ids:
        dispatch.enqueue_incident(incident_id)
    return job.run_id


def claim_due_scans(ctx: TaskContext) -> list[int]:
    """End runs lost with their worker, then claim the repositories whose scan is due."""
    now = datetime.now(UTC)
    with transaction(ctx.sessions) as session:
        stale = repositories.fail_stale_runs(session, older_than=stale_after(ctx.settings))
        due = [
            repo_id
            for repo_id in repositories.due_repositories(session, now=now)
            if repositories.claim_due(session, repo_id, now=now)
        ]
    if stale:
        log.warning("scan runs %s ended as stale (no result in time)", stale)
    return due


def stale_after(settings) -> timedelta:
    """Longer than any live run can take: two fetches at the time limit, plus the scan."""
    return timedelta(seconds=2 * settings.scan_timeout_seconds + 120)


def fetch_options(ctx: TaskContext, job: _Job) -> FetchOptions:
    """Check the URL now and pin git to the address checked; bind credentials to the host."""
    policy = repo_urls.RepoPolicy.from_settings(ctx.settings)
    target = repo_urls.check(job.url, policy)
    checked, timeout = target.repo_url, float(ctx.settings.scan_timeout_seconds)
    pin = None
    if checked.host is not None and target.address is not None:
        pin = (checked.host, checked.port, target.address)
    return FetchOptions(
        protocols=(checked.scheme,),
        timeout_seconds=timeout,
        connect_seconds=min(10.0, timeout),
        low_speed_seconds=min(30.0, timeout),
        pin=pin,
        token=_credentials(job, checked),
        token_origin=checked.origin if job.credentials_env else None,
    )


def _start(ctx: TaskContext, repo_id: int, *, trigger: str) -> _Job:
    with transaction(ctx.sessions) as session:
        repo = repositories.get_repository(session, repo_id)
        run = repositories.start_run(session, repo, trigger=trigger)
        return _Job(
            run_id=run.id,
            repo_id=repo.id,
            url=repo.url,
            branches=list(repo.branches),
            state_json=repo.scan_state,
            credentials_env=repo.credentials_env,
            credentials_host=repo.credentials_host,
        )


def _fetch_and_scan(ctx: TaskContext, job: _Job):
    path = mirror(
        job.url,
        cache_dir=ctx.settings.scan_cache_dir,
        branches=job.branches,
        options=fetch_options(ctx, job),
    )
    since = ScanState.from_json(job.state_json) if job.state_json else None
    return scan_repository(path, since_refs=since, prefixes=(ctx.settings.token_prefix,))


def _record(ctx: TaskContext, job: _Job, result) -> list[int]:
    """Findings, occurrences and the new state in one transaction: all or nothing.

    A repository deleted during its scan takes its run along; the tokens found are
    leaked all the same, so their incidents are still recorded.
    """
    reports = [
        Report(
            token=f.token,
            token_type=TOKEN_TYPE,
            url=_location(job.url, f),
            source=f"scan:{f.kind}",
        )
        for f in result.findings
    ]
    with transaction(ctx.sessions) as session:
        # Lock the repository first: a delete waits for this transaction, or came before it.
        repo = session.get(WatchedRepository, job.repo_id, with_for_update=True)
        intake = record_reports(
            session, ctx.settings, origin="scan", reports=reports, keep_unknown=False
        )
        run = session.get(ScanRun, job.run_id)
        if repo is None or run is None:
            log.warning(
                "repository %s was deleted during scan run %s; %s finding(s) of ours recorded",
                job.repo_id,
                job.run_id,
                sum(intake.owned),
            )
            return intake.incident_ids
        _fill_run(run, result, intake)
        repo.scan_state, repo.last_scan_at = result.state.to_json(), run.finished_at
    log.info(
        "scan run %s of repository %s: %s finding(s), %s of ours",
        job.run_id,
        job.repo_id,
        len(result.findings),
        sum(intake.owned),
    )
    return intake.incident_ids


def _fill_run(run: ScanRun, result, intake) -> None:
    for finding, ours in zip(result.findings, intake.owned, strict=True):
        run.findings.append(
            ScanFinding(
                kind=finding.kind,
                commit=finding.commit,
                path=finding.path,
                line=finding.line,
                hint=finding.hint,
                fingerprint=finding.fingerprint,
                ours=ours,
            )
        )
    # A run the stale sweep ended too early still gets its real outcome.
    run.status, run.finished_at, run.reason, run.error = "succeeded", datetime.now(UTC), None, None
    run.objects_read = result.stats.objects
    run.findings_count, run.ours_count = len(result.findings), sum(intake.owned)


def _fail(ctx: TaskContext, run_id: int, *, reason: str, message: str) -> None:
    try:
        with transaction(ctx.sessions) as session:
            repositories.fail_run(session, run_id, reason=reason, message=message)
    except Exception:
        # The database is away: the stale-run sweep ends this run later.
        log.exception("could not record the failure of scan run %s", run_id)


def _location(url: str, finding) -> str:
    where = f"{url}@{finding.commit}" if finding.commit else url
    if finding.path:
        where += f":{finding.path}"
    return where + (f"#L{finding.line}" if finding.line else "")


def _credentials(job: _Job, checked: repo_urls.RepoUrl) -> str | None:
    """The token named by the registry, for the host it was registered for and no other."""
    if job.credentials_env is None:
        return None
    if job.credentials_host != checked.host or checked.scheme != "https":
        raise KeywardError(
            "could not fetch: the credentials are bound to another host",
            reason="credentials_host_mismatch",
        )
    token = os.environ.get(job.credentials_env)
    if not token:
        raise KeywardError(
            f"could not fetch: {job.credentials_env} is not set in the worker's environment",
            reason="credentials_missing",
        )
    return token
