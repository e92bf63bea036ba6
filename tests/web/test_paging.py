"""Every API list pages the same way: ?limit= and ?cursor= in, Link rel="next" out."""

from __future__ import annotations

import base64
import re

import pytest

from keystore.services import audit, catalogue, clients, roles
from tests.worlds import ACTOR

LINK_RE = re.compile(r'^<(?P<url>/api/v1/[^>]+)>; rel="next"$')


def _items(body):
    """The listed things, whatever the list's shape (an array, or its object)."""
    if isinstance(body, list):
        return body
    return body.get("events", body.get("rows"))


def _ids(items: list) -> list:
    return [(item["bucket"], item["outcome"]) if "bucket" in item else item for item in items]


def _paged_paths(admin, fill: dict) -> list[str]:
    document = admin("GET", "/api/v1/openapi.json").json
    paths = []
    for path, operations in document["paths"].items():
        names = {p["name"] for p in operations.get("get", {}).get("parameters", [])}
        if {"limit", "cursor"} <= names:
            paths.append(path.format(**fill) if "{" in path else path)
    return paths


def _walk(admin, path: str, limit: int) -> tuple[list, int]:
    """Follow the Link header from the first page to the last."""
    url, seen, pages = f"{path}{'&' if '?' in path else '?'}limit={limit}", [], 0
    while url:
        response = admin("GET", url)
        assert response.status_code == 200, (url, response.json)
        seen += _items(response.json)
        pages += 1
        link = response.headers.get("Link")
        url = LINK_RE.match(link).group("url") if link else None
        assert pages < 200, path
    return seen, pages


@pytest.fixture
def crowded(session, world, issue, admin_token):
    """Several of each kind, so every list spans pages of one."""
    for i in range(3):
        catalogue.create_project(session, actor=ACTOR, name=f"p{i}")
        roles.create_role(session, actor=ACTOR, name=f"r{i}", endpoints=["orders.list"])
        clients.create_client(session, actor=ACTOR, name=f"c{i}", role="reader", environments=[])
        issue(name=f"k{i}")
    session.flush()


def test_every_list_walks_page_by_page_to_the_same_whole(admin, world, crowded):
    paths = _paged_paths(admin, {"client_id": world.client.id, "repo_id": 1})
    assert {"/api/v1/clients", "/api/v1/roles", "/api/v1/audit", "/api/v1/usage"} <= set(paths)
    assert "/api/v1/incidents" in paths
    assert f"/api/v1/clients/{world.client.id}/keys" in paths
    multi = 0
    for path in paths:
        if path.endswith("/repositories/1/runs"):
            continue  # no repository in this world: its own test below
        whole = admin("GET", f"{path}?limit=500")
        assert whole.status_code == 200, path
        assert "Link" not in whole.headers, path
        walked, pages = _walk(admin, path, limit=1)
        # Same rows, same order, none twice (usage counts grow with these very requests).
        assert _ids(walked) == _ids(_items(whole.json)), path
        multi += pages > 2
    assert multi >= 7  # clients, roles, projects, endpoints, environments, keys, audit, ...


def test_the_next_link_keeps_the_filters(admin, world):
    for i in range(3):
        admin("PATCH", f"/api/v1/clients/{world.client.id}", json={"description": str(i)})
    first = admin("GET", "/api/v1/audit?action=client.update&limit=2")
    assert [e["after"]["description"] for e in first.json["events"]] == ["2", "1"]
    link = LINK_RE.match(first.headers["Link"]).group("url")
    assert "action=client.update" in link
    assert "limit=2" in link
    assert f"cursor={first.json['next_cursor']}" in link
    rest = admin("GET", link)
    assert [e["after"]["description"] for e in rest.json["events"]] == ["0"]
    assert rest.json["next_cursor"] is None
    assert "Link" not in rest.headers


def test_rows_added_between_pages_neither_repeat_nor_shift(admin, session, world, crowded):
    first = admin("GET", "/api/v1/clients?limit=2")
    names = [c["name"] for c in first.json]
    clients.create_client(session, actor=ACTOR, name="a-first", role="reader", environments=[])
    session.flush()
    rest, _ = _walk(admin, LINK_RE.match(first.headers["Link"]).group("url"), limit=2)
    later = [c["name"] for c in rest]
    assert not set(names) & set(later)
    assert names + later == sorted(names + later)
    assert "a-first" not in later


def test_the_default_page_is_fifty(admin, session):
    for i in range(60):
        audit.record(session, actor=ACTOR, action="test.fill", object_type="test", object_id=i)
    session.flush()
    page = admin("GET", "/api/v1/audit?action=test.fill")
    assert len(page.json["events"]) == 50
    assert page.json["next_cursor"]
    assert len(admin("GET", "/api/v1/audit?action=test.fill&limit=500").json["events"]) == 60


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


HOSTILE_LIMITS = ["-1", "0", "501", "99999999999999999999", "12345678901234567890123", "1.5", "x"]
HOSTILE_CURSORS = [
    "!!!",
    "a%00b",
    "%ED%A0%80",  # a lone surrogate's bytes
    "A" * 1025,
    "eyJ",  # a broken base64 of JSON
    _b64("{}"),
    _b64("null"),
    _b64("[]"),
    _b64("[1, 2, 3, 4, 5]"),
    _b64("[99999999999999999999, 99999999999999999999, 99999999999999999999]"),
    _b64("[-1, -1, -1]"),
    _b64('["\\u0000", "\\u0000", "\\u0000"]'),
    _b64('["\\ud800", "\\ud800", "\\ud800"]'),
    _b64("[true, true, true]"),
    _b64("[1.5, 1.5, 1.5]"),
    _b64("[" * 700 + "]" * 700),
    _b64("[" + ",".join(['"' + "x" * 301 + '"'] * 3) + "]"),
]


def test_hostile_limits_and_cursors_are_422_on_every_list(admin, world):
    paths = _paged_paths(admin, {"client_id": world.client.id, "repo_id": 1})
    for path in paths:
        if path.endswith("/runs"):
            continue  # repository 1 does not exist: 404 before the page is read
        for value in HOSTILE_LIMITS:
            response = admin("GET", f"{path}?limit={value}")
            assert response.status_code == 422, (path, value)
            assert response.json["field"] == "limit"
        for value in HOSTILE_CURSORS:
            response = admin("GET", f"{path}?cursor={value}")
            assert response.status_code in (414, 422), (path, value[:20], response.status_code)
            assert response.json["reason"] in ("bad_cursor", "bad_text", "too_long"), path


def test_a_cursor_of_another_shape_is_refused_and_an_empty_one_is_page_one(admin, world):
    clients_cursor = _b64('["acme", 1]')  # (name, id): the clients' order
    assert admin("GET", f"/api/v1/clients?cursor={clients_cursor}").status_code == 200
    refused = admin("GET", f"/api/v1/environments?cursor={clients_cursor}")
    assert (refused.status_code, refused.json["reason"]) == (422, "bad_cursor")
    assert admin("GET", "/api/v1/roles?cursor=").json == admin("GET", "/api/v1/roles").json


def test_the_document_describes_the_convention(admin):
    document = admin("GET", "/api/v1/openapi.json").json
    operation = document["paths"]["/api/v1/clients"]["get"]
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert params["limit"]["minimum"] == 1
    assert params["limit"]["maximum"] == 500
    assert "Link" in operation["responses"]["200"]["headers"]
    assert "422" in operation["responses"]
