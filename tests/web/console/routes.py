"""The console's and the portal's routes, with real ids filled in, for tests that visit them all."""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.routing import Rule

SURFACES = ("/console", "/portal")


@dataclass
class Ids:
    client_id: int
    role_id: int
    key_id: int
    incident_id: int
    change: str = "deactivate"
    webhook_id: int = 1
    issuer_id: int = 1
    admin_id: int = 1
    tag: str = "prod"


def routes(app, method: str) -> list[Rule]:
    """Every rule under the console or the portal that answers ``method``."""
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith(SURFACES) and method in rule.methods
        ),
        key=lambda rule: rule.rule,
    )


def url(app, rule: Rule, ids: Ids) -> str:
    values = {name: getattr(ids, name) for name in rule.arguments}
    with app.test_request_context():
        return app.url_for(rule.endpoint, **values)
