from scanner.matcher import TokenMatcher
from scanner.staged import added_lines, scan_staged
from tests.scanner.conftest import decoy, make_token


def test_only_added_lines_of_staged_files_are_reported(repo):
    old = make_token()
    repo.commit("base", **{"conf.py": f"OLD = '{old}'\nx = 1\n"})
    new = make_token()
    repo.write("conf.py", f"OLD = '{old}'\nx = 1\nNEW = '{new}'\n")
    repo.write("other.txt", f"{decoy(new)}\n")
    repo.git("add", "-A")
    findings = scan_staged(repo.path, matcher=TokenMatcher())
    assert [(f.kind, f.path, f.line, f.column) for f in findings] == [("staged", "conf.py", 3, 8)]
    assert findings[0].token == new


def test_unstaged_changes_are_ignored_and_a_first_commit_works(repo):
    token = make_token()
    repo.write("staged.txt", "clean\n")
    repo.git("add", "staged.txt")
    repo.write("unstaged.txt", token)
    assert scan_staged(repo.path, matcher=TokenMatcher()) == []
    repo.write("staged.txt", f"clean\n{token}\n")
    repo.git("add", "staged.txt")
    assert [f.line for f in scan_staged(repo.path, matcher=TokenMatcher())] == [2]


def test_binary_staged_files_and_odd_names(repo):
    token = make_token()
    repo.commit("base", **{"a.txt": "a"})
    repo.write("blob.bin", b"\x00\xff" + token.encode() + b"\x00")
    repo.write("with space é.txt", token)
    repo.git("add", "-A")
    found = scan_staged(repo.path, matcher=TokenMatcher())
    assert sorted(f.path for f in found) == ["blob.bin", "with space é.txt"]


def test_added_lines_parses_hunk_headers():
    diff = b"+++ b/x.py\n@@ -1,0 +7,2 @@\n+a\n+b\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n"
    assert list(added_lines(diff)) == [("x.py", 7, b"a"), ("x.py", 8, b"b")]
