"""Scan what you ship: wheels, sdists, npm packages, jars, images; nested and hostile ones."""

import bz2
import gzip
import hashlib
import io
import json
import lzma
import random
import tarfile
import zipfile
from pathlib import Path

import pytest

from scanner.archive import ArchiveLimits, scan_archive
from scanner.chunks import scan_chunks
from scanner.matcher import TokenMatcher
from scanner.tree import scan_bytes
from tests.scanner.conftest import decoy, make_token, reason_of

MATCHER = TokenMatcher()


def settings_py(token: str) -> bytes:
    """A file with the token on line 12, column 8."""
    return ("# settings\n" * 11 + f"KEY = '{token}'\n").encode()


def zip_bytes(members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], *, mode: str = "w", links=()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, kind, target in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            archive.addfile(info)
    return buffer.getvalue()


def scan_json(run_cli, target: Path, *args: str):
    result = run_cli(str(target), "--format", "json", *args)
    document = json.loads(result.stdout) if result.stdout.startswith("{") else None
    return result, document


def places(document) -> list[tuple[str, int, int]]:
    return sorted((f["path"], f["line"], f["column"]) for f in document["findings"])


def test_a_wheel_finding_names_the_path_inside(run_cli, tmp_path):
    token = make_token()
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = dist / "pkg-1.0-py3-none-any.whl"
    members = {"pkg/__init__.py": b"", "pkg/settings.py": settings_py(token)}
    members["pkg/decoy.py"] = decoy(token).encode()
    wheel.write_bytes(zip_bytes(members))
    result = run_cli(str(wheel))
    assert result.exit_code == 1
    assert f"{wheel.as_posix()}!/pkg/settings.py:12:8" in result.stdout
    assert token not in result.output
    _, document = scan_json(run_cli, wheel)
    assert [f["kind"] for f in document["findings"]] == ["archive"]
    assert document["stats"]["mode"] == "archive"
    sarif = json.loads(run_cli(str(wheel), "--format", "sarif").stdout)
    location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    # Outside a repository the scanned file's directory is the root.
    assert location["artifactLocation"]["uri"] == "pkg-1.0-py3-none-any.whl%21/pkg/settings.py"
    assert run_cli(str(wheel), "--skip-path", "pkg/settings.py").exit_code == 0


@pytest.mark.parametrize(
    ("filename", "build"),
    [
        ("app.jar", lambda m: zip_bytes(m, compression=zipfile.ZIP_STORED)),
        ("app.zip", lambda m: zip_bytes(m, compression=zipfile.ZIP_BZIP2)),
        ("pkg-1.0.tar.gz", lambda m: tar_bytes(m, mode="w:gz")),
        ("pkg-1.0.tgz", lambda m: tar_bytes(m, mode="w:gz")),
        ("pkg.tar", lambda m: tar_bytes(m)),
        ("pkg.tar.bz2", lambda m: tar_bytes(m, mode="w:bz2")),
        ("pkg.tar.xz", lambda m: tar_bytes(m, mode="w:xz")),
    ],
)
def test_every_shipped_format(run_cli, tmp_path, filename, build):
    token = make_token()
    target = tmp_path / filename
    target.write_bytes(build({"package/index.js": f"\nconst k = '{token}';\n".encode()}))
    result, document = scan_json(run_cli, target)
    assert result.exit_code == 1, result.output
    assert places(document) == [(f"{target.as_posix()}!/package/index.js", 2, 12)]


def test_compressed_single_files(run_cli, tmp_path):
    token = make_token().encode()
    for name, data in (
        ("dump.sql.gz", gzip.compress(b"x\n" + token)),
        ("dump.sql.bz2", bz2.compress(token)),
        ("dump.sql.xz", lzma.compress(token)),
    ):
        target = tmp_path / name
        target.write_bytes(data)
        result, document = scan_json(run_cli, target)
        assert result.exit_code == 1, name
        assert [f["path"] for f in document["findings"]] == [target.as_posix()]


def test_archives_inside_archives(run_cli, tmp_path):
    token = make_token()
    inner_wheel = zip_bytes({"pkg/settings.py": settings_py(token)})
    sdist = tar_bytes({"pkg-1.0/vendor/dep.whl": inner_wheel}, mode="w:gz")
    outer = tmp_path / "bundle.zip"
    outer.write_bytes(zip_bytes({"release/pkg-1.0.tar.gz": sdist, "README": b"hello"}))
    result, document = scan_json(run_cli, outer)
    assert result.exit_code == 1
    expected = (
        f"{outer.as_posix()}!/release/pkg-1.0.tar.gz!/pkg-1.0/vendor/dep.whl!/pkg/settings.py"
    )
    assert places(document) == [(expected, 12, 8)]


def docker_image(tokens_by_layer: list[str]) -> bytes:
    """A ``docker save`` tarball: legacy ``<id>/layer.tar`` and an OCI gzip blob, a whiteout."""
    lower = tar_bytes({"app/settings.py": settings_py(tokens_by_layer[0])})
    upper = tar_bytes(
        {"app/.wh.settings.py": b"", "etc/app.env": f"KEY={tokens_by_layer[1]}\n".encode()},
        mode="w:gz",
    )
    digest = hashlib.sha256(upper).hexdigest()
    manifest = [{"Config": "config.json", "Layers": ["aaaa/layer.tar", f"blobs/sha256/{digest}"]}]
    return tar_bytes(
        {
            "manifest.json": json.dumps(manifest).encode(),
            "config.json": b"{}",
            "aaaa/layer.tar": lower,
            f"blobs/sha256/{digest}": upper,
        }
    )


def test_every_layer_of_a_docker_save_image(run_cli, tmp_path):
    first, second = make_token(), make_token()
    image = tmp_path / "image.tar"
    image.write_bytes(docker_image([first, second]))
    result, document = scan_json(run_cli, image)
    assert result.exit_code == 1
    paths = sorted(f["path"].removeprefix(image.as_posix()) for f in document["findings"])
    digest = paths[1].split("/")[3].split("!")[0]
    # The token deleted by the upper layer's whiteout is still in the image: reported.
    assert paths == ["!/aaaa/layer.tar!/app/settings.py", f"!/blobs/sha256/{digest}!/etc/app.env"]


def test_a_directory_scan_opens_the_archives_in_it(run_cli, tmp_path):
    token = make_token()
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "pkg.whl").write_bytes(zip_bytes({"pkg/settings.py": settings_py(token)}))
    (tmp_path / "dist" / "fake.gz").write_text("not gzip")
    result, document = scan_json(run_cli, tmp_path)
    assert result.exit_code == 1
    assert places(document) == [("dist/pkg.whl!/pkg/settings.py", 12, 8)]


def test_a_directory_scan_passes_over_a_broken_archive_but_not_a_bomb(run_cli, tmp_path):
    (tmp_path / "a.txt").write_text(make_token())
    broken = zip_bytes({"a.txt": random.Random(2).randbytes(5000)})[:-40]
    (tmp_path / "cut.zip").write_bytes(broken)
    result, document = scan_json(run_cli, tmp_path)
    assert result.exit_code == 1
    assert document["stats"]["skipped"] == 1
    assert [f["path"] for f in document["findings"]] == ["a.txt"]
    (tmp_path / "bomb.zip").write_bytes(zip_bytes({"zeros": bytes(64 << 20)}))
    assert reason_of(run_cli(str(tmp_path), "--json")) == "archive_bomb"


def test_a_token_across_chunk_boundaries_is_found_once_with_its_place():
    random.seed(15)
    pieces = ["\n", "é", " ", "x", "kw_", "ab\ncd"]
    for _ in range(60):
        parts = [
            make_token() if random.random() < 0.3 else random.choice(pieces) * random.randint(1, 30)
            for _ in range(random.randint(0, 20))
        ]
        data = "".join(parts).encode()
        expected = [
            (f.line, f.column, f.sha256)
            for f in scan_bytes(data, matcher=MATCHER, kind="x", path="p")
        ]
        for chunk in (1, 3, 57, 58, 59, 64, 1 << 20):
            found, total = scan_chunks(
                io.BytesIO(data).read, matcher=MATCHER, kind="x", path="p", chunk=chunk
            )
            assert total == len(data)
            assert [(f.line, f.column, f.sha256) for f in found] == expected, chunk


def test_a_large_member_is_read_in_chunks(tmp_path):
    token = make_token()
    data = b"a" * (3 << 20) + b"\n" + token.encode() + b"\n" + b"b" * (2 << 20)
    target = tmp_path / "big.zip"
    target.write_bytes(zip_bytes({"big.txt": data}))
    findings, stats = scan_archive(target, matcher=MATCHER, name="big.zip")
    assert [(f.path, f.line, f.column) for f in findings] == [("big.zip!/big.txt", 2, 1)]
    assert stats.bytes == len(data)


# Hostile archives


def test_a_zip_bomb_is_refused_with_a_clear_error(run_cli, tmp_path):
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(zip_bytes({"zeros.bin": bytes(64 << 20)}))
    assert bomb.stat().st_size < 200_000
    result = run_cli(str(bomb), "--json")
    assert result.exit_code == 2
    assert reason_of(result) == "archive_bomb"
    assert "bomb.zip!/zeros.bin" in result.output


def test_a_gzip_bomb_is_stopped_while_inflating(run_cli, tmp_path):
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(bytes(64 << 20), compresslevel=9))
    result = run_cli(str(bomb), "--json")
    assert result.exit_code == 2
    assert reason_of(result) == "archive_bomb"


def test_the_total_size_limit(run_cli, tmp_path):
    target = tmp_path / "a.zip"
    target.write_bytes(zip_bytes({"a.txt": b"x" * 5000, "b.txt": b"y" * 5000}))
    result = run_cli(str(target), "--archive-max-bytes", "6000", "--json")
    assert result.exit_code == 2
    assert reason_of(result) == "archive_too_large"
    assert run_cli(str(target), "--archive-max-bytes", "20000").exit_code == 0


def test_a_member_full_of_one_token_stops_at_the_findings_limit(tmp_path):
    target = tmp_path / "tokens.tar"
    target.write_bytes(tar_bytes({"t.txt": (make_token() + "\n").encode() * 20}))
    limits = ArchiveLimits(max_findings=10)
    with pytest.raises(Exception, match="too many tokens") as caught:
        scan_archive(target, matcher=MATCHER, name="tokens.tar", limits=limits)
    assert caught.value.reason == "too_many_findings"
    found, _ = scan_archive(
        target, matcher=MATCHER, name="t", limits=ArchiveLimits(max_findings=20)
    )
    assert len(found) == 20


def test_too_many_members(tmp_path):
    target = tmp_path / "many.tar"
    target.write_bytes(tar_bytes({f"f{n}": b"" for n in range(20)}))
    with pytest.raises(Exception, match="more than 10 archive members") as caught:
        scan_archive(target, matcher=MATCHER, name="many.tar", limits=ArchiveLimits(max_entries=10))
    assert caught.value.reason == "archive_too_large"


def nested(levels: int, token: str) -> bytes:
    data = f"K={token}\n".encode()
    for level in range(levels):
        data = zip_bytes({f"level{level}.zip" if level else "secret.env": data})
    return data


def test_deep_nesting_is_bounded(run_cli, tmp_path):
    target = tmp_path / "deep.zip"
    target.write_bytes(nested(12, make_token()))
    result = run_cli(str(target), "--json")
    assert result.exit_code == 2
    assert reason_of(result) == "archive_too_deep"
    assert run_cli(str(target), "--archive-depth", "20").exit_code == 1


def test_a_quine_like_self_nesting_gzip_stops(run_cli, tmp_path):
    data = b"payload"
    for _ in range(40):
        data = gzip.compress(data)
    target = tmp_path / "onion.gz"
    target.write_bytes(data)
    result = run_cli(str(target), "--json")
    assert result.exit_code == 2
    assert reason_of(result) == "archive_too_deep"


def test_traversal_names_are_reported_never_extracted(run_cli, tmp_path):
    token = make_token()
    work = tmp_path / "work"
    work.mkdir()
    target = work / "evil.tar"
    target.write_bytes(
        tar_bytes(
            {
                "../../evil.py": token.encode(),
                "/etc/abs.py": token.encode(),
                "a\nb.py": token.encode(),
            }
        )
    )
    result, document = scan_json(run_cli, target)
    assert result.exit_code == 1
    names = sorted(f["path"].removeprefix(target.as_posix()) for f in document["findings"])
    assert names == ["!/../../evil.py", "!/a?b.py", "!/etc/abs.py"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["evil.tar", "work"]
    text = run_cli(str(target)).stdout
    assert all(line.count(":") >= 2 for line in text.splitlines()[:-1])  # no forged lines


def test_links_are_never_followed(run_cli, tmp_path):
    outside = tmp_path / "outside.env"
    outside.write_text(make_token())
    target = tmp_path / "links.tar"
    target.write_bytes(
        tar_bytes(
            {"ok.txt": b"clean"},
            links=[
                ("sym", tarfile.SYMTYPE, str(outside)),
                ("hard", tarfile.LNKTYPE, "ok.txt"),
                ("dev", tarfile.CHRTYPE, ""),
            ],
        )
    )
    result, document = scan_json(run_cli, target)
    assert result.exit_code == 0, result.output
    assert document["stats"]["skipped"] == 3
    link = zipfile.ZipInfo("link")
    link.external_attr = 0o120777 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(link, str(outside))
    (tmp_path / "links.zip").write_bytes(buffer.getvalue())
    assert run_cli(str(tmp_path / "links.zip")).exit_code == 0


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("cut.zip", zip_bytes({"a.txt": b"x" * 1000})[:-30]),
        (
            "cut.tar.gz",
            tar_bytes({"a.txt": random.Random(1).randbytes(100_000)}, mode="w:gz")[:9000],
        ),
        ("garbage.tar", b"\0" * 257 + b"ustar" + b"\xff" * 300),
        ("bad.gz", b"\x1f\x8b" + b"\xff" * 100),
        ("bad.xz", b"\xfd7zXZ\x00" + b"\x00" * 50),
    ],
)
def test_broken_archives_are_errors_with_a_reason(run_cli, tmp_path, name, data):
    target = tmp_path / name
    target.write_bytes(data)
    result = run_cli(str(target), "--json")
    assert result.exit_code == 2, result.output
    assert reason_of(result) == "bad_archive"
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0
