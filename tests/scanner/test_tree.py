import pytest

from scanner.errors import ScanError
from scanner.matcher import TokenMatcher
from scanner.tree import scan_bytes, scan_file, scan_tree
from tests.scanner.conftest import decoy, make_token


def test_a_tree_scan_reports_relative_paths_and_skips_dot_git(tmp_path):
    token = make_token()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(f"a = 1\nk = '{token}'\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(token)
    (tmp_path / "notes.txt").write_text(decoy(token))
    findings, stats = scan_tree(tmp_path, matcher=TokenMatcher())
    assert [(f.path, f.line, f.column, f.kind) for f in findings] == [("src/app.py", 2, 6, "file")]
    assert stats.files == 2


def test_binary_files_are_scanned_but_compressed_and_large_ones_skipped(tmp_path):
    token = make_token()
    (tmp_path / "data.db").write_bytes(b"\x00\x00" + token.encode() + b"\x00")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG " + token.encode())
    (tmp_path / "huge.log").write_bytes(b"x" * 2048 + b" " + token.encode())
    findings, stats = scan_tree(tmp_path, matcher=TokenMatcher(), max_size=1024)
    assert [f.path for f in findings] == ["data.db"]
    assert sorted(stats.skipped) == [("huge.log", "too_large"), ("logo.png", "compressed")]


def test_symlinks_are_not_followed(tmp_path):
    token = make_token()
    (tmp_path / "real.txt").write_text(token)
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    findings, _ = scan_tree(tmp_path, matcher=TokenMatcher())
    assert [f.path for f in findings] == ["real.txt"]


def test_a_single_file_and_raw_bytes(tmp_path):
    token = make_token()
    target = tmp_path / "one.cfg"
    target.write_text(f"\n\n  {token}")
    assert [(f.line, f.column) for f in scan_file(target, matcher=TokenMatcher())] == [(3, 3)]
    found = scan_bytes(token.encode(), matcher=TokenMatcher(), kind="stdin", path="-")
    assert [(f.kind, f.path) for f in found] == [("stdin", "-")]


def test_missing_paths_are_scan_errors(tmp_path):
    with pytest.raises(ScanError) as caught:
        scan_file(tmp_path / "absent", matcher=TokenMatcher())
    assert caught.value.reason == "unreadable_path"
    with pytest.raises(ScanError):
        scan_tree(tmp_path / "absent", matcher=TokenMatcher())
