import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from scanner.errors import ScanError
from scanner.history import scan_repository
from scanner.remote import FetchOptions, cache_path, is_url, mirror
from tests.scanner.conftest import make_token
from tests.stalled import StalledServer


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


class Recorder(BaseHTTPRequestHandler):
    """Answers 404 (a redirect under /moved) and records who asked, for what, with which header."""

    seen: ClassVar[list] = []

    def do_GET(self):  # http.server calls it by this name
        type(self).seen.append((self.headers["Host"], self.headers["Authorization"], self.path))
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "http://elsewhere.test/x.git/info/refs")
        else:
            self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_git_connects_to_the_pinned_address_and_sends_the_token_to_its_origin_only(
    recorder, tmp_path
):
    port = recorder.server_port
    pin = ("repo.example", port, "127.0.0.1")
    for origin in (f"http://repo.example:{port}/", f"http://other.example:{port}/"):
        options = FetchOptions(protocols=("http",), pin=pin, token="tok-123", token_origin=origin)
        with pytest.raises(ScanError) as caught:
            mirror(f"http://repo.example:{port}/r.git", cache_dir=tmp_path, options=options)
        assert caught.value.reason == "not_found"
        assert "tok-123" not in caught.value.message
    # The name never resolved: git connected to the pinned address, naming the real host.
    assert [(host, auth) for host, auth, _ in Recorder.seen] == [
        (f"repo.example:{port}", "Bearer tok-123"),
        (f"repo.example:{port}", None),
    ]


def test_redirects_are_refused(recorder, tmp_path):
    port = recorder.server_port
    options = FetchOptions(protocols=("http",), pin=("repo.example", port, "127.0.0.1"))
    with pytest.raises(ScanError) as caught:
        mirror(f"http://repo.example:{port}/moved.git", cache_dir=tmp_path, options=options)
    assert caught.value.reason == "redirect_refused"
    assert len(Recorder.seen) == 1


def test_only_the_urls_own_protocol_is_allowed(repo, tmp_path):
    repo.commit("one", **{"a.txt": "a"})
    options = FetchOptions(protocols=("https",))
    with pytest.raises(ScanError) as caught:
        mirror(f"file://{repo.path}", cache_dir=tmp_path, options=options)
    assert caught.value.reason == "scheme_not_allowed"


def test_a_stalled_server_is_cut_off_by_the_time_limit(tmp_path):
    server = StalledServer()
    try:
        options = FetchOptions(
            protocols=("http",),
            timeout_seconds=1.0,
            low_speed_seconds=30,
            pin=("127.0.0.1", server.port, "127.0.0.1"),
        )
        with pytest.raises(ScanError) as caught:
            mirror(f"http://127.0.0.1:{server.port}/r.git", cache_dir=tmp_path, options=options)
    finally:
        server.close()
    assert caught.value.reason == "timeout"
    assert server.git_requests() == 1
