"""The scanner-only install: `pip install keyward` brings the scanner, nothing of the service.

The service's packages are blocked in a child interpreter by a meta path finder, so
``import scanner`` or ``keyward scan`` that reached for any of them would fail here.
"""

import shlex
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import yaml

from tests.scanner.conftest import make_token

ROOT = Path(__file__).resolve().parents[2]
SERVER_MODULES = (
    "alembic",
    "celery",
    "cryptography",
    "flask",
    "gunicorn",
    "jinja2",
    "jwt",
    "kombu",
    "prometheus_client",
    "psycopg",
    "redis",
    "requests",
    "sqlalchemy",
    "werkzeug",
)
BLOCKER = textwrap.dedent(
    """
    import sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"blocked: {name}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    """
)


def run_blocked(code: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where the service's packages cannot be imported."""
    source = f"BLOCKED = {SERVER_MODULES!r}\n{BLOCKER}\n{textwrap.dedent(code)}"
    return subprocess.run(
        [sys.executable, "-c", source, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd)},
    )


def requirement_names(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        name = requirement.split(";")[0].split("[")[0]
        for mark in "<>=!~ ":
            name = name.split(mark)[0]
        names.add(name.strip().lower().replace("_", "-"))
    return names


def test_the_default_install_has_only_the_scanners_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert requirement_names(project["dependencies"]) == {"click", "dulwich", "isal"}
    server = requirement_names(project["optional-dependencies"]["server"])
    assert {"flask", "celery", "sqlalchemy", "psycopg", "gunicorn"} <= server
    assert "keyward" in requirement_names(project["optional-dependencies"]["dev"])


def test_the_blocker_really_blocks():
    result = run_blocked("import flask")
    assert result.returncode != 0
    assert "blocked: flask" in result.stderr


def test_import_scanner_needs_no_service_package():
    result = run_blocked(
        """
        import scanner, scanner.cli, scanner.sarif, scanner.report
        loaded = sorted(name for name in sys.modules if name.partition(".")[0] in BLOCKED)
        print("loaded:", loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout


def test_keyward_scan_runs_a_history_scan_without_the_service(repo):
    token = make_token()
    repo.commit("add", **{"app__settings.py": f"KEY = '{token}'\n"})
    result = run_blocked(
        """
        import sys
        from web.entry import main
        sys.argv = ["keyward", "scan", sys.argv[1], "--format", "json"]
        main()
        """,
        str(repo.path),
        cwd=repo.path,
    )
    assert result.returncode == 1, result.stderr
    assert '"path": "app/settings.py"' in result.stdout
    assert token not in result.stdout + result.stderr


def test_a_service_command_without_the_extra_says_what_to_install(tmp_path):
    result = run_blocked(
        """
        import sys
        from web.entry import main
        sys.argv = ["keyward", "serve"]
        main()
        """,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "pip install 'keyward[server]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_pre_commit_hook_entry_runs_without_the_service(repo):
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    argv = shlex.split(hook["entry"])
    assert argv[:2] == ["keyward", "scan"]
    code = f"""
        import sys
        from web.entry import main
        sys.argv = {argv!r}
        main()
        """
    repo.commit("base", **{"a.txt": "a"})
    repo.write("clean.py", "x = 1\n")
    repo.git("add", "clean.py")
    assert run_blocked(code, cwd=repo.path).returncode == 0
    repo.write("leak.py", f"KEY = '{make_token()}'\n")
    repo.git("add", "leak.py")
    leaked = run_blocked(code, cwd=repo.path)
    assert leaked.returncode == 1
    assert "leak.py:1:8" in leaked.stdout


def test_the_hook_path_loads_no_archive_or_toml_modules(repo):
    """A commit hook pays for what it uses: tarfile, zipfile and tomllib load on demand."""
    repo.commit("base", **{"a.txt": "a"})
    result = run_blocked(
        """
        import sys
        from web.entry import main
        sys.argv = ["keyward", "scan", "--staged", "--quiet"]
        try:
            main()
        finally:
            heavy = ("tarfile", "zipfile", "tomllib", "scanner.archive", "scanner.chunks")
            print("loaded:", [name for name in heavy if name in sys.modules])
        """,
        cwd=repo.path,
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout
