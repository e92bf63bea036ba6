"""The OpenAPI 3 document, built from the routes themselves so it cannot drift.

Each view declares its operation with :func:`operation`; :func:`build_document`
walks the URL map.  A test checks that every route is documented and that every
response the test-suite sees matches its documented status and schema.
"""

from __future__ import annotations

import re

from flask import Flask

from web.inputs import ID, PATH_TEXT, query_schema
from web.paging import LINK_HEADER, PAGE_QUERY
from web.schemas import SCHEMAS, array_of, ref

_CONVERTER_RE = re.compile(r"<(?:([a-z]+):)?([a-z_]+)>")
DOCUMENTED_PREFIXES = ("/api/v1/", "/v1/", "/healthz", "/livez", "/oauth/", "/.well-known/")


def operation(
    summary: str,
    *,
    responses: dict[int, str | None],
    body: str | None = None,
    query: dict[str, str | dict] | None = None,
    headers: dict[str, dict] | None = None,
    tag: str = "admin",
    media: str = "application/json",
    paged: bool = False,
):
    """Attach OpenAPI facts to a view.  ``responses`` maps status to a schema name (or None).

    ``paged``: a list following the ``limit``/``cursor`` convention (web.paging).
    """

    def attach(view):
        view.openapi = {
            "summary": summary,
            "responses": responses,
            "body": body,
            "query": {**(query or {}), **(PAGE_QUERY if paged else {})},
            "paged": paged,
            "headers": headers or {},
            "tag": tag,
            "media": media,
        }
        return view

    return attach


def openapi_path(rule: str) -> str:
    return _CONVERTER_RE.sub(r"{\2}", rule)


def documented_rules(app: Flask):
    """(rule, method, view) for every route the document must describe."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(DOCUMENTED_PREFIXES):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, view


def build_document(app: Flask) -> dict:
    paths: dict[str, dict] = {}
    for rule, method, view in documented_rules(app):
        meta = getattr(view, "openapi", None)
        if meta is None:
            continue  # the accuracy test reports it
        op = _operation(rule, view, meta)
        if len(rule.methods - {"HEAD", "OPTIONS"}) > 1:  # one view, several operations
            op["operationId"] += f"_{method.lower()}"
        paths.setdefault(openapi_path(rule.rule), {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Keyward",
            "version": "1.0.0",
            "description": "API clients, keys, gateway verification and leak response.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "keyward": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A Keyward token or JWT",
                }
            },
        },
    }


def _operation(rule, view, meta: dict) -> dict:
    op = {
        "summary": meta["summary"],
        "tags": [meta["tag"]],
        "operationId": rule.endpoint.replace(".", "_"),
        "responses": {
            str(status): _response(schema) for status, schema in meta["responses"].items()
        },
    }
    privilege = getattr(view, "privilege", None)
    if privilege:
        op["security"] = [{"keyward": []}]
        op["x-keyward-privilege"] = privilege
        for status in (401, 403, 429, 503):
            op["responses"].setdefault(str(status), _response("Error"))
    params = [
        {
            "name": arg,
            "in": "path",
            "required": True,
            "schema": ID if converter == "int" else PATH_TEXT,
        }
        for converter, arg in _CONVERTER_RE.findall(rule.rule)
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": query_schema(kind)}
        for name, kind in meta["query"].items()
    ]
    params += [{"name": name, "in": "header", **spec} for name, spec in meta["headers"].items()]
    if params:
        op["parameters"] = params
    if any(p["in"] == "path" for p in params):  # an out-of-range id names nothing
        op["responses"].setdefault("404", _response("Error"))
    # web.guards, for every request: a long path or query (414), NUL in the path, query or a
    # header (422), a huge header (431).
    for status in (414, 422, 431):
        op["responses"].setdefault(str(status), _response("Error"))
    if meta.get("paged"):
        op["responses"]["200"]["headers"] = {"Link": LINK_HEADER}
        op["responses"].setdefault("422", _response("Error"))
    if meta["body"]:
        for status in (400, 413, 415, 422):
            op["responses"].setdefault(str(status), _response("Error"))
        op["requestBody"] = {
            "required": True,
            "content": {meta.get("media", "application/json"): {"schema": ref(meta["body"])}},
        }
    return op


def _response(schema: str | None) -> dict:
    if schema is None:
        return {"description": "no body"}
    body = array_of(schema[:-2]) if schema.endswith("[]") else ref(schema)
    return {"description": schema, "content": {"application/json": {"schema": body}}}
