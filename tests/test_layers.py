"""The four floors import one way: web -> rotation -> scanner -> keystore.

Every module's imports are read with ``ast`` (lazy imports inside functions too), so an
import that climbs back up fails here, not in a review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ("keystore", "scanner", "rotation", "web")
# What each floor may never import (its own floor and the ones below are fine).
FORBIDDEN = {
    "keystore": {"scanner", "rotation", "web", "flask", "celery", "kombu"},
    "scanner": {"rotation", "web", "flask", "celery", "kombu"},
    "rotation": {"web", "flask", "werkzeug", "jinja2"},
    "web": set(),
}


def imported_packages(path: Path) -> set[str]:
    """The top-level package of every import in ``path``, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def modules(floor: str) -> list[Path]:
    return sorted((ROOT / floor).rglob("*.py"))


@pytest.mark.parametrize("floor", FLOORS)
def test_no_import_climbs_back_up(floor):
    assert modules(floor), f"no modules found under {floor}/"
    climbing = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[floor])
        for path in modules(floor)
    }
    assert {name: bad for name, bad in climbing.items() if bad} == {}


# The leak response's services: plain functions the web view, the CLI and the tasks call.
# Celery stays in the task layer (tasks, the Celery app, the worker's own plumbing).
SERVICES = (
    "alerts",
    "alert_body",
    "cli",
    "context",
    "dispatch",
    "hooks",
    "incidents",
    "intake",
    "mail",
    "messages",
    "metrics",
    "notifications",
    "outbound",
    "partner_keys",
    "partners",
    "policy",
    "response",
    "scans",
    "steps",
)


@pytest.mark.parametrize("name", SERVICES)
def test_the_services_know_nothing_of_celery(name):
    path = ROOT / "rotation" / f"{name}.py"
    assert not imported_packages(path) & {"celery", "kombu"}


def test_the_checker_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from web.app import create_app\n    import flask.json\n")
    assert imported_packages(module) == {"web", "flask"}
