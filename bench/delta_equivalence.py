"""Prove the delta search on a real repository: the same as searching every object in full.

    python bench/delta_equivalence.py /path/to/repo.git [...]

For each repository (say, a ``bench/scan_history.py`` copy with planted tokens):
a full-history scan in one process under ``tests/scanner/deltacheck.py``'s check
(every delta resolved is also applied by dulwich and its target searched in full;
content and every token prefix offset must agree), then a scan that searches
every object in full (as without the compiled module).  Prints what was checked
and whether the findings (token, commit, path, line, column) are identical.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from scanner import packread  # noqa: E402
from scanner.history import scan_repository  # noqa: E402
from tests.scanner.deltacheck import DeltaCheck  # noqa: E402


def places(findings) -> list[tuple]:
    return [(f.kind, f.token, f.path, f.commit, f.line, f.column) for f in findings]


def prove(repo: Path) -> bool:
    check = DeltaCheck()
    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as patch:
        check.install(patch)
        checked = scan_repository(repo, workers=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(packread, "_deltas", None)
        in_full = scan_repository(repo, workers=1)
    same = places(checked.findings) == places(in_full.findings)
    print(f"{repo}: {checked.stats.objects:,} objects, {check.resolved:,} deltas checked")
    print(f"  {check.with_prefixes:,} deltas hold {check.prefixes:,} token prefixes, all alike")
    print(
        f"  findings with the delta search {len(checked.findings)}, in full "
        f"{len(in_full.findings)}: {'identical' if same else 'DIFFERENT'} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    return same


if __name__ == "__main__":
    results = [prove(Path(argument)) for argument in sys.argv[1:]]
    sys.exit(0 if results and all(results) else 1)
