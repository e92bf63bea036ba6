import subprocess

from scanner.batch import scan_stream
from scanner.matcher import TokenMatcher
from tests.scanner.conftest import make_token


def batch_of(repo, object_ids: list[str]):
    """A live ``git cat-file --batch`` process fed the given ids."""
    process = subprocess.Popen(
        ["git", "-C", str(repo.path), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    process.stdin.write(("\n".join(object_ids) + "\n").encode())
    process.stdin.close()
    return process


def test_objects_larger_than_the_window_and_many_small_ones(repo):
    big_token, small_token = make_token(), make_token()
    repo.commit("big", **{"big.txt": "x" * 300_000 + " " + big_token + "\n"})
    repo.commit("small", **{f"s{n}.txt": f"{n}\n" for n in range(50)} | {"t.txt": small_token})
    ids = repo.git("rev-list", "--objects", "--all", "--no-object-names").split()
    with batch_of(repo, ids) as process:
        hits = scan_stream(process.stdout.fileno(), matcher=TokenMatcher(), window_size=4096)
    assert sorted(hit.token for hit in hits) == sorted([big_token, small_token])
    big = next(hit for hit in hits if hit.token == big_token)
    assert (big.object_type, big.line, big.column) == ("blob", 1, 300_002)


def test_missing_objects_are_skipped(repo):
    token = make_token()
    repo.commit("one", **{"a.txt": token})
    blob = repo.blob_id("HEAD", "a.txt")
    progress = []
    with batch_of(repo, ["0" * 40, blob, "f" * 40]) as process:
        hits = scan_stream(
            process.stdout.fileno(), matcher=TokenMatcher(), progress=progress.append
        )
    assert [(hit.object_id, hit.token) for hit in hits] == [(blob, token)]
    assert sum(progress) > 0
