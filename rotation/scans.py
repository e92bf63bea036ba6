"""Scanning a watched repository and feeding what it finds into the leak pipeline.

A run reads only what is new since the repository's last successful scan (its
saved ref tips).  Each token Keyward issued becomes an occurrence (origin
``scan``) of the same incident a GitHub alert would open, so it is revoked or
regenerated and notified exactly like one.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from keystore.db import transaction
from keystore.errors import KeywardError
from keystore.models import ScanFinding, ScanRun
from keystore.services import repositories
from rotation import dispatch
from rotation.context import TaskContext
from rotation.intake import Report, record_reports
from scanner import ScanState, mirror, scan_repository

log = logging.getLogger("keyward.rotation")


def run_scan(ctx: TaskContext, repo_id: int, *, trigger: str) -> int:
    """Scan one repository now; returns the run's id.  A failure is recorded on the run."""
    with transaction(ctx.sessions) as session:
        repo = repositories.get_repository(session, repo_id)
        run = ScanRun(
            repository_id=repo.id,
            trigger=trigger,
            status="running",
            full_scan=repo.scan_state is None,
        )
        session.add(run)
        session.flush()
        run_id, url, branches = run.id, repo.url, list(repo.branches)
        state_json, credentials_env = repo.scan_state, repo.credentials_env
    try:
        path = mirror(
            url, cache_dir=_cache_dir(ctx), branches=branches, env=_credentials(credentials_env)
        )
        since = ScanState.from_json(state_json) if state_json else None
        result = scan_repository(path, since_refs=since, prefixes=(ctx.settings.token_prefix,))
    except KeywardError as exc:
        _fail(ctx, run_id, exc.message)
        raise
    incident_ids = _record(ctx, run_id, repo_id, url, result)
    for incident_id in incident_ids:
        dispatch.enqueue_incident(incident_id)
    return run_id


def _record(ctx: TaskContext, run_id: int, repo_id: int, url: str, result) -> list[int]:
    """Findings, occurrences and the new state in one transaction: all or nothing."""
    reports = [
        Report(
            token=f.token,
            token_type="keyward_api_token",
            url=_location(url, f),
            source=f"scan:{f.kind}",
        )
        for f in result.findings
    ]
    with transaction(ctx.sessions) as session:
        intake = record_reports(
            session, ctx.settings, origin="scan", reports=reports, keep_unknown=False
        )
        run = session.get(ScanRun, run_id)
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
        now = datetime.now(UTC)
        run.status, run.finished_at = "succeeded", now
        run.objects_read = result.stats.objects
        run.findings_count, run.ours_count = len(result.findings), sum(intake.owned)
        repo = repositories.get_repository(session, repo_id)
        repo.scan_state, repo.last_scan_at = result.state.to_json(), now
    log.info(
        "scan run %s of repository %s: %s finding(s), %s of ours",
        run_id,
        repo_id,
        len(result.findings),
        sum(intake.owned),
    )
    return intake.incident_ids


def _fail(ctx: TaskContext, run_id: int, message: str) -> None:
    with transaction(ctx.sessions) as session:
        run = session.get(ScanRun, run_id)
        run.status, run.finished_at, run.error = "failed", datetime.now(UTC), message[:2000]


def _location(url: str, finding) -> str:
    where = f"{url}@{finding.commit}" if finding.commit else url
    if finding.path:
        where += f":{finding.path}"
    return where + (f"#L{finding.line}" if finding.line else "")


def _cache_dir(ctx: TaskContext) -> Path:
    return Path(os.environ.get("KEYWARD_SCAN_CACHE") or ctx.settings.data_dir / "repos")


def _credentials(env_name: str | None) -> dict[str, str] | None:
    """The token named by the registry, handed to git through its environment only."""
    if env_name is None:
        return None
    token = os.environ.get(env_name)
    if not token:
        raise KeywardError(
            f"{env_name} is not set in this process's environment", reason="credentials_missing"
        )
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {token}",
    }
