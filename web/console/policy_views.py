"""API collections and named policies: list, create, edit, delete."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from keystore.services import catalogue, collections, policies
from web.console import actor, caller, console
from web.console.permissions import needs
from web.console.role_views import sections
from web.forms import FormErrors, chosen, lines, optional_int, run_form, text
from web.runtime import runtime

COLLECTION_FIELDS = ("name", "description", "endpoints")
POLICY_FIELDS = (
    "name",
    "description",
    *policies.LIMIT_FIELDS,
    *policies.RULE_FIELDS,
)


@console.get("/collections")
@needs("viewer")
def collections_list():
    with runtime().unit_of_work() as session:
        rows = [
            (c, collections.roles_granting(session, c))
            for c in collections.list_collections(session)
        ]
        return render_template("console/collections.html", rows=rows)


@console.route("/collections/new", methods=["GET", "POST"])
@needs("admin")
def collection_new():
    return _collection_form(collection_id=None)


@console.route("/collections/<int:collection_id>", methods=["GET", "POST"])
@needs(get="viewer", post="admin")
def collection_edit(collection_id: int):
    return _collection_form(collection_id=collection_id)


@console.post("/collections/<int:collection_id>/delete")
@needs("admin")
def collection_delete(collection_id: int):
    with runtime().unit_of_work() as session:
        collections.delete_collection(session, actor=actor(), caller=caller(), ref=collection_id)
    return redirect(url_for("console.collections_list"))


def _collection_form(*, collection_id: int | None):
    errors = FormErrors()
    if request.method == "POST":
        _, errors = run_form(lambda s: _save_collection(s, collection_id), fields=COLLECTION_FIELDS)
        if not errors:
            return redirect(url_for("console.collections_list"))
    with runtime().unit_of_work() as session:
        found = collections.get_collection(session, collection_id) if collection_id else None
        stored = {ep.name for ep in found.endpoints} if found else set()
        return render_template(
            "console/collection_form.html",
            collection=found,
            roles=collections.roles_granting(session, found) if found else [],
            sections=sections(catalogue.list_endpoints(session)),
            ticked=set(chosen("endpoints")) if request.method == "POST" else stored,
            errors=errors,
        ), errors.status


def _save_collection(session, collection_id: int | None):
    values = {
        "name": text("name"),
        "description": text("description"),
        "endpoints": chosen("endpoints"),
    }
    if collection_id is None:
        return collections.create_collection(session, actor=actor(), caller=caller(), **values)
    return collections.update_collection(
        session, actor=actor(), caller=caller(), ref=collection_id, **values
    )


@console.get("/policies")
@needs("viewer")
def policies_list():
    with runtime().unit_of_work() as session:
        rows = [(p, *policies.holders(session, p)) for p in policies.list_policies(session)]
        return render_template("console/policies.html", rows=rows)


@console.route("/policies/new", methods=["GET", "POST"])
@needs("admin")
def policy_new():
    return _policy_form(policy_id=None)


@console.route("/policies/<int:policy_id>", methods=["GET", "POST"])
@needs(get="viewer", post="admin")
def policy_edit(policy_id: int):
    return _policy_form(policy_id=policy_id)


@console.post("/policies/<int:policy_id>/delete")
@needs("admin")
def policy_delete(policy_id: int):
    with runtime().unit_of_work() as session:
        policies.delete_policy(session, actor=actor(), ref=policy_id)
    return redirect(url_for("console.policies_list"))


def _policy_form(*, policy_id: int | None):
    errors = FormErrors()
    if request.method == "POST":
        _, errors = run_form(lambda s: _save_policy(s, policy_id), fields=POLICY_FIELDS)
        if not errors:
            return redirect(url_for("console.policies_list"))
    with runtime().unit_of_work() as session:
        found = policies.get_policy(session, policy_id) if policy_id else None
        clients, keys = policies.holders(session, found) if found else ([], [])
        return render_template(
            "console/policy_form.html",
            policy=found,
            clients=clients,
            keys=keys,
            errors=errors,
        ), errors.status


def _save_policy(session, policy_id: int | None):
    values = {
        "name": text("name"),
        "description": text("description"),
        **{field: optional_int(field) for field in policies.LIMIT_FIELDS},
        **{field: lines(field) for field in policies.RULE_FIELDS},
    }
    if policy_id is None:
        return policies.create_policy(session, actor=actor(), **values)
    return policies.update_policy(session, actor=actor(), caller=caller(), ref=policy_id, **values)
