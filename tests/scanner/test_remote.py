import pytest

from scanner.errors import ScanError
from scanner.history import scan_repository
from scanner.remote import cache_path, is_url, mirror
from tests.scanner.conftest import make_token


def test_a_file_url_is_mirrored_then_fetched_incrementally(repo, tmp_path):
    first = make_token()
    repo.commit("one", **{"a.txt": first})
    url = f"file://{repo.path}"
    cache = tmp_path / "cache"
    path = mirror(url, cache_dir=cache)
    assert path == cache_path(url, cache)
    findings, state, _ = scan_repository(path)
    assert [f.token for f in findings] == [first]
    second = make_token()
    repo.git("checkout", "-q", "-b", "topic")
    commit = repo.commit("two", **{"b.txt": second})
    assert mirror(url, cache_dir=cache) == path  # fetched, not cloned again
    findings, _, stats = scan_repository(path, since_refs=state)
    assert [(f.token, f.commit, f.path) for f in findings] == [(second, commit, "b.txt")]
    assert stats.objects == 2  # the new commit and its blob


def test_a_failed_clone_leaves_nothing_behind(tmp_path):
    url = f"file://{tmp_path}/does-not-exist"
    with pytest.raises(ScanError) as caught:
        mirror(url, cache_dir=tmp_path / "cache")
    assert caught.value.reason == "not_found"
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://github.com/o/r.git", True),
        ("file:///srv/r.git", True),
        ("git@github.com:o/r.git", True),
        ("./repo", False),
        ("/abs/path", False),
        ("C:/x", False),
    ],
)
def test_is_url(target, expected):
    assert is_url(target) is expected
