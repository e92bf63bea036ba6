"""The leak response's commands: ``keyward incident`` (the incidents and their trail) and
``keyward repo`` (watched repositories, scans on demand, and their runs)."""

from __future__ import annotations

import click

from keystore import serialize
from keystore.cli.base import ID, CliContext, Group, confirmation, pass_context, split_csv, yes_no
from keystore.errors import KeywardError
from keystore.models import INCIDENT_STATES
from keystore.services import repositories
from rotation import context, dispatch, incidents, scans

# How long `repo scan` waits for the leak response it started (revocation, emails).
RESPONSE_WAIT_SECONDS = 600.0


@click.group("repo", cls=Group)
def repo_group() -> None:
    """Watched git repositories (scanned on a schedule for leaked tokens)."""


@repo_group.command("add")
@click.argument("url")
@click.option(
    "--branch",
    "branches",
    multiple=True,
    help="Branch pattern such as main or release/*; repeat. Default: every ref.",
)
@click.option(
    "--every",
    "interval_seconds",
    type=int,
    default=3600,
    show_default=True,
    help="Seconds between scheduled scans.",
)
@click.option(
    "--credentials-env",
    default=None,
    help="Name of the environment variable (KEYWARD_REPO_TOKEN_...) holding a token.",
)
@pass_context
def repo_add(ctx: CliContext, url: str, branches, interval_seconds: int, credentials_env) -> None:
    """Watch a git repository (scanned on a schedule)."""
    with ctx.session() as session:
        data = serialize.repository(
            repositories.add_repository(
                session,
                ctx.settings,
                actor=ctx.actor,
                url=url,
                branches=split_csv(branches),
                interval_seconds=interval_seconds,
                credentials_env=credentials_env,
            )
        )
    ctx.emit(data, f"watching {data['url']} (id {data['id']}); first scan due now")


@repo_group.command("list")
@pass_context
def repo_list(ctx: CliContext) -> None:
    """List the watched repositories."""
    with ctx.session() as session:
        rows = [serialize.repository(r) for r in repositories.list_repositories(session)]
    ctx.emit(
        rows,
        [
            f"{r['id']:>4}  {r['url']:<50} every {r['interval_seconds']}s  "
            f"enabled={yes_no(r['enabled'])}  last scan {r['last_scan_at'] or 'never'}"
            for r in rows
        ],
    )


@repo_group.command("remove")
@click.argument("repo_id", type=ID)
@confirmation("Stop watching this repository and forget its runs?")
@pass_context
def repo_remove(ctx: CliContext, repo_id: int) -> None:
    """Stop watching a repository and forget its runs."""
    with ctx.session() as session:
        repositories.remove_repository(session, actor=ctx.actor, repo_id=repo_id)
    ctx.emit({"deleted": repo_id}, f"repository {repo_id} no longer watched")


@repo_group.command("scan")
@click.argument("repo_id", type=ID)
@pass_context
def repo_scan(ctx: CliContext, repo_id: int) -> None:
    """Scan now, in this process; leaks found become incidents like GitHub alerts.

    The embedded mode answers those incidents in this process too, so the command
    waits until every step (revocation, audit, emails) is done before it exits.
    """
    ctx.ensure_schema()
    context.install(context.from_settings(ctx.settings))
    run_id = scans.run_scan(context.current(), repo_id, trigger="manual")
    dispatch.drain(timeout=RESPONSE_WAIT_SECONDS)
    with ctx.session() as session:
        data = serialize.scan_run(repositories.get_run(session, run_id), findings=True)
    if data["status"] == "failed":
        raise KeywardError(f"run {run_id}: {data['error']}", reason=data["reason"] or "scan_failed")
    ctx.emit(
        data,
        [
            f"run {run_id}: {data['status']}, {data['findings_count']} finding(s), "
            f"{data['ours_count']} issued by Keyward"
        ]
        + [
            f"  {f['hint']}  {f['commit'] or '-'} {f['path'] or ''}:{f['line'] or ''} "
            f"{'OURS' if f['ours'] else ''}"
            for f in data["findings"]
        ],
    )


@repo_group.command("runs")
@click.argument("repo_id", type=ID)
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@pass_context
def repo_runs(ctx: CliContext, repo_id: int, limit: int) -> None:
    """List a repository's scan runs, newest first."""
    with ctx.session() as session:
        rows = [
            serialize.scan_run(r)
            for r in repositories.list_runs(session, repo_id=repo_id, limit=limit)
        ]
    ctx.emit(
        rows,
        [
            f"{r['id']:>5}  {r['started_at']}  {r['trigger']:<8} {r['status']:<9} "
            f"{r['findings_count']} finding(s), {r['ours_count']} ours "
            f"{r['reason'] or ''} {r['error'] or ''}"
            for r in rows
        ],
    )


@click.group("incident", cls=Group)
def incident_group() -> None:
    """Leak incidents (one per leaked token)."""


@incident_group.command("list")
@click.option("--state", type=click.Choice(INCIDENT_STATES), default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@pass_context
def incident_list(ctx: CliContext, state: str | None, limit: int) -> None:
    """List leak incidents, newest first."""
    with ctx.session() as session:
        rows = [
            serialize.incident(i)
            for i in incidents.list_incidents(session, state=state, limit=limit)
        ]
    ctx.emit(
        rows,
        [
            f"{i['id']:>5}  {i['state']:<9} {i['token_hint']}  client {i['client_id']}  "
            f"{i['action'] or '-':<11} {i['occurrence_count']} report(s)  "
            f"received {i['received_at']}"
            for i in rows
        ],
    )


@incident_group.command("show")
@click.argument("incident_id", type=ID)
@pass_context
def incident_show(ctx: CliContext, incident_id: int) -> None:
    """The trail: received -> owner found -> acted -> notified, with every report and email."""
    with ctx.session() as session:
        data = serialize.incident_detail(incidents.get_incident(session, incident_id))
    lines = [
        f"incident {data['id']}: {data['token_hint']} (key {data['key_id']}, "
        f"client {data['client_id']}) — {data['state']}",
        f"  received     {data['received_at']} (first from {data['first_origin']})",
        f"  owner found  {data['owner_found_at'] or '-'}",
        f"  acted        {data['acted_at'] or '-'}  {data['action'] or ''}: "
        f"{data['action_detail']}",
        f"  notified     {data['notified_at'] or '-'}",
        "  reports:",
    ]
    lines += [
        f"    {o['received_at']} {o['origin']:<7} {o['source'] or '-':<20} {o['url']}"
        for o in data["occurrences"]
    ]
    lines += ["  emails:"] + [
        f"    {n['recipient']:<32} {n['state']:<8} {n['sent_at'] or ''}"
        for n in data["notifications"]
    ]
    ctx.emit(data, lines)


@incident_group.command("pickup")
@click.argument("incident_id", type=ID)
@pass_context
def incident_pickup(ctx: CliContext, incident_id: int) -> None:
    """Print the replacement token of a regenerated key, once."""
    with ctx.session() as session:
        incident, token = incidents.pick_up_replacement(
            session, ctx.settings, actor=ctx.actor, incident_id=incident_id
        )
        data = {
            "incident_id": incident.id,
            "key_id": incident.key_id,
            "hint": incident.replacement_hint,
            "token": token,
        }
    ctx.emit(data, ["replacement token (shown once, store it now):", f"  {token}"])
