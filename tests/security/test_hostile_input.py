"""Hostile input never yields a 5xx: a clear 4xx, and nothing changes.

Out-of-range integers, NUL bytes and lone surrogates, absurd lengths, wrong types and
deep nesting, on every surface: the admin API, the gateway, the console and the CLI.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from keystore.models import AuditEvent
from web.cli import main
from web.openapi import openapi_path
from web.schemas import SCHEMAS

HUGE = "99999999999999999999"
JUST_PAST = str(2**31)
ERROR_KEYS = {"error", "reason", "message"}


def audit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent))


def id_routes(app):
    """(method, rule) for every route with an integer in its path, across all surfaces."""
    for rule in app.url_map.iter_rules():
        if "<int:" in rule.rule:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule


def fill(rule, number: str) -> str:
    path = re.sub(r"<int:\w+>", number, rule.rule)
    # <any(deactivate, reactivate, revoke):change>: the first choice
    return re.sub(r"<any\(([^)]*)\):\w+>", lambda m: m.group(1).split(",")[0].strip(), path)


@pytest.mark.parametrize("number", [HUGE, JUST_PAST, "0"])
def test_out_of_range_ids_are_404_in_every_route(app, admin, session, number):
    before = audit_count(session)
    routes = list(id_routes(app))
    assert len(routes) >= 30  # the API, the console and the portal
    for method, rule in routes:
        path = fill(rule, number)
        response = admin(method, path, json={})
        assert response.status_code == 404, (method, path, response.status_code)
        assert set(response.json) >= ERROR_KEYS, (method, path)
    assert audit_count(session) == before


def test_the_reported_findings(admin):
    assert admin("GET", f"/api/v1/clients/{HUGE}").status_code == 404
    assert admin("GET", f"/api/v1/keys/{JUST_PAST}").status_code == 404
    nul = admin("GET", "/api/v1/audit?action=%00")
    assert (nul.status_code, nul.json["reason"], nul.json["field"]) == (422, "bad_text", "action")


@pytest.mark.parametrize(
    "query",
    [
        "limit=99999999999999999999",
        "before_id=99999999999999999999",
        "before_id=2147483648",
        "limit=%C2%B2",  # "²": isdigit() says yes, int() says no
        "limit=-1",
    ],
)
def test_out_of_range_query_numbers_are_422(admin, query):
    for path in ("/api/v1/audit", "/api/v1/incidents", "/api/v1/usage"):
        if path == "/api/v1/usage":
            query = query.replace("limit", "client_id").replace("before_id", "key_id")
        response = admin("GET", f"{path}?{query}")
        assert response.status_code == 422, (path, query)
        assert set(response.json) >= ERROR_KEYS


def test_nul_and_surrogates_in_every_documented_query_parameter(app, admin):
    document = admin("GET", "/api/v1/openapi.json").json
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["in"] != "query":
                    continue
                url = path.replace("{repo_id}", "1")
                for value, status in (("a%00b", 422), ("x" * 9000, 414)):
                    response = admin(method.upper(), f"{url}?{param['name']}={value}")
                    assert response.status_code == status, (url, param["name"], value[:9])
                    assert response.json["reason"] in ("bad_text", "too_long")
                    checked += 1
                # Not UTF-8 (a lone surrogate's bytes): decoded as U+FFFD, never a 5xx.
                response = admin(method.upper(), f"{url}?{param['name']}=%ED%A0%80")
                assert response.status_code < 500
    assert checked >= 30


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00%2B23:59",
        "until=9999-12-31T23:59:59-23:59",
        "since=99999-01-01T00:00:00Z",
        "until=2026-01-01T00:00:00",
    ],
)
def test_date_times_out_of_range_are_422(admin, query):
    for path in ("/api/v1/audit", "/api/v1/usage"):
        response = admin("GET", f"{path}?{query}")
        assert response.status_code == 422, (path, query)
        assert response.json["field"] in ("since", "until")


def test_a_jwt_naming_an_out_of_range_token_id_is_malformed(client):
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    for claims in ('{"tid":99999999999999999999}', '{"tid":-1}', '{"tid":"\u0000"}'):
        body = base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=")
        response = client.post(
            "/v1/verify", json={"token": f"{header}.{body}.", "endpoint": "orders.list"}
        )
        assert response.status_code in (200, 401), claims
        assert response.json["reason"] == "malformed"


def test_console_query_numbers_out_of_range_are_refused(console):
    for query in (f"limit={HUGE}", f"limit={JUST_PAST}", "limit=-1", "cursor=!!", "cursor=W10"):
        assert console.get(f"/console/audit?{query}").status_code == 422, query
    assert console.get("/console/audit?action=%00").status_code == 422


FORM_FIELDS = (
    *("name", "description", "contact_email", "role", "environments", "projects", "endpoints"),
    *("environment", "allowed_ips", "blocked_ips", "expires_at", "grace_seconds"),
    *("email", "password", "confirm"),
)
FORM_VALUES = (HUGE, "²", "-1", "9999-12-31T23:59:59-23:59", "t" * 300_000, "::/0", "x\ny")


def form_posts(app, prefix: str, ids: dict):
    """Every POST route of a surface, its ids filled with objects that exist."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix) and "POST" in rule.methods:
            path = re.sub(r"<int:(\w+)>", lambda m: str(ids.get(m.group(1), 1)), rule.rule)
            yield re.sub(r"<any\(([^)]*)\):\w+>", lambda m: m.group(1).split(",")[0], path)


@pytest.mark.parametrize("value", FORM_VALUES)
def test_every_console_form_survives_hostile_fields(console, world, issue, value):
    key, _ = issue()
    ids = {"client_id": world.client.id, "key_id": key.id, "role_id": world.role.id}
    posts = list(form_posts(console.client.application, "/console", ids))
    assert len(posts) >= 15
    for path in posts:
        response = console.post(path, dict.fromkeys(FORM_FIELDS, value))
        assert response.status_code < 500, path


@pytest.mark.parametrize("value", FORM_VALUES)
def test_every_portal_form_survives_hostile_fields(browser, acme_user, world, issue, value):
    key, _ = issue()
    assert browser.sign_in("portal", "dev@acme.example").status_code == 302
    posts = list(form_posts(browser.client.application, "/portal", {"key_id": key.id}))
    assert len(posts) >= 5
    for path in posts:
        response = browser.post(path, dict.fromkeys(FORM_FIELDS, value))
        assert response.status_code < 500, path


@pytest.mark.parametrize("path", ["/api/v1/projects/a%00b", "/api/v1/admins/a%00b@x.example"])
def test_nul_in_a_path_is_422(admin, path):
    response = admin("DELETE", path)
    assert (response.status_code, response.json["reason"]) == (422, "bad_text")


def body_operations(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            # JSON bodies (the OAuth token endpoint takes a form: tests/web/test_oauth.py)
            if body and "application/json" in body["content"]:
                name = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
                yield (
                    method.upper(),
                    path.replace("{", "").replace("}", "").replace("client_id", "1"),
                    name,
                )


def real_path(path: str, world) -> str:
    for name in ("key_id", "role_id", "repo_id", "issuer_id", "webhook_id"):
        path = path.replace(name, "1")
    return path.replace("/1/keys", f"/{world.client.id}/keys").replace(
        "clients/1", f"clients/{world.client.id}"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [("a\x00b", "bad_text"), ("a\ud800b", "bad_text")],
)
def test_nul_and_lone_surrogates_in_every_body_field(admin, session, world, text, reason):
    document = admin("GET", "/api/v1/openapi.json").json
    before = audit_count(session)
    checked = 0
    for method, path, name in body_operations(document):
        schema = SCHEMAS[name]
        for field, spec in schema.get("properties", {}).items():
            if "string" not in json.dumps(spec):
                continue
            body = json.dumps({field: text}, ensure_ascii=True)
            response = admin(
                method, real_path(path, world), data=body, content_type="application/json"
            )
            assert response.status_code == 422, (method, path, field, response.json)
            assert response.json["reason"] == reason
            assert response.json["field"] == field
            checked += 1
    assert checked >= 40
    assert audit_count(session) == before


def wrong_value(spec: dict):
    """A value of a type the field never takes."""
    kinds = json.dumps(spec)
    if '"object"' in kinds:  # e.g. a key as PEM text or a JWK object
        return 12345
    if '"string"' in kinds or '"enum"' in kinds:
        return {"an": "object"}
    return "text"


def test_wrong_types_in_every_body_field(admin, session, world):
    document = admin("GET", "/api/v1/openapi.json").json
    before = audit_count(session)
    checked = 0
    for method, path, name in body_operations(document):
        for field, spec in SCHEMAS[name].get("properties", {}).items():
            response = admin(method, real_path(path, world), json={field: wrong_value(spec)})
            assert response.status_code == 422, (method, path, field)
            assert response.json["field"].startswith(field), (method, path, field, response.json)
            checked += 1
    assert checked >= 40
    assert audit_count(session) == before


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ("[" * 5000 + "]" * 5000, 400, "too_deep"),
        ('{"name": ' + "[" * 500 + "]" * 500 + "}", 400, "too_deep"),
        ('{"name": ' + "1" * 5000 + "}", 400, "malformed_json"),
        ('{"name": NaN}', 400, "malformed_json"),
        (b'{"name": "\xff"}', 400, "malformed_json"),
        ('{"name": "x", "description": ' + json.dumps("d" * (10 * 1024 * 1024)) + "}", 413, None),
        ('{"name": "' + "n" * 101 + '"}', 422, "too_long"),
        ('{"name": "x", "interval_seconds": 99999999999999999999}', 422, "unknown_field"),
    ],
)
def test_absurd_bodies_are_refused(admin, session, body, status, reason):
    before = audit_count(session)
    response = admin("POST", "/api/v1/projects", data=body, content_type="application/json")
    assert response.status_code == status
    assert set(response.json) >= ERROR_KEYS
    if reason:
        assert response.json["reason"] == reason
    assert audit_count(session) == before


@pytest.mark.parametrize(
    "body",
    [
        {"grace_seconds": 99999999999999999999},
        {"grace_seconds": -1},
        {"grace_seconds": 1.5},
        {"grace_seconds": True},
        {"grace_seconds": "60"},
    ],
)
def test_out_of_range_numbers_in_bodies_are_422(admin, session, issue, body):
    key, _ = issue()
    before = audit_count(session)
    response = admin("POST", f"/api/v1/keys/{key.id}/regenerate", json=body)
    assert (response.status_code, response.json["field"]) == (422, "grace_seconds")
    assert audit_count(session) == before


def test_an_expiry_past_the_last_instant_is_422(admin, world):
    response = admin(
        "POST",
        f"/api/v1/clients/{world.client.id}/keys",
        json={"name": "x", "environment": "prod", "expires_at": "9999-12-31T23:59:59-23:59"},
    )
    assert (response.status_code, response.json["field"]) == (422, "expires_at")


def test_the_gateway_refuses_hostile_headers_and_bodies(client):
    auth = client.get(
        "/v1/auth", headers={"Authorization": "Bearer x", "X-Keyward-Endpoint": "a\x00b"}
    )
    assert (auth.status_code, auth.json["field"]) == (422, "X-Keyward-Endpoint")
    long = client.get("/v1/auth", headers={"X-Keyward-Endpoint": "e" * 10_000})
    assert long.status_code == 431
    verify = client.post(
        "/v1/verify",
        data='{"token": "a\\u0000", "endpoint": "e"}',
        content_type="application/json",
    )
    assert (verify.status_code, verify.json["field"]) == (422, "token")
    deep = client.post("/v1/verify", data="[" * 5000, content_type="application/json")
    assert (deep.status_code, deep.json["reason"]) == (400, "too_deep")


def test_the_public_revocation_endpoint_refuses_hostile_bodies(client):
    for body in ("[" * 5000, '{"credentials": ["\\ud800"]}', '{"credentials": 5}'):
        response = client.post("/v1/revoke", data=body, content_type="application/json")
        assert 400 <= response.status_code < 500, body[:20]


def test_console_forms_refuse_nul_and_surrogates(app):
    browser = app.test_client()
    for data in ({"email": "a\x00@b.example", "password": "x"}, {"email": "x", "password": "\x00"}):
        response = browser.post("/console/login", data=data)
        assert response.status_code == 422  # the console's own error page
    # A form field the browser sends as a lone surrogate arrives as U+FFFD: refused politely.
    response = browser.post(
        "/portal/login",
        data=b"email=%ED%A0%80&password=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code < 500


@pytest.fixture(params=["sqlite", "postgresql"])
def cli(request, tmp_path, monkeypatch):
    from tests.conftest import TEST_PEPPER
    from tests.databases import recreate_database

    env = {"KEYWARD_DATA_DIR": str(tmp_path)}
    if request.param == "postgresql":
        fresh = recreate_database(
            request.getfixturevalue("postgres_url"), "keyward_hostile_cli", migrate=False
        )
        env |= {
            "KEYWARD_DATABASE_URL": fresh,
            "KEYWARD_PEPPER": TEST_PEPPER,
            "KEYWARD_MODE": "production",
        }
    for name in ("KEYWARD_DATABASE_URL", "KEYWARD_REDIS_URL", "KEYWARD_PEPPER", "KEYWARD_MODE"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args):  # "y": commands that ask for confirmation get it
        return runner.invoke(main, list(args), env=env, input="y\n", catch_exceptions=False)

    assert run("migrate").exit_code == 0
    return run


@pytest.mark.parametrize(
    "args",
    [
        ("key", "revoke", HUGE),
        ("key", "delete", JUST_PAST),
        ("key", "regenerate", HUGE),
        ("key", "jwt", HUGE),
        ("key", "list", HUGE),
        ("client", "show", HUGE),
        ("client", "delete", HUGE),
        ("role", "show", JUST_PAST),
        ("incident", "show", HUGE),
        ("repo", "runs", HUGE),
        ("audit", "--before-id", HUGE),
        ("key", "revoke", "-5"),
        ("key", "revoke"),
        ("--no-such-option",),
        ("no-such-command",),
    ],
)
def test_cli_out_of_range_ids_are_one_error_line(cli, args):
    before = cli("--json", "audit", "--limit", "500").stdout
    result = cli(*args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert cli("--json", "audit", "--limit", "500").stdout == before


def test_cli_text_that_is_not_utf8_is_one_error_line(cli):
    # Bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape).
    result = cli("project", "add", "bad\udcffname")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["error: arguments must be valid UTF-8 text"]


def test_openapi_documents_the_bounds(admin):
    document = admin("GET", "/api/v1/openapi.json").json
    show = document["paths"][openapi_path("/api/v1/clients/<int:client_id>")]["get"]
    assert show["parameters"][0]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 2**31 - 1,
    }
    audit = {
        p["name"]: p["schema"] for p in document["paths"]["/api/v1/audit"]["get"]["parameters"]
    }
    assert audit["limit"] == {"type": "integer", "minimum": 1, "maximum": 500}
    # ... and the view reads the same bounds.
    assert admin("GET", "/api/v1/audit?limit=500").status_code == 200
    refused = admin("GET", "/api/v1/audit?limit=501")
    assert (refused.status_code, refused.json["field"]) == (422, "limit")
    key_input = document["components"]["schemas"]["KeyCreate"]
    assert key_input["additionalProperties"] is False
    assert key_input["required"] == ["name", "environment"]
    assert key_input["properties"]["name"]["maxLength"] == 100
