import pickle
import time

import pytest

from scanner import history, workers
from scanner.errors import ScanError
from scanner.history import scan_repository
from tests.scanner.conftest import decoy, make_token


def places(findings) -> set[tuple]:
    return {(f.kind, f.path, f.commit, f.line, f.column) for f in findings}


def test_token_in_head_is_attributed_to_the_commit_and_path(repo):
    token = make_token()
    commit = repo.commit("add config", **{"app__settings.py": f"x = 1\nKEY = '{token}'\n"})
    findings, _, _ = scan_repository(repo.path)
    assert places(findings) == {("blob", "app/settings.py", commit, 2, 8)}
    assert findings[0].token == token


def test_token_only_in_deleted_history_is_found(repo):
    token = make_token()
    added = repo.commit("oops", **{"secret.txt": token})
    repo.git("rm", "-q", "secret.txt")
    repo.commit("remove the secret")
    findings, _, _ = scan_repository(repo.path)
    assert places(findings) == {("blob", "secret.txt", added, 1, 1)}


def test_token_only_on_a_side_branch_is_found(repo):
    repo.commit("base", **{"readme.md": "hello\n"})
    repo.git("checkout", "-q", "-b", "feature")
    token = make_token()
    side = repo.commit("feature work", **{"feature.py": f"T = '{token}'\n"})
    repo.git("checkout", "-q", "main")
    findings, state, _ = scan_repository(repo.path)
    assert places(findings) == {("blob", "feature.py", side, 1, 6)}
    assert state.refs["refs/heads/feature"] == side


def test_tokens_in_commit_messages_count_lines_from_the_message(repo):
    token = make_token(env="dev")
    commit = repo.commit(f"subject\n\nbody line\nleaked {token} here")
    findings, _, _ = scan_repository(repo.path)
    assert places(findings) == {("commit_message", None, commit, 4, 8)}


def test_token_in_an_annotated_tag_message(repo):
    repo.commit("base", **{"a.txt": "a"})
    token = make_token()
    repo.git("tag", "-a", "v1", "-m", f"release {token}")
    findings, _, _ = scan_repository(repo.path)
    assert [(f.kind, f.line) for f in findings] == [("tag_message", 1)]


def test_decoys_with_bad_checksums_are_never_findings(repo):
    token = make_token()
    repo.commit(f"decoy {decoy(token)}", **{"d.txt": f"{decoy(token)}\n{token[:-2]}\n"})
    findings, _, _ = scan_repository(repo.path)
    assert findings == []


def test_tokens_inside_binary_files_are_found(repo):
    token = make_token()
    commit = repo.commit("db", **{"data.sqlite": b"\x00\x01SQLite\x00" + token.encode() + b"\xff"})
    findings, _, _ = scan_repository(repo.path)
    assert places(findings) == {("blob", "data.sqlite", commit, 1, 10)}


def test_a_blob_written_only_by_a_merge_is_attributed_to_the_merge(repo):
    repo.commit("base", **{"a.txt": "a\n"})
    repo.git("checkout", "-q", "-b", "other")
    repo.commit("other", **{"b.txt": "b\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main", **{"c.txt": "c\n"})
    repo.git("merge", "-q", "--no-commit", "other")
    token = make_token()
    repo.write("evil.txt", token)
    repo.git("add", "evil.txt")
    repo.git("commit", "-q", "-m", "merge")
    merge = repo.git("rev-parse", "HEAD")
    findings, _, _ = scan_repository(repo.path)
    assert places(findings) == {("blob", "evil.txt", merge, 1, 1)}


def test_each_object_is_reported_once_at_its_oldest_commit(repo):
    token = make_token()
    first = repo.commit("one", **{"a.txt": token})
    repo.commit("two", **{"copy.txt": token})  # same blob again: the same object
    findings, _, _ = scan_repository(repo.path)
    assert places(findings) == {("blob", "a.txt", first, 1, 1)}


def test_a_token_kept_through_later_edits_is_reported_where_it_came_in(repo):
    token = make_token()
    first = repo.commit("add", **{"conf.py": f"KEY = '{token}'\n", "other.py": f"{token}\n"})
    for number in range(3):
        repo.commit(f"edit {number}", **{"conf.py": f"KEY = '{token}'\n{token}\n# {number}\n"})
    findings, _, _ = scan_repository(repo.path)
    assert places(findings) == {("blob", "conf.py", first, 1, 8), ("blob", "other.py", first, 1, 1)}


def test_unreachable_objects_are_dropped_unless_asked_for(repo):
    repo.commit("base", **{"a.txt": "a"})
    repo.write("staged.txt", make_token())
    repo.git("add", "staged.txt")  # a blob in the object store that no commit has
    result = scan_repository(repo.path)
    assert result.findings == []
    assert result.stats.unreachable_dropped == 1
    kept = scan_repository(repo.path, include_unreachable=True)
    assert [f.kind for f in kept.findings] == ["unreachable"]


def test_incremental_scan_reads_only_what_is_new(repo):
    first = make_token()
    repo.commit("one", **{"a.txt": first})
    _, state, _ = scan_repository(repo.path)
    started = time.monotonic()
    again = scan_repository(repo.path, since_refs=state)
    assert again.findings == []
    assert again.stats.objects == 0
    assert time.monotonic() - started < 1.0
    second = make_token()
    commit = repo.commit("two", **{"b.txt": second})
    findings, new_state, _ = scan_repository(repo.path, since_refs=state.refs)
    assert places(findings) == {("blob", "b.txt", commit, 1, 1)}
    assert new_state.refs["refs/heads/main"] == commit


def test_incremental_scan_survives_a_tip_that_no_longer_exists(repo):
    repo.commit("one", **{"a.txt": "a"})
    _, state, _ = scan_repository(repo.path)
    gone = {"refs/heads/old": "0123456789abcdef0123456789abcdef01234567"}
    token = make_token()
    repo.commit("two", **{"b.txt": token})
    findings, _, _ = scan_repository(repo.path, since_refs={**state.refs, **gone})
    assert [f.path for f in findings] == ["b.txt"]


def test_since_a_revision_scans_only_later_commits(repo):
    repo.commit("old", **{"old.txt": make_token()})
    base = repo.commit("base", **{"x.txt": "x"})
    later = repo.commit(f"msg {make_token()}", **{"new.txt": make_token()})
    findings, _, _ = scan_repository(repo.path, since_rev=base)
    assert {(f.kind, f.path, f.commit) for f in findings} == {
        ("blob", "new.txt", later),
        ("commit_message", None, later),
    }


def test_an_unknown_revision_is_a_scan_error(repo):
    repo.commit("one", **{"a.txt": "a"})
    with pytest.raises(ScanError) as caught:
        scan_repository(repo.path, since_rev="no-such-branch")
    assert caught.value.reason == "bad_revision"


def test_a_directory_that_is_not_a_repository(tmp_path):
    with pytest.raises(ScanError) as caught:
        scan_repository(tmp_path)
    assert caught.value.reason == "not_a_repository"


def test_the_worker_pool_finds_the_same_as_one_process(repo, monkeypatch):
    planted = {}
    for number in range(12):
        token = make_token()
        planted[f"f{number}.txt"] = token
        repo.commit(f"c{number}", **{f"f{number}.txt": "filler\n" * 2000 + token})
    monkeypatch.setattr(history, "POOL_THRESHOLD", 0)
    pooled = scan_repository(repo.path, workers=2)
    single = scan_repository(repo.path, workers=1)
    assert places(pooled.findings) == places(single.findings)
    assert {f.path: f.token for f in pooled.findings} == planted


def test_scan_errors_keep_their_reason_across_processes():
    sent = pickle.dumps(ScanError("git cat-file failed", reason="git_failed"))
    error = pickle.loads(sent)  # noqa: S301 - our own bytes, as a worker pool sends them
    assert (error.message, error.reason) == ("git cat-file failed", "git_failed")


def test_a_failing_worker_is_a_scan_error(repo, monkeypatch):
    repo.commit("one", **{"a.txt": make_token()})
    real_open_git = workers.open_git

    def broken_cat_file(repo_path, args, **options):
        return real_open_git(repo_path, ["cat-file", "--no-such-option"], **options)

    monkeypatch.setattr(history, "POOL_THRESHOLD", 0)
    monkeypatch.setattr(workers, "open_git", broken_cat_file)  # forked workers inherit it
    with pytest.raises(ScanError) as caught:
        scan_repository(repo.path, workers=2)
    assert caught.value.reason == "git_failed"


def test_odd_paths_are_reported_as_they_are(repo):
    token = make_token()
    name = "dir with space/ünï\tcode.txt"
    repo.write(name, token)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "odd")
    findings, _, _ = scan_repository(repo.path)
    assert [f.path for f in findings] == [name]
