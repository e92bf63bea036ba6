"""Every console page renders; forms put a refusal next to its field and change nothing."""

import html
import re

import pytest
from sqlalchemy import func, select

from keystore.decision import Request, decide
from keystore.models import ApiKey, AuditEvent, Client, Role
from keystore.services import audit
from rotation.intake import Report, record_reports
from tests.web.console.routes import Ids, routes, url
from tests.worlds import ACTOR


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def ids(session, settings, world, issue) -> Ids:
    key, token = issue()
    intake = record_reports(
        session,
        settings,
        origin="github",
        reports=[Report(token=token, url="https://github.com/o/r/blob/x/a.py", source="content")],
    )
    session.flush()
    return Ids(world.client.id, world.role.id, key.id, intake.incident_ids[0])


def test_every_console_page_renders(app, console, ids):
    pages = [rule for rule in routes(app, "GET") if rule.rule.startswith("/console")]
    for rule in pages:
        response = console.get(url(app, rule, ids), follow_redirects=True)
        assert response.status_code == 200, f"{rule.rule}: {response.status_code}"
        assert "<h1>" in response.text


def test_a_refused_client_form_shows_the_message_next_to_the_field(console, world, session):
    before = count(session, Client), count(session, AuditEvent)
    form = {"name": "beta", "contact_email": "not an email", "environments": ["prod"]}
    response = console.post("/console/clients/new", form)
    assert response.status_code == 422
    assert 'id="contact_email-error"' in response.text
    assert "contact_email must be an email address" in response.text
    assert 'value="beta"' in response.text  # what was typed stays
    assert (count(session, Client), count(session, AuditEvent)) == before


def test_a_duplicate_role_name_is_refused_and_nothing_changes(console, world, session):
    before = count(session, Role), count(session, AuditEvent)
    response = console.post("/console/roles/new", {"name": "reader", "endpoints": ["orders.list"]})
    assert response.status_code == 409
    assert "exists already" in response.text
    assert (count(session, Role), count(session, AuditEvent)) == before


def test_a_bad_address_range_is_shown_next_to_its_field(console, world, session):
    before = count(session, ApiKey)
    form = {"name": "k", "environment": "prod", "allowed_ips": "10.0.0.0/99"}
    response = console.post(f"/console/clients/{world.client.id}/keys/new", form)
    assert response.status_code == 422
    assert 'id="allowed_ips-error"' in response.text
    assert count(session, ApiKey) == before


def test_a_role_is_created_from_ticked_endpoints(console, world, session):
    form = {"name": "writer", "endpoints": ["orders.create", "orders.list"]}
    assert console.post("/console/roles/new", form).status_code == 302
    role = session.scalar(select(Role).where(Role.name == "writer"))
    assert [ep.name for ep in role.endpoints] == ["orders.create", "orders.list"]
    assert "Orders" in console.get(f"/console/roles/{role.id}").text


def test_deleting_a_role_warns_about_the_clients_that_lose_access(console, world, session):
    page = console.get(f"/console/roles/{world.role.id}/delete")
    assert "will lose access" in page.text
    assert "acme" in page.text
    assert console.post(f"/console/roles/{world.role.id}/delete").status_code == 302
    session.expire_all()
    assert session.get(Client, world.client.id).role_id is None


def test_clients_can_be_searched(console, world):
    assert "acme" in console.get("/console/clients?q=acm").text
    assert "acme" not in console.get("/console/clients?q=zzz").text


def test_a_new_key_shows_its_token_once_and_never_again(console, world, session, settings):
    form = {"name": "ci", "environment": "prod"}
    response = console.post(f"/console/clients/{world.client.id}/keys/new", form)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "you will not see this token again" in response.text
    token = response.text.split('<code id="new-token">')[1].split("</code>")[0]
    verdict = decide(session, settings, credential=token, request=Request("orders.list"))
    assert verdict.allowed
    assert token not in console.get(f"/console/clients/{world.client.id}").text
    key = session.scalar(select(ApiKey).where(ApiKey.name == "ci"))
    assert token not in console.get(f"/console/keys/{key.id}").text


def test_regenerating_refuses_the_old_token(console, issue, session, settings):
    key, old = issue()
    response = console.post(f"/console/keys/{key.id}/regenerate", {"grace_seconds": "0"})
    assert response.status_code == 200
    new = response.text.split('<code id="new-token">')[1].split("</code>")[0]
    assert new != old
    assert decide(session, settings, credential=old, request=Request("orders.list")).reason == (
        "revoked"
    )


def test_the_ten_key_limit_is_explained(console, world, issue):
    for number in range(10):
        issue(name=f"k{number}")
    page = console.get(f"/console/clients/{world.client.id}")
    assert 'id="key-limit"' in page.text
    refused = console.post(
        f"/console/clients/{world.client.id}/keys/new", {"name": "k11", "environment": "prod"}
    )
    assert refused.status_code == 409
    assert "the most allowed" in refused.text


def test_key_state_changes(console, issue, session):
    key, _ = issue()
    for change, state in [
        ("deactivate", "inactive"),
        ("reactivate", "active"),
        ("revoke", "revoked"),
    ]:
        assert console.post(f"/console/keys/{key.id}/{change}").status_code == 302
        session.expire_all()
        assert session.get(ApiKey, key.id).state == state
    refused = console.post(f"/console/keys/{key.id}/reactivate")
    assert refused.status_code == 409
    assert "revocation is final" in refused.text


def test_an_incident_shows_its_timeline(console, ids):
    page = console.get(f"/console/incidents/{ids.incident_id}")
    assert "github.com/o/r/blob/x/a.py" in page.text
    assert 'id="timeline"' in page.text
    assert str(ids.incident_id) in console.get("/console/incidents").text


def test_usage_is_a_picture(console, ids, app):
    runtime = app.extensions["keyward"]
    runtime.usage.record(
        client_id=ids.client_id, key_id=ids.key_id, outcome="allowed", address="10.0.0.1"
    )
    page = console.get(f"/console/clients/{ids.client_id}/usage")
    assert "<svg" in page.text
    assert "allowed: 1" in page.text
    key_page = console.get(f"/console/keys/{ids.key_id}")
    assert "<rect" in key_page.text
    assert "10.0.0.1" in key_page.text


def test_the_audit_trail_filters(console, world):
    page = console.get("/console/audit?action=client.create")
    assert "client.create" in page.text
    assert "role.create" not in page.text


def test_the_audit_trail_pages_with_the_api_cursor(console, session):
    for i in range(130):
        audit.record(session, actor=ACTOR, action="test.fill", object_type="test", object_id=i)
    session.flush()
    first = console.get("/console/audit?action=test.fill")
    assert first.text.count("<td>test.fill</td>") == 100
    older = re.search(r'<a rel="next" href="\?([^"]+)"', first.text).group(1)
    assert "action=test.fill" in older
    assert "cursor=" in older
    rest = console.get(f"/console/audit?{html.unescape(older)}")
    assert rest.text.count("<td>test.fill</td>") == 30
    assert 'rel="next"' not in rest.text
    shown = re.findall(r"<td>test (\d+)</td>", first.text + rest.text)
    assert sorted(map(int, shown)) == list(range(130))


def test_templates_escape_what_people_typed(console, world, session):
    form = {"name": "<script>alert(1)</script>", "environments": ["prod"]}
    console.post("/console/clients/new", form)
    page = console.get("/console/clients")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_an_invitation_link_is_shown_once_without_smtp(console, world):
    response = console.post(
        f"/console/clients/{world.client.id}/invite", {"email": "dev@acme.example"}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "/portal/accept?invitation=" in response.text
    assert (
        "/portal/accept?invitation=" not in console.get(f"/console/clients/{world.client.id}").text
    )


def test_a_reported_url_is_a_link_only_when_it_is_http(console, session, settings, issue):
    _, token = issue(name="other")
    report = Report(token=token, url="javascript:alert(1)", source="content")
    intake = record_reports(session, settings, origin="public", reports=[report])
    session.flush()
    page = console.get(f"/console/incidents/{intake.incident_ids[0]}")
    assert 'href="javascript:' not in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_a_role_is_edited_by_ticking_other_endpoints(console, world, session):
    form = {"name": "reader", "description": "reads", "endpoints": ["orders.create"]}
    assert console.post(f"/console/roles/{world.role.id}", form).status_code == 302
    session.expire_all()
    assert [ep.name for ep in session.get(Role, world.role.id).endpoints] == ["orders.create"]


def test_no_token_reaches_the_logs(console, world, caplog):
    caplog.set_level("DEBUG")
    form = {"name": "logged", "environment": "prod"}
    response = console.post(f"/console/clients/{world.client.id}/keys/new", form)
    token = response.text.split('<code id="new-token">')[1].split("</code>")[0]
    assert caplog.records
    assert all(token not in record.getMessage() for record in caplog.records)
    assert token not in caplog.text
