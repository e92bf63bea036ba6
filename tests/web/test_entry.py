"""The ``keyward`` entry point: ``keyward scan`` must start without the web stack."""

import subprocess
import sys

HEAVY = ("flask", "sqlalchemy", "celery", "alembic")


def run_keyward(*args: str) -> subprocess.CompletedProcess:
    """``keyward ARGS`` through the console entry point; prints which heavy packages loaded."""
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: print('loaded:', [m for m in {HEAVY!r} if m in sys.modules]))\n"
        f"sys.argv = ['keyward', *{list(args)!r}]\n"
        "from web.entry import main\n"
        "main()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_keyward_scan_loads_no_web_stack(tmp_path):
    target = tmp_path / "clean.txt"
    target.write_text("nothing to see\n")
    done = run_keyward("scan", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "loaded: []"


def test_help_lists_every_command_and_loads_none():
    done = run_keyward("--help")
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout
    assert "scan" in done.stdout
    assert done.stdout.splitlines()[-1] == "loaded: []"  # the table, not the commands
