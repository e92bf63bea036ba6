import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scanner.conftest import decoy, make_token, reason_of

ROOT = Path(__file__).resolve().parents[2]


def test_a_clean_tree_exits_0(run_cli, tmp_path):
    (tmp_path / "a.txt").write_text("nothing\n")
    result = run_cli(str(tmp_path))
    assert result.exit_code == 0
    assert "no Keyward tokens found" in result.output


def test_findings_exit_1_and_never_print_the_token(run_cli, repo):
    token = make_token()
    repo.commit(f"message {token}", **{"a.py": f"K = '{token}'\n"})
    for output_format in ("text", "json", "sarif"):
        result = run_cli(str(repo.path), "--format", output_format)
        assert result.exit_code == 1, result.output
        assert token not in result.output
        assert token[8:-4] not in result.output  # not even the middle of it


def test_a_repository_scans_history_by_default_and_the_tree_on_request(run_cli, repo):
    token = make_token()
    repo.commit("add", **{"gone.txt": token})
    repo.git("rm", "-q", "gone.txt")
    repo.commit("remove")
    assert run_cli(str(repo.path)).exit_code == 1
    assert run_cli(str(repo.path), "--no-history").exit_code == 0


def test_a_plain_directory_inside_a_repository_scans_files(run_cli, repo):
    repo.commit("add", **{"old.txt": make_token()})
    repo.git("rm", "-q", "old.txt")
    repo.commit("remove", **{"sub__x.txt": "clean"})
    assert run_cli(str(repo.path / "sub")).exit_code == 0


def test_json_report_has_hints_digests_and_places(run_cli, repo):
    token = make_token()
    commit = repo.commit("add", **{"dir__a.py": f"\n  {token}\n"})
    result = run_cli(str(repo.path), "--format", "json")
    document = json.loads(result.stdout)
    [finding] = document["findings"]
    assert finding["path"] == "dir/a.py"
    assert (finding["line"], finding["column"], finding["commit"]) == (2, 3, commit)
    assert finding["hint"].startswith("kw_prod_")
    assert "…" in finding["hint"]
    assert len(finding["sha256"]) == 64
    assert document["stats"]["mode"] == "history"


def test_output_file_and_baseline_round_trip(run_cli, repo, tmp_path):
    repo.commit("add", **{"a.txt": make_token()})
    baseline = tmp_path / "baseline.json"
    written = run_cli(str(repo.path), "--write-baseline", str(baseline))
    assert written.exit_code == 0
    assert make_token() not in baseline.read_text()
    report = tmp_path / "report.json"
    again = run_cli(
        str(repo.path), "--baseline", str(baseline), "--format", "json", "--output", str(report)
    )
    assert again.exit_code == 0
    assert json.loads(report.read_text())["stats"]["baselined"] == 1
    repo.commit("more", **{"b.txt": make_token()})
    assert run_cli(str(repo.path), "--baseline", str(baseline)).exit_code == 1


def test_a_broken_baseline_is_an_error_with_a_reason(run_cli, repo, tmp_path):
    repo.commit("add", **{"a.txt": "x"})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run_cli(str(repo.path), "--baseline", str(bad), "--json")
    assert result.exit_code == 2
    assert reason_of(result) == "bad_baseline"


def test_staged_mode(run_cli, repo):
    repo.commit("base", **{"a.txt": "a"})
    assert run_cli(str(repo.path), "--staged").exit_code == 0
    repo.write("new.txt", make_token())
    repo.git("add", "new.txt")
    result = run_cli(str(repo.path), "--staged")
    assert result.exit_code == 1
    assert "new.txt:1:1" in result.output


def test_since_and_state_options(run_cli, repo, tmp_path):
    repo.commit("old", **{"old.txt": make_token()})
    base = repo.commit("base", **{"x.txt": "x"})
    assert run_cli(str(repo.path), "--since", base).exit_code == 0
    state = tmp_path / "state.json"
    assert run_cli(str(repo.path), "--state", str(state)).exit_code == 1
    assert run_cli(str(repo.path), "--state", str(state)).exit_code == 0
    repo.commit("new", **{"new.txt": make_token()})
    result = run_cli(str(repo.path), "--state", str(state))
    assert result.exit_code == 1
    assert "new.txt" in result.output
    assert "old.txt" not in result.output


def test_stdin_and_single_file(run_cli, tmp_path):
    token = make_token()
    assert run_cli("-", stdin=f"x {token}\n{decoy(token)}".encode()).exit_code == 1
    assert run_cli("-", stdin=decoy(token).encode()).exit_code == 0
    target = tmp_path / "f.env"
    target.write_text(f"KEY={token}\n")
    result = run_cli(str(target))
    assert result.exit_code == 1
    assert "f.env:1:5" in result.output


def test_custom_prefix(run_cli, tmp_path):
    (tmp_path / "a.txt").write_text(make_token("acme"))
    assert run_cli(str(tmp_path)).exit_code == 0
    assert run_cli(str(tmp_path), "--prefix", "acme").exit_code == 1


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["/no/such/path"], "unreadable_path"),
        (["--prefix", "BAD", "."], "bad_prefix"),
        (["--since", "nope", "{repo}"], "bad_revision"),
        (["file:///no/such/repo.git"], "not_found"),
    ],
)
def test_errors_exit_2_with_one_line(run_cli, repo, args, reason):
    repo.commit("a", **{"a.txt": "a"})
    result = run_cli(*(arg.format(repo=repo.path) for arg in args), "--json")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0  # the error line, and no summary
    assert reason_of(result) == reason
    assert "Traceback" not in result.output


def test_python_dash_m_scanner_runs_as_a_program(repo):
    token = make_token()
    repo.commit("add", **{"a.txt": token})
    done = subprocess.run(
        [sys.executable, "-m", "scanner", str(repo.path), "--format", "json"],
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1
    assert len(json.loads(done.stdout)["findings"]) == 1
    # No progress bar when stderr is not a terminal: only the one-line summary.
    assert done.stderr.startswith(b"keyward scan: history, ")
    assert done.stderr.count(b"\n") == 1
    assert b"\r" not in done.stderr
    assert token.encode() not in done.stdout


def test_unreachable_objects_on_request(run_cli, repo):
    repo.commit("base", **{"a.txt": "a"})
    repo.write("added.txt", make_token())
    repo.git("add", "added.txt")
    assert run_cli(str(repo.path)).exit_code == 0
    result = run_cli(str(repo.path), "--include-unreachable")
    assert result.exit_code == 1
    assert result.output.startswith("object ")
