"""Whole scans with the delta search equal whole scans that search every object in full.

Histories are generated (seeded): files edited commit after commit with tokens
planted, cut in two, glued to letters that void them, moved, deleted and put at the
very start and end of a file, so that git's deltas copy and insert around them in
chains.  Each scan runs under :class:`DeltaCheck`, which checks every delta resolved
against a full search of its target, and is compared with a scan that searches
every object in full (the path taken without the compiled module).
"""

from __future__ import annotations

import random

import pytest

from scanner import packread
from scanner.history import scan_repository
from scanner.matcher import TokenMatcher, line_and_column
from tests.scanner.conftest import make_token
from tests.scanner.deltacheck import DeltaCheck
from tests.scanner.test_history import LAYOUTS, arrange

pytestmark = pytest.mark.usefixtures("compiled_deltas")

# The layouts whose packs the scanner reads itself, resolving deltas.
PACKED = ("packed", "ref_deltas", "packed_and_loose")


def edit(rng: random.Random, lines: list[str], step: int) -> None:
    """One random change of a file's lines, most of them around tokens."""
    with_tokens = [n for n, line in enumerate(lines) if "kw_" in line]
    action = rng.choice(["add", "add", "cut", "glue", "edges", "move", "delete", "filler"])
    if action in ("cut", "glue") and with_tokens:
        number = rng.choice(with_tokens)
        line = lines[number]
        start = line.index("kw_")
        if action == "cut":  # a token cut in two by a line break, or its body changed
            at = start + rng.randrange(1, 50)
            lines[number] = line[:at] + rng.choice(["\n", "X", ""]) + line[at + 1 :]
        else:  # a letter glued before or after voids it
            end = start + len(line[start:].split("'")[0])
            lines[number] = line[:start] + "v" + line[start:] if step % 2 else line[:end] + "v"
    elif action == "edges":
        token = make_token(env=rng.choice(["prod", "dev", "ci7"]))
        lines.insert(0, token) if step % 2 else lines.append(token)
    elif action == "move" and len(lines) > 20:
        start = rng.randrange(len(lines) - 10)
        block = lines[start : start + rng.randrange(1, 10)]
        del lines[start : start + len(block)]
        at = rng.randrange(len(lines) + 1)
        lines[at:at] = block
    elif action == "delete" and lines:
        del lines[rng.randrange(len(lines))]
    elif action == "filler" and lines:
        lines[rng.randrange(len(lines))] = f"value_{step} = {rng.random()}"
    else:
        lines.insert(rng.randrange(len(lines) + 1), f"KEY_{step} = '{make_token()}'")


def generated_history(repo, seed: str, *, commits: int = 40) -> set[tuple]:
    """Commit a generated history; return the findings a correct scan reports for its files."""
    rng = random.Random(seed)
    files = {
        f"src/module_{n}.py": [f"line {i} of module {n}: some code = {i * n}" for i in range(150)]
        for n in range(3)
    }
    repo.commit(
        "start", **{path.replace("/", "__"): "\n".join(lines) for path, lines in files.items()}
    )
    first_seen: dict[tuple[str, str], str] = {}
    expected = set()
    for step in range(commits):
        path = rng.choice(sorted(files))
        edit(rng, files[path], step)
        content = "\n".join(files[path]).encode()
        message = f"step {step}\n\nwith {make_token()} in the message" if step % 9 == 0 else "step"
        commit = repo.commit(message, **{path.replace("/", "__"): content})
        for offset, token in TokenMatcher().matches(content):
            if first_seen.setdefault((token, path), commit) == commit:
                expected.add((token, path, commit, *line_and_column(content, offset)))
    return expected


def blob_places(findings) -> set[tuple]:
    return {(f.token, f.path, f.commit, f.line, f.column) for f in findings if f.kind == "blob"}


def all_places(findings) -> list[tuple]:
    return [(f.kind, f.token, f.path, f.commit, f.line, f.column) for f in findings]


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("seed", ["first", "second"])
def test_generated_histories_scan_alike_with_and_without_the_delta_search(
    repo, monkeypatch, layout, seed
):
    expected = generated_history(repo, seed)
    arrange(repo.path, layout)
    check = DeltaCheck().install(monkeypatch)
    with_deltas = scan_repository(repo.path, workers=1)
    monkeypatch.undo()
    monkeypatch.setattr(packread, "_deltas", None)
    in_full = scan_repository(repo.path, workers=1)
    assert all_places(with_deltas.findings) == all_places(in_full.findings)
    assert blob_places(with_deltas.findings) == expected
    assert with_deltas.stats.bytes == in_full.stats.bytes
    if layout in PACKED:
        assert check.resolved > 20, "the pack should hold delta chains"
        assert check.with_prefixes > 0, "some deltas should carry or insert tokens"
    else:
        assert check.resolved == 0  # loose objects and git's reading never meet a delta


def test_the_worker_pool_agrees_with_the_delta_check(repo, monkeypatch):
    generated_history(repo, "pool", commits=30)
    arrange(repo.path, "packed")
    check = DeltaCheck().install(monkeypatch)
    single = scan_repository(repo.path, workers=1)
    monkeypatch.setattr("scanner.objectstore.POOL_THRESHOLD", 0)
    pooled = scan_repository(repo.path, workers=2)  # forked workers run the check too
    assert all_places(pooled.findings) == all_places(single.findings)
    assert check.resolved > 0
