import multiprocessing
import pickle
import subprocess

import pytest

from scanner import history, objectstore, workers
from scanner.errors import ScanError
from scanner.history import scan_repository
from tests.gitrepos import Repo
from tests.scanner.conftest import decoy, make_token

# How the objects are stored when the scan runs: each test runs with each.
LAYOUTS = {
    # As committed: one zlib file per object.
    "loose": None,
    # One pack, deltas against earlier entries (OFS_DELTA), read without git.
    "packed": ["repack", "-a", "-d", "-f", "-q", "--depth=50", "--window=50"],
    # Deltas that name their base by id (REF_DELTA), as some servers send them.
    "ref_deltas": ["-c", "repack.useDeltaBaseOffset=false", "repack", "-a", "-d", "-f", "-q"],
    # Every object both in a pack and loose: each must be reported once.
    "packed_and_loose": ["repack", "-a", "-q"],
    # A version 1 pack index: the direct reader leaves the store to git.
    "read_by_git": ["-c", "pack.indexVersion=1", "repack", "-a", "-d", "-f", "-q"],
}


def arrange(path, layout: str) -> None:
    if LAYOUTS[layout] is not None:
        subprocess.run(["git", "-C", str(path), *LAYOUTS[layout]], check=True)


@pytest.fixture(params=LAYOUTS)
def scan(request):
    """``scan_repository``, after storing the repository's objects the layout's way."""

    def run(path, **options):
        arrange(path, request.param)
        return scan_repository(path, **options)

    return run


def places(findings) -> set[tuple]:
    return {(f.kind, f.path, f.commit, f.line, f.column) for f in findings}


def test_token_in_head_is_attributed_to_the_commit_and_path(repo, scan):
    token = make_token()
    commit = repo.commit("add config", **{"app__settings.py": f"x = 1\nKEY = '{token}'\n"})
    findings, _, _ = scan(repo.path)
    assert places(findings) == {("blob", "app/settings.py", commit, 2, 8)}
    assert findings[0].token == token


def test_token_only_in_deleted_history_is_found(repo, scan):
    token = make_token()
    added = repo.commit("oops", **{"secret.txt": token})
    repo.git("rm", "-q", "secret.txt")
    repo.commit("remove the secret")
    findings, _, _ = scan(repo.path)
    assert places(findings) == {("blob", "secret.txt", added, 1, 1)}


def test_token_only_on_a_side_branch_is_found(repo, scan):
    repo.commit("base", **{"readme.md": "hello\n"})
    repo.git("checkout", "-q", "-b", "feature")
    token = make_token()
    side = repo.commit("feature work", **{"feature.py": f"T = '{token}'\n"})
    repo.git("checkout", "-q", "main")
    findings, state, _ = scan(repo.path)
    assert places(findings) == {("blob", "feature.py", side, 1, 6)}
    assert state.refs["refs/heads/feature"] == side


def test_tokens_in_commit_messages_count_lines_from_the_message(repo, scan):
    token = make_token(env="dev")
    commit = repo.commit(f"subject\n\nbody line\nleaked {token} here")
    findings, _, _ = scan(repo.path)
    assert places(findings) == {("commit_message", None, commit, 4, 8)}


def test_token_in_an_annotated_tag_message(repo, scan):
    repo.commit("base", **{"a.txt": "a"})
    token = make_token()
    repo.git("tag", "-a", "v1", "-m", f"release {token}")
    findings, _, _ = scan(repo.path)
    assert [(f.kind, f.line) for f in findings] == [("tag_message", 1)]


def test_decoys_with_bad_checksums_are_never_findings(repo, scan):
    token = make_token()
    repo.commit(f"decoy {decoy(token)}", **{"d.txt": f"{decoy(token)}\n{token[:-2]}\n"})
    findings, _, _ = scan(repo.path)
    assert findings == []


def test_tokens_inside_binary_files_are_found(repo, scan):
    token = make_token()
    commit = repo.commit("db", **{"data.sqlite": b"\x00\x01SQLite\x00" + token.encode() + b"\xff"})
    findings, _, _ = scan(repo.path)
    assert places(findings) == {("blob", "data.sqlite", commit, 1, 10)}


def test_a_blob_written_only_by_a_merge_is_attributed_to_the_merge(repo, scan):
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
    findings, _, _ = scan(repo.path)
    assert places(findings) == {("blob", "evil.txt", merge, 1, 1)}


def test_each_object_is_reported_once_at_its_oldest_commit(repo, scan):
    token = make_token()
    first = repo.commit("one", **{"a.txt": token})
    repo.commit("two", **{"copy.txt": token})  # same blob again: the same object
    findings, _, _ = scan(repo.path)
    assert places(findings) == {("blob", "a.txt", first, 1, 1)}


def test_a_token_kept_through_later_edits_is_reported_where_it_came_in(repo, scan):
    token = make_token()
    first = repo.commit("add", **{"conf.py": f"KEY = '{token}'\n", "other.py": f"{token}\n"})
    for number in range(3):
        repo.commit(f"edit {number}", **{"conf.py": f"KEY = '{token}'\n{token}\n# {number}\n"})
    findings, _, _ = scan(repo.path)
    assert places(findings) == {("blob", "conf.py", first, 1, 8), ("blob", "other.py", first, 1, 1)}


def test_unreachable_objects_are_dropped_unless_asked_for(repo, scan):
    repo.commit("base", **{"a.txt": "a"})
    repo.write("staged.txt", make_token())
    repo.git("add", "staged.txt")  # a blob in the object store that no commit has
    result = scan(repo.path)
    assert result.findings == []
    assert result.stats.unreachable_dropped == 1
    kept = scan(repo.path, include_unreachable=True)
    assert [f.kind for f in kept.findings] == ["unreachable"]


def test_incremental_scan_reads_only_what_is_new(repo, scan):
    first = make_token()
    repo.commit("one", **{"a.txt": first})
    _, state, _ = scan(repo.path)
    again = scan(repo.path, since_refs=state)
    assert again.findings == []
    assert again.stats.objects == 0
    second = make_token()
    commit = repo.commit("two", **{"b.txt": second})
    findings, new_state, _ = scan(repo.path, since_refs=state.refs)
    assert places(findings) == {("blob", "b.txt", commit, 1, 1)}
    assert new_state.refs["refs/heads/main"] == commit


def test_incremental_scan_survives_a_tip_that_no_longer_exists(repo, scan):
    repo.commit("one", **{"a.txt": "a"})
    _, state, _ = scan(repo.path)
    gone = {"refs/heads/old": "0123456789abcdef0123456789abcdef01234567"}
    token = make_token()
    repo.commit("two", **{"b.txt": token})
    findings, _, _ = scan(repo.path, since_refs={**state.refs, **gone})
    assert [f.path for f in findings] == ["b.txt"]


def test_since_a_revision_scans_only_later_commits(repo, scan):
    repo.commit("old", **{"old.txt": make_token()})
    base = repo.commit("base", **{"x.txt": "x"})
    later = repo.commit(f"msg {make_token()}", **{"new.txt": make_token()})
    findings, _, _ = scan(repo.path, since_rev=base)
    assert {(f.kind, f.path, f.commit) for f in findings} == {
        ("blob", "new.txt", later),
        ("commit_message", None, later),
    }


def test_an_unknown_revision_is_a_scan_error(repo, scan):
    repo.commit("one", **{"a.txt": "a"})
    with pytest.raises(ScanError) as caught:
        scan(repo.path, since_rev="no-such-branch")
    assert caught.value.reason == "bad_revision"


def test_a_directory_that_is_not_a_repository(tmp_path):
    with pytest.raises(ScanError) as caught:
        scan_repository(tmp_path)
    assert caught.value.reason == "not_a_repository"


@pytest.mark.parametrize("layout", ["loose", "packed", "read_by_git"])
def test_the_worker_pool_finds_the_same_as_one_process(repo, monkeypatch, layout):
    planted = {}
    for number in range(12):
        token = make_token()
        planted[f"f{number}.txt"] = token
        repo.commit(f"c{number}", **{f"f{number}.txt": "filler\n" * 2000 + token})
    arrange(repo.path, layout)
    monkeypatch.setattr(history, "POOL_THRESHOLD", 0)
    monkeypatch.setattr(objectstore, "POOL_THRESHOLD", 0)
    pooled = scan_repository(repo.path, workers=2)
    single = scan_repository(repo.path, workers=1)
    assert places(pooled.findings) == places(single.findings)
    assert {f.path: f.token for f in pooled.findings} == planted
    assert pooled.stats.objects == single.stats.objects


class ProgressRecorder:
    def __init__(self) -> None:
        self.total, self.done = None, 0

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, count: int) -> None:
        self.done += count


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_adds_up_to_the_objects_read(repo, scan, monkeypatch, workers):
    for number in range(6):
        repo.commit(f"c{number}", **{"a.txt": f"version {number}\n" * 500})
    monkeypatch.setattr(history, "POOL_THRESHOLD", 0)
    monkeypatch.setattr(objectstore, "POOL_THRESHOLD", 0)
    recorder = ProgressRecorder()
    result = scan(repo.path, workers=workers, progress=recorder)
    assert recorder.total == recorder.done
    # Loose trees count as progress (a loose file's type is known once it is read), not as
    # objects searched.
    assert recorder.done >= result.stats.objects >= 12


def _scan_in_a_daemon(path, results) -> None:
    results.put(sorted(f.token for f in scan_repository(path, workers=2).findings))


def test_a_daemonic_process_scans_without_a_pool(repo, monkeypatch):
    # Celery runs tasks in daemonic processes, which may not start processes of their own.
    tokens = sorted(make_token() for _ in range(3))
    for number, token in enumerate(tokens):
        repo.commit(f"c{number}", **{f"f{number}.txt": "filler\n" * 2000 + token})
    arrange(repo.path, "packed")
    monkeypatch.setattr(objectstore, "POOL_THRESHOLD", 0)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    daemon = context.Process(target=_scan_in_a_daemon, args=(repo.path, results), daemon=True)
    daemon.start()
    assert results.get(timeout=10) == tokens
    daemon.join(timeout=10)
    assert daemon.exitcode == 0


def test_scan_errors_keep_their_reason_across_processes():
    sent = pickle.dumps(ScanError("git cat-file failed", reason="git_failed"))
    error = pickle.loads(sent)  # noqa: S301 - our own bytes, as a worker pool sends them
    assert (error.message, error.reason) == ("git cat-file failed", "git_failed")


def test_a_failing_git_worker_is_a_scan_error(repo, monkeypatch):
    repo.commit("one", **{"a.txt": make_token()})
    arrange(repo.path, "read_by_git")
    real_open_git = workers.open_git

    def broken_cat_file(repo_path, args, **options):
        return real_open_git(repo_path, ["cat-file", "--no-such-option"], **options)

    monkeypatch.setattr(history, "POOL_THRESHOLD", 0)
    monkeypatch.setattr(workers, "open_git", broken_cat_file)  # forked workers inherit it
    with pytest.raises(ScanError) as caught:
        scan_repository(repo.path, workers=2)
    assert caught.value.reason == "git_failed"


def test_a_sha256_repository_is_scanned_with_full_ids(tmp_path):
    repo = Repo(tmp_path / "sha256", object_format="sha256")
    token = make_token()
    commit = repo.commit("one", **{"a.txt": token})
    findings, _, _ = scan_repository(repo.path)
    assert [(f.commit, f.object_id) for f in findings] == [(commit, repo.blob_id(commit, "a.txt"))]
    assert len(commit) == 64


def test_odd_paths_are_reported_as_they_are(repo, scan):
    token = make_token()
    name = "dir with space/ünï\tcode.txt"
    repo.write(name, token)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "odd")
    findings, _, _ = scan(repo.path)
    assert [f.path for f in findings] == [name]
