"""The console's API collections and policies pages, and the choices on the other forms."""

from keystore.decision import Request, decide
from keystore.services import clients, collections, policies, roles


def test_a_collection_is_made_granted_and_refused_deletion_while_in_use(
    console, session, settings, world, issue
):
    _, token = issue()
    create = Request(endpoint="orders.create", environment="prod")
    made = console.post(
        "/console/collections/new", {"name": "writers", "endpoints": ["orders.create"]}
    )
    assert made.status_code == 302
    form = {"name": "reader", "endpoints": ["orders.list"], "collections": ["writers"]}
    assert console.post(f"/console/roles/{world.role.id}", form).status_code == 302
    assert decide(session, settings, credential=token, request=create).allowed
    page = console.get("/console/roles").text
    assert "writers" in page
    writers = collections.get_collection(session, "writers")
    refused = console.post(f"/console/collections/{writers.id}/delete")
    assert refused.status_code == 409
    assert "take it out of them first" in refused.text
    edited = console.post(f"/console/collections/{writers.id}", {"name": "writers"})
    assert edited.status_code == 302
    assert not decide(session, settings, credential=token, request=create).allowed
    assert "Granted by reader" in console.get(f"/console/collections/{writers.id}").text


def test_a_policy_form_takes_ranges_and_shows_them_normalised(console, session, world):
    form = {
        "name": "office",
        "rate_limit": "10",
        "rate_window_seconds": "60",
        "allowed_ips": "10.0.0.1-10.0.0.3\n192.168.0.0/24",
    }
    assert console.post("/console/policies/new", form).status_code == 302
    office = policies.get_policy(session, "office")
    assert office.allowed_ips == ["10.0.0.1/32", "10.0.0.2/31", "192.168.0.0/24"]
    assert office.rate_limit == 10
    page = console.get(f"/console/policies/{office.id}").text
    assert "10.0.0.2/31" in page
    bad = console.post(
        f"/console/policies/{office.id}", {"name": "office", "blocked_ips": "::1-10.0.0.1"}
    )
    assert bad.status_code == 422
    assert 'id="blocked_ips-error"' in bad.text
    assert "mixes IPv4 and IPv6" in bad.text
    client_form = {"name": "acme", "role": "reader", "policy": "office", "environments": ["prod"]}
    assert console.post(f"/console/clients/{world.client.id}/edit", client_form).status_code == 302
    session.expire_all()
    assert clients.get_client(session, world.client.id).policy.name == "office"
    assert console.post(f"/console/policies/{office.id}/delete").status_code == 409
    key_form = {"name": "k", "environment": "prod", "policy": "office"}
    issued = console.post(f"/console/clients/{world.client.id}/keys/new", key_form)
    assert issued.status_code == 303  # post/redirect/get to the one-time view
    session.expire_all()
    assert roles.get_role(session, "reader").collections == []
    _, keys = policies.holders(session, office)
    assert [k.name for k in keys] == ["k"]
