"""The direct object-store reader, checked against git's own view of real packs."""

import hashlib
import subprocess
import zlib
from pathlib import Path

import pytest
from dulwich.pack import apply_delta

from scanner import objectstore, packread
from scanner.errors import ScanError
from scanner.history import scan_repository
from scanner.packindex import UnsupportedStore, read_index
from scanner.packplan import OFS_DELTA, REF_DELTA, TYPE_NAMES, pack_order, plan_pack
from tests.scanner.conftest import make_token


def the_pack(repo) -> Path:
    (index,) = (repo.path / ".git" / "objects" / "pack").glob("*.idx")
    return index


def verify_pack(repo, index: Path) -> dict[str, tuple[str, str | None]]:
    """git's answer: each object's type and, for a delta, its base's id."""
    listing = repo.git("verify-pack", "-v", str(index))
    objects = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 5 and len(fields[0]) == 40:
            objects[fields[0]] = (fields[1], fields[6] if len(fields) == 7 else None)
    return objects


@pytest.fixture
def history_repo(repo):
    """A file edited twenty times (a delta chain), a token in its oldest version only."""
    token = make_token()
    lines = [f"line {number} of a long enough file to be worth a delta\n" for number in range(80)]
    first = repo.commit("add", **{"app.py": "".join(lines) + f"KEY = '{token}'\n"})
    for number in range(20):
        # Each version grows: git keeps the newest whole and stores the older ones as deltas.
        lines.append(f"line {number} added by an edit, so that this version is the largest\n")
        repo.commit(f"edit {number}", **{"app.py": "".join(lines)})
    repo.token, repo.first = token, first
    return repo


def repack(repo, *options: str) -> Path:
    repo.git(*options, "repack", "-a", "-d", "-f", "-q", "--depth=50", "--window=50")
    return the_pack(repo)


def test_the_index_lists_what_git_lists(history_repo):
    index = repack(history_repo)
    shown = history_repo.git("show-index", stdin=index.read_bytes())
    expected = {line.split()[1]: int(line.split()[0]) for line in shown.splitlines()}
    parsed = read_index(index)
    assert {parsed.object_id(n): parsed.offsets[n] for n in range(len(parsed))} == expected


def test_eight_byte_offsets_are_read(history_repo):
    # Packs over 2 GiB need 64-bit offsets; git can be told to use them from byte 256.
    index = repack(history_repo)
    forced = index.with_name("forced.idx")
    history_repo.git(
        "index-pack", "--index-version=2,256", "-o", str(forced), str(index.with_suffix(".pack"))
    )
    assert read_index(forced).offsets == read_index(index).offsets
    assert max(read_index(forced).offsets) > 256


def test_a_version_1_index_is_left_to_git(history_repo):
    index = repack(history_repo, "-c", "pack.indexVersion=1")
    with pytest.raises(UnsupportedStore):
        read_index(index)


def test_pack_order_is_the_same_with_and_without_a_reverse_index(history_repo):
    index = repack(history_repo, "-c", "pack.writeReverseIndex=true")
    reverse = index.with_suffix(".rev")
    assert reverse.exists()
    from_file = pack_order(index.with_suffix(".pack"), read_index(index))
    reverse.unlink()
    assert from_file == pack_order(index.with_suffix(".pack"), read_index(index))


@pytest.mark.parametrize(
    ("options", "delta_type"),
    [((), OFS_DELTA), (("-c", "repack.useDeltaBaseOffset=false"), REF_DELTA)],
)
def test_the_delta_forest_matches_git(history_repo, options, delta_type):
    index = repack(history_repo, *options)
    pack = index.with_suffix(".pack")
    plan = plan_pack(pack, read_index(index))
    stored = {(pack.read_bytes()[offset] >> 4) & 7 for offset in plan.offsets}
    assert delta_type in stored
    ours = {}
    for entry in range(len(plan.offsets)):
        base = plan.bases[entry]
        ours[plan.object_id(entry)] = (
            TYPE_NAMES[plan.kinds[entry]].decode(),
            plan.object_id(base) if base >= 0 else None,
        )
    expected = verify_pack(history_repo, index)
    assert ours == expected
    assert any(base for _, base in expected.values()), "the repository should have deltas"


def test_a_token_only_in_a_delta_is_found_at_its_commit(history_repo):
    index = repack(history_repo)
    holder = history_repo.blob_id(history_repo.first, "app.py")
    assert verify_pack(history_repo, index)[holder][1] is not None, "stored as a delta"
    findings, _, stats = scan_repository(history_repo.path)
    assert [(f.token, f.commit, f.path) for f in findings] == [
        (history_repo.token, history_repo.first, "app.py")
    ]
    assert stats.objects == 21 * 2  # 21 commits and 21 blobs: trees are not read


def test_zlib_reads_what_isal_reads(history_repo, monkeypatch):
    # Where ISA-L has no wheel the scanner inflates with zlib.
    repack(history_repo)
    with_isal = scan_repository(history_repo.path)
    monkeypatch.setattr(packread, "decompress", zlib.decompress)
    with_zlib = scan_repository(history_repo.path)
    assert [(f.token, f.commit, f.line) for f in with_zlib.findings] == [
        (f.token, f.commit, f.line) for f in with_isal.findings
    ]
    assert with_zlib.stats.bytes == with_isal.stats.bytes > 0


def test_a_clone_with_alternates_is_read_by_git(history_repo, tmp_path):
    clone = tmp_path / "shared"
    subprocess.run(
        ["git", "clone", "-q", "--shared", str(history_repo.path), str(clone)], check=True
    )
    assert objectstore._objects_directory(clone) is None
    findings, _, _ = scan_repository(clone)
    assert [f.token for f in findings] == [history_repo.token]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_corrupt_pack_is_a_scan_error_that_names_it(history_repo, monkeypatch, workers):
    index = repack(history_repo)
    holder = history_repo.blob_id(history_repo.first, "app.py")
    pack = index.with_suffix(".pack")
    offset = read_index(index).offsets[_position(read_index(index), holder)]
    pack.chmod(0o644)
    with pack.open("r+b") as file:
        file.seek(offset + 8)
        byte = file.read(1)
        file.seek(offset + 8)
        file.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(objectstore, "POOL_THRESHOLD", 0)
    with pytest.raises(ScanError) as caught:
        scan_repository(history_repo.path, workers=workers)
    assert caught.value.reason == "bad_pack"
    assert pack.name in caught.value.message


def test_a_corrupt_loose_object_is_a_scan_error(repo):
    repo.commit("one", **{"a.txt": "hello"})
    loose = repo.path / ".git" / "objects" / repo.blob_id("HEAD", "a.txt")[:2]
    (path,) = loose.iterdir()
    path.chmod(0o644)
    path.write_bytes(b"not zlib at all")
    with pytest.raises(ScanError) as caught:
        scan_repository(repo.path)
    assert caught.value.reason == "bad_pack"


def _position(index, object_id: str) -> int:
    return next(n for n in range(len(index)) if index.object_id(n) == object_id)


def test_loose_and_packed_stores_count_the_same_objects(history_repo):
    loose_count = scan_repository(history_repo.path).stats.objects
    repack(history_repo)
    assert not list((history_repo.path / ".git" / "objects").glob("??/*"))
    assert scan_repository(history_repo.path).stats.objects == loose_count


def test_a_delta_whose_base_is_outside_its_pack_is_a_scan_error(history_repo):
    """A thin pack (as a fetch receives one, before git completes it) stored as it came."""
    repack(history_repo)
    grown = (history_repo.path / "app.py").read_text() + "more\n"
    commit = history_repo.commit("thin", **{"app.py": grown})
    thin = history_repo.git_bytes(
        "pack-objects", "--thin", "--stdout", "--revs", stdin=f"{commit}\n^{commit}~1\n".encode()
    )
    write_thin_pack(history_repo, thin)
    history_repo.git("prune-packed")
    # Git resolves a delta's base within its pack only, so it cannot read the blob either.
    with pytest.raises(subprocess.CalledProcessError):
        history_repo.git("cat-file", "-p", f"{commit}:app.py")
    with pytest.raises(ScanError) as caught:
        scan_repository(history_repo.path)
    assert caught.value.reason == "bad_pack"
    assert "pack-thin.pack" in caught.value.message


def write_thin_pack(repo, pack: bytes) -> None:
    """Store ``pack`` with a version 2 index written here: git's index-pack refuses thin packs."""
    entries = []  # (object id, crc32, offset)
    position, count = 12, int.from_bytes(pack[8:12], "big")
    for _ in range(count):
        start, byte = position, pack[position]
        kind, size, shift = (byte >> 4) & 7, byte & 15, 4
        while byte & 0x80:
            position += 1
            byte = pack[position]
            size |= (byte & 0x7F) << shift
            shift += 7
        position += 1
        base = None
        if kind == 7:
            base, position = pack[position : position + 20].hex(), position + 20
        inflater = zlib.decompressobj()
        data = inflater.decompress(pack[position:])
        position = len(pack) - len(inflater.unused_data)
        if base is not None:
            base_content = repo.git_bytes("cat-file", "blob", base)
            data, kind = b"".join(apply_delta(base_content, data)), 3
        name = {1: b"commit", 2: b"tree", 3: b"blob"}[kind]
        object_id = hashlib.sha1(b"%s %d\0" % (name, len(data)) + data).digest()  # noqa: S324
        entries.append((object_id, zlib.crc32(pack[start:position]), start))
    entries.sort()
    fanout = [sum(1 for e in entries if e[0][0] <= byte) for byte in range(256)]
    index = b"\xfftOc" + (2).to_bytes(4, "big")
    index += b"".join(n.to_bytes(4, "big") for n in fanout)
    index += b"".join(e[0] for e in entries)
    index += b"".join(e[1].to_bytes(4, "big") for e in entries)
    index += b"".join(e[2].to_bytes(4, "big") for e in entries)
    index += pack[-20:]
    index += hashlib.sha1(index).digest()  # noqa: S324
    directory = repo.path / ".git" / "objects" / "pack"
    (directory / "pack-thin.pack").write_bytes(pack)
    (directory / "pack-thin.idx").write_bytes(index)
