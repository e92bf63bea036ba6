"""Trusted OpenID Connect issuers: whose tokens stand for which clients."""

from flask import jsonify

from keystore import oidc
from web.api import actor, api, caller
from web.auth import requires
from web.openapi import operation
from web.paging import page_request, page_response
from web.payload import json_object
from web.runtime import runtime

READ, WRITE = "keyward.issuers.read", "keyward.issuers.write"


@api.get("/issuers")
@operation("Trusted OpenID Connect issuers", responses={200: "TrustedIssuer[]"}, paged=True)
@requires(READ)
def list_issuers():
    with runtime().unit_of_work() as session:
        found = oidc.list_issuers(session, page=page_request())
        return page_response(found, oidc.serialize_issuer)


@api.post("/issuers")
@operation(
    "Trust an identity provider for the listed clients",
    body="TrustedIssuerInput",
    responses={201: "TrustedIssuer", 404: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def add_issuer():
    data = json_object()
    rt = runtime()
    with rt.unit_of_work() as session:
        row = oidc.add_issuer(session, rt.settings, actor=actor(), caller=caller(session), **data)
        return jsonify(oidc.serialize_issuer(row)), 201


@api.get("/issuers/<int:issuer_id>")
@operation("One trusted issuer", responses={200: "TrustedIssuer", 404: "Error"})
@requires(READ)
def show_issuer(issuer_id: int):
    with runtime().unit_of_work() as session:
        return jsonify(oidc.serialize_issuer(oidc.get_issuer(session, issuer_id)))


@api.patch("/issuers/<int:issuer_id>")
@operation(
    "Enable or disable a trusted issuer",
    body="TrustedIssuerPatch",
    responses={200: "TrustedIssuer", 404: "Error", 422: "Error"},
)
@requires(WRITE)
def patch_issuer(issuer_id: int):
    data = json_object()
    with runtime().unit_of_work() as session:
        row = oidc.set_enabled(
            session,
            actor=actor(),
            caller=caller(session),
            issuer_id=issuer_id,
            enabled=data["enabled"],
        )
        return jsonify(oidc.serialize_issuer(row))


@api.delete("/issuers/<int:issuer_id>")
@operation(
    "Stop trusting an issuer: its tokens fail at once", responses={200: "Deleted", 404: "Error"}
)
@requires(WRITE)
def delete_issuer(issuer_id: int):
    with runtime().unit_of_work() as session:
        oidc.delete_issuer(session, actor=actor(), caller=caller(session), issuer_id=issuer_id)
    return jsonify({"deleted": issuer_id})
