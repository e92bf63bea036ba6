"""Watched repositories in the console: watch, pause, resume, scan now, stop; runs by pages."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from keystore import serialize
from keystore.services import repositories
from rotation import dispatch, tasks
from web.console import actor, console
from web.console.permissions import needs
from web.forms import FormErrors, lines, optional_int, run_form, text
from web.paging import page_request
from web.runtime import runtime

FIELDS = ("url", "branches", "interval_seconds", "credentials_env")
RUNS_PAGE = 20


@console.get("/repositories")
@needs("viewer")
def repositories_list():
    return _list_page(errors=FormErrors())


@console.post("/repositories")
@needs("admin")
def repository_add():
    settings = runtime().settings

    def work(session):
        return repositories.add_repository(
            session,
            settings,
            actor=actor(),
            url=text("url"),
            branches=lines("branches"),
            interval_seconds=optional_int("interval_seconds") or 3600,
            credentials_env=text("credentials_env") or None,
        ).id

    repo_id, errors = run_form(work, fields=FIELDS)
    if errors:
        return _list_page(errors=errors)
    return redirect(url_for("console.repository_show", repo_id=repo_id))


@console.get("/repositories/<int:repo_id>")
@needs("viewer")
def repository_show(repo_id: int):
    with runtime().unit_of_work() as session:
        repo = repositories.get_repository(session, repo_id)
        page = page_request(default=RUNS_PAGE)
        runs = repositories.list_runs(session, repo_id=repo_id, page=page)
        return render_template("console/repository.html", repo=repo, runs=runs, errors={})


@console.post("/repositories/<int:repo_id>/pause")
@needs("admin")
def repository_pause(repo_id: int):
    return _switch(repo_id, enabled=False)


@console.post("/repositories/<int:repo_id>/resume")
@needs("admin")
def repository_resume(repo_id: int):
    return _switch(repo_id, enabled=True)


def _switch(repo_id: int, *, enabled: bool):
    settings = runtime().settings
    _, errors = run_form(
        lambda session: repositories.update_repository(
            session, settings, actor=actor(), repo_id=repo_id, enabled=enabled
        )
    )
    if errors:
        return _list_page(errors=errors)
    return redirect(url_for("console.repository_show", repo_id=repo_id))


@console.post("/repositories/<int:repo_id>/scan")
@needs("admin")
def repository_scan(repo_id: int):
    with runtime().unit_of_work() as session:
        repositories.get_repository(session, repo_id)
    dispatch.enqueue(tasks.scan_repository, repo_id, "manual")
    return redirect(url_for("console.repository_show", repo_id=repo_id))


@console.post("/repositories/<int:repo_id>/delete")
@needs("admin")
def repository_delete(repo_id: int):
    _, errors = run_form(
        lambda session: repositories.remove_repository(session, actor=actor(), repo_id=repo_id)
    )
    if errors:
        return _list_page(errors=errors)
    return redirect(url_for("console.repositories_list"))


@console.get("/scan-runs/<int:run_id>")
@needs("viewer")
def scan_run_show(run_id: int):
    with runtime().unit_of_work() as session:
        run = serialize.scan_run(repositories.get_run(session, run_id), findings=True)
        return render_template("console/scan_run.html", run=run)


def _list_page(*, errors: FormErrors):
    with runtime().unit_of_work() as session:
        repos = repositories.list_repositories(session)
        return render_template(
            "console/repositories.html", repos=repos, errors=errors
        ), errors.status
