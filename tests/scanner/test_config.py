"""Ignores and configuration: keyward:allow, skip-path globs, .keyward.toml and [tool.keyward]."""

import json
import os
import zipfile

import pytest

from scanner import scan_repository
from scanner.config import PathFilter
from scanner.matcher import TokenMatcher
from scanner.tree import scan_bytes
from tests.scanner.conftest import make_token, reason_of


def findings_of(result) -> list[dict]:
    return json.loads(result.stdout)["findings"]


@pytest.mark.parametrize(
    ("pattern", "path", "skipped"),
    [
        ("*.lock", "poetry.lock", True),
        ("*.lock", "deep/dir/poetry.lock", True),
        ("*.lock", "poetry.lock.py", False),
        ("tests/fixtures", "tests/fixtures/a/b.py", True),
        ("tests/fixtures/", "tests/fixtures/b.py", True),
        ("tests/fixtures", "src/tests/fixtures/b.py", False),
        ("fixtures", "src/tests/fixtures/b.py", True),
        ("docs/*.md", "docs/a.md", True),
        ("docs/*.md", "docs/sub/a.md", False),
        ("docs/**/*.md", "docs/sub/deeper/a.md", True),
        ("docs/**/*.md", "docs/a.md", True),
        ("**/secret?.txt", "a/secret1.txt", True),
        ("**/secret?.txt", "a/secret12.txt", False),
        ("dist/*.whl", "dist/pkg.whl!/pkg/settings.py", True),
        ("settings.py", "dist/pkg.whl!/pkg/settings.py", True),
        ("pkg/settings.py", "dist/pkg.whl!/pkg/settings.py", True),
        ("pkg/*.py", "a.tar!/b.whl!/pkg/settings.py", True),
        ("other/settings.py", "dist/pkg.whl!/pkg/settings.py", False),
        ("a[b].py", "a[b].py", True),
        ("**/**/x/**", "a/x/b", True),
        ("d*/*", "dist/a.whl", True),
        ("*.py", "a.py/b.txt", True),  # a directory called a.py: everything below it
        # Globs come from the scanned tree: matching must stay linear-ish, never backtrack.
        ("*a*a*a*a*a*a*b", "a" * 5000, False),
        ("**/a/**/a/**/a/**/b", "a/" * 3000, False),
        ("a[b].py", "ab.py", False),
    ],
)
def test_skip_globs(pattern, path, skipped):
    assert PathFilter((pattern,)).skips(path) is skipped


def test_an_empty_filter_skips_nothing():
    assert not PathFilter(())
    assert not PathFilter(("/",)).skips("a.py")
    assert not PathFilter(("*",)).skips(None)


def test_inline_allow_covers_only_its_own_line():
    token = make_token()
    data = f"A = '{token}'  # keyward:allow\nB = '{token}'\n".encode()
    honouring = TokenMatcher(inline_allow=True)
    assert [f.line for f in scan_bytes(data, matcher=honouring, kind="file", path="x")] == [2]
    plain = TokenMatcher()
    assert [f.line for f in scan_bytes(data, matcher=plain, kind="file", path="x")] == [1, 2]


def test_inline_allow_in_files_stdin_staged_and_history(run_cli, repo):
    allowed, other = make_token(), make_token()
    repo.commit("add", **{"a.py": f"# keyward:allow\nX = '{allowed}'  # keyward:allow\n"})
    assert run_cli(str(repo.path)).exit_code == 0
    assert run_cli(str(repo.path), "--no-history").exit_code == 0
    assert run_cli("-", stdin=f"{allowed} keyward:allow".encode()).exit_code == 0
    assert run_cli(str(repo.path), "--no-inline-allow").exit_code == 1
    repo.write("b.py", f"Y = '{other}'\nZ = '{allowed}'  # keyward:allow\n")
    repo.git("add", "b.py")
    staged = run_cli(str(repo.path), "--staged", "--format", "json")
    assert [(f["path"], f["line"]) for f in findings_of(staged)] == [("b.py", 1)]


def test_the_library_api_does_not_honour_inline_allow_by_default(repo):
    """The service revokes what leaks: a committed comment must not hide a token from it."""
    repo.commit("add", **{"a.py": f"X = '{make_token()}'  # keyward:allow\n"})
    assert len(scan_repository(repo.path, workers=1).findings) == 1
    assert scan_repository(repo.path, workers=1, inline_allow=True).findings == []


def test_keyward_toml_skips_paths_in_history_and_tree(run_cli, repo):
    repo.commit(
        "add",
        **{
            "tests__fixtures__keys.py": make_token(),
            "app.lock": make_token(),
            "src__app.py": make_token(),
            ".keyward.toml": 'skip-paths = ["tests/fixtures/**", "*.lock"]\n',
        },
    )
    for mode in ("--history", "--no-history"):
        result = run_cli(str(repo.path), mode, "--format", "json")
        assert [f["path"] for f in findings_of(result)] == ["src/app.py"], mode
        assert json.loads(result.stdout)["stats"]["skipped_by_path"] == 2


def test_skip_globs_are_relative_to_the_top_level_when_a_subdirectory_is_scanned(run_cli, repo):
    repo.commit(
        "add",
        **{
            "pkg__tests__k.py": make_token(),
            "pkg__main.py": make_token(),
            ".keyward.toml": 'skip-paths = ["pkg/tests"]\n',
        },
    )
    result = run_cli(str(repo.path / "pkg"), "--format", "json")
    assert [f["path"] for f in findings_of(result)] == ["main.py"]
    single = run_cli(str(repo.path / "pkg" / "tests" / "k.py"))
    assert single.exit_code == 0


def test_pyproject_extra_prefixes_are_searched_besides_kw(run_cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.keyward]\nextra-prefixes = ["acme"]\n')
    (tmp_path / "a.txt").write_text(f"{make_token('acme')}\n{make_token()}\n")
    result = run_cli(str(tmp_path), "--format", "json")
    assert sorted(f["hint"][:4] for f in findings_of(result)) == ["acme", "kw_p"]
    plain = run_cli(str(tmp_path), "--no-config", "--format", "json")
    assert [f["hint"][:3] for f in findings_of(plain)] == ["kw_"]


def test_a_pyproject_without_the_table_is_not_a_config(run_cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "a.txt").write_text(make_token())
    assert run_cli(str(tmp_path)).exit_code == 1


def test_precedence_cli_then_keyward_toml_then_pyproject(run_cli, repo, tmp_path):
    first, second = make_token(), make_token()
    repo.commit("add", **{"a.txt": first, "b.txt": second})
    only_a, only_b = tmp_path / "only_a.json", tmp_path / "only_b.json"
    only_a.write_text(baseline_for(run_cli, repo, "a.txt"))
    only_b.write_text(baseline_for(run_cli, repo, "b.txt"))
    (repo.path / "pyproject.toml").write_text(f'[tool.keyward]\nbaseline = "{only_a}"\n')
    assert reported(run_cli, repo) == ["b.txt"]
    (repo.path / ".keyward.toml").write_text(f'baseline = "{only_b}"\n')
    assert reported(run_cli, repo) == ["a.txt"]
    assert reported(run_cli, repo, "--baseline", str(only_a)) == ["b.txt"]
    assert reported(run_cli, repo, "--no-config") == ["a.txt", "b.txt"]


def baseline_for(run_cli, repo, name: str) -> str:
    """A baseline that accepts exactly the finding in ``name`` (history, top-level paths)."""
    result = run_cli(str(repo.path), "--no-history", "--no-config", "--format", "json")
    [finding] = [f for f in findings_of(result) if f["path"] == name]
    record = {"fingerprint": finding["fingerprint"], "hint": finding["hint"], "path": name}
    return json.dumps({"version": 1, "findings": [record]})


def reported(run_cli, repo, *args: str) -> list[str]:
    result = run_cli(str(repo.path), "--no-history", "--format", "json", *args)
    return sorted({f["path"] for f in findings_of(result)} & {"a.txt", "b.txt"})


def test_cli_skip_path_replaces_the_configured_globs(run_cli, tmp_path):
    (tmp_path / ".keyward.toml").write_text('skip-paths = ["a.txt"]\n')
    (tmp_path / "a.txt").write_text(make_token())
    (tmp_path / "b.txt").write_text(make_token())
    assert [f["path"] for f in findings_of(run_cli(str(tmp_path), "--format", "json"))] == ["b.txt"]
    result = run_cli(str(tmp_path), "--skip-path", "b.txt", "--format", "json")
    assert [f["path"] for f in findings_of(result)] == ["a.txt"]


def test_a_relative_configured_baseline_is_relative_to_its_file(run_cli, tmp_path):
    (tmp_path / "a.txt").write_text(make_token())
    assert run_cli(str(tmp_path), "--write-baseline", str(tmp_path / "base.json")).exit_code == 0
    (tmp_path / ".keyward.toml").write_text('baseline = "base.json"\n')
    assert run_cli(str(tmp_path)).exit_code == 0
    (tmp_path / ".keyward.toml").write_text('baseline = "not-written-yet.json"\n')
    assert run_cli(str(tmp_path)).exit_code == 1


@pytest.mark.parametrize(
    "content",
    [
        "skip-path = ['x']\n",  # a typo must not silently scan everything
        "skip-paths = 'x'\n",
        "skip-paths = [1]\n",
        "extra-prefixes = 'acme'\n",
        "baseline = 3\n",
        "baseline = ''\n",
        "not toml [\n",
        "x = '\\ud800'\n",
    ],
)
def test_a_bad_config_is_an_error_with_a_reason(run_cli, tmp_path, content):
    (tmp_path / ".keyward.toml").write_text(content)
    result = run_cli(str(tmp_path), "--json")
    assert result.exit_code == 2
    assert reason_of(result) == "bad_config"
    assert "Traceback" not in result.output


def test_bad_bytes_and_a_bad_prefix_in_the_config(run_cli, tmp_path):
    (tmp_path / ".keyward.toml").write_bytes(b"baseline = '\xff'\n")
    assert reason_of(run_cli(str(tmp_path), "--json")) == "bad_config"
    (tmp_path / ".keyward.toml").write_text("extra-prefixes = ['BAD!']\n")
    assert reason_of(run_cli(str(tmp_path), "--json")) == "bad_prefix"


def test_too_many_or_too_wild_globs_are_refused(run_cli, tmp_path):
    (tmp_path / "a.txt").write_text("clean")
    assert reason_of(run_cli(str(tmp_path), "--skip-path", "*?" * 40, "--json")) == "bad_config"
    (tmp_path / ".keyward.toml").write_text(f"skip-paths = {['x'] * 1001!r}\n")
    assert reason_of(run_cli(str(tmp_path), "--json")) == "bad_config"


def test_an_explicit_config_file(run_cli, tmp_path):
    (tmp_path / "scan").mkdir()
    (tmp_path / "scan" / "a.txt").write_text(make_token())
    settings = tmp_path / "settings.toml"
    settings.write_text('skip-paths = ["a.txt"]\n')
    assert run_cli(str(tmp_path / "scan")).exit_code == 1
    assert run_cli(str(tmp_path / "scan"), "--config", str(settings)).exit_code == 0
    missing = run_cli(str(tmp_path / "scan"), "--config", str(tmp_path / "none.toml"), "--json")
    assert missing.exit_code == 2
    assert reason_of(missing) == "bad_config"


def test_a_settings_file_of_another_user_is_ignored(run_cli, tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text(make_token())
    settings = tmp_path / ".keyward.toml"
    settings.write_text('skip-paths = ["a.txt"]\n')
    assert run_cli(str(tmp_path)).exit_code == 0
    if os.getuid() == 0:
        os.chown(settings, 65534, 65534)  # root hands the file to nobody
    else:
        monkeypatch.setattr(os, "getuid", lambda: settings.stat().st_uid + 1)
    assert run_cli(str(tmp_path)).exit_code == 1


def test_config_is_not_looked_for_above_the_repository(run_cli, repo):
    (repo.path.parent / ".keyward.toml").write_text('skip-paths = ["a.txt"]\n')
    repo.commit("add", **{"a.txt": make_token()})
    assert run_cli(str(repo.path)).exit_code == 1


def test_a_broken_pyproject_without_our_table_is_ignored(run_cli, tmp_path):
    (tmp_path / "a.txt").write_text(make_token())
    (tmp_path / "pyproject.toml").write_text("[project\nname = 'x'\n")
    assert run_cli(str(tmp_path)).exit_code == 1
    (tmp_path / "pyproject.toml").write_text("[tool.keyward\nskip-paths = ['a.txt']\n")
    result = run_cli(str(tmp_path), "--json")
    assert result.exit_code == 2
    assert reason_of(result) == "bad_config"


def test_skipped_paths_are_not_even_opened(run_cli, tmp_path):
    """A skip glob keeps the scan out of a directory: a bomb there is never inflated."""
    (tmp_path / "fixtures").mkdir()
    with zipfile.ZipFile(tmp_path / "fixtures" / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("zeros", bytes(64 << 20))
    (tmp_path / "a.txt").write_text(make_token())
    assert reason_of(run_cli(str(tmp_path), "--json")) == "archive_bomb"
    (tmp_path / ".keyward.toml").write_text('skip-paths = ["fixtures"]\n')
    result = run_cli(str(tmp_path), "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["stats"]["skipped_by_path"] == 1
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as archive:
        archive.write(tmp_path / "fixtures" / "bomb.zip", "fixtures/bomb.zip")
        archive.writestr("b.txt", make_token())
    inside = run_cli(str(outer), "--skip-path", "fixtures/**", "--format", "json")
    assert inside.exit_code == 1, inside.output
    assert [f["path"][-5:] for f in findings_of(inside)] == ["b.txt"]
