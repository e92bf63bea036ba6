"""Check the delta search against the full search, object by object, during a real scan.

:class:`DeltaCheck` stands in for ``packread.resolve_delta``: every delta the scan
resolves is also applied by dulwich and its target searched in full; the two must
agree on the content and on every token prefix offset (far more places than the
rare valid tokens).  Used by the tests and by ``bench/delta_equivalence.py`` on
real repositories.
"""

from __future__ import annotations

from dulwich._pack import apply_delta

from scanner import packread


class DeltaMismatch(AssertionError):
    """The delta search and the full search disagree about one object."""


class DeltaCheck:
    """Counts what it checked: deltas resolved, and those whose target holds a prefix."""

    def __init__(self) -> None:
        self.resolved = 0
        self.with_prefixes = 0
        self.prefixes = 0

    def install(self, monkeypatch) -> DeltaCheck:
        assert packread._deltas is not None, "the compiled delta search is not built"
        monkeypatch.setattr(packread, "resolve_delta", self)
        return self

    def __call__(self, base, delta, base_offsets, matcher):
        if base_offsets != matcher.needle_offsets(base):
            raise DeltaMismatch(f"the base's offsets {base_offsets} are not its prefixes")
        content, offsets = packread._deltas.resolve(base, delta, matcher.needles, base_offsets)
        expected = b"".join(apply_delta(base, delta))
        if content != expected:
            raise DeltaMismatch("the delta resolves to other content than dulwich's")
        full = matcher.needle_offsets(expected)
        if offsets != full:
            raise DeltaMismatch(f"delta search {offsets} != full search {full}")
        self.resolved += 1
        self.with_prefixes += bool(offsets)
        self.prefixes += len(offsets)
        return content, offsets
