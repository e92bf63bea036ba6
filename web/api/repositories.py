"""Watched repositories, on-demand scans, and scan runs with their findings."""

from flask import jsonify

from keystore import serialize
from keystore.services import repositories
from rotation import dispatch, tasks
from web.api import actor, api
from web.auth import requires
from web.openapi import operation
from web.paging import page_request, page_response
from web.payload import json_object
from web.runtime import runtime

READ, WRITE = "keyward.repositories.read", "keyward.repositories.write"


@api.get("/repositories")
@operation("Watched repositories", responses={200: "Repository[]"}, paged=True)
@requires(READ)
def list_repositories():
    with runtime().unit_of_work() as session:
        found = repositories.list_repositories(session, page=page_request())
        return page_response(found, serialize.repository)


@api.post("/repositories")
@operation(
    "Watch a repository (scanned on its schedule, the first time at once)",
    body="RepositoryCreate",
    responses={201: "Repository", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def add_repository():
    data = json_object()
    rt = runtime()
    with rt.unit_of_work() as session:
        repo = repositories.add_repository(session, rt.settings, actor=actor(), **data)
        return jsonify(serialize.repository(repo)), 201


@api.patch("/repositories/<int:repo_id>")
@operation(
    "Change a watched repository",
    body="RepositoryInput",
    responses={200: "Repository", 404: "Error", 422: "Error"},
)
@requires(WRITE)
def update_repository(repo_id: int):
    data = json_object()
    rt = runtime()
    with rt.unit_of_work() as session:
        repo = repositories.update_repository(
            session, rt.settings, actor=actor(), repo_id=repo_id, **data
        )
        return jsonify(serialize.repository(repo))


@api.delete("/repositories/<int:repo_id>")
@operation("Stop watching a repository", responses={200: "Deleted", 404: "Error"})
@requires(WRITE)
def remove_repository(repo_id: int):
    with runtime().unit_of_work() as session:
        repositories.remove_repository(session, actor=actor(), repo_id=repo_id)
    return jsonify({"deleted": repo_id})


@api.post("/repositories/<int:repo_id>/scan")
@operation("Scan now (what is new since the last scan)", responses={202: "Accepted", 404: "Error"})
@requires(WRITE)
def scan_now(repo_id: int):
    with runtime().unit_of_work() as session:
        repositories.get_repository(session, repo_id)
    dispatch.enqueue(tasks.scan_repository, repo_id, "manual")
    return jsonify({"message": f"scan of repository {repo_id} enqueued"}), 202


@api.get("/repositories/<int:repo_id>/runs")
@operation(
    "Scan runs of a repository, newest first",
    responses={200: "ScanRun[]", 404: "Error", 422: "Error"},
    paged=True,
)
@requires(READ)
def list_runs(repo_id: int):
    with runtime().unit_of_work() as session:
        runs = repositories.list_runs(session, repo_id=repo_id, page=page_request())
        return page_response(runs, serialize.scan_run)


@api.get("/scan-runs/<int:run_id>")
@operation(
    "A scan run with its findings (hints and locations, never tokens)",
    responses={200: "ScanRun", 404: "Error"},
)
@requires(READ)
def show_run(run_id: int):
    with runtime().unit_of_work() as session:
        run = repositories.get_run(session, run_id)
        return jsonify(serialize.scan_run(run, findings=True))
