"""From raw hits (a token in a git object) to findings (a token at a commit and path).

A full scan looks blobs up in the background :class:`~scanner.rawlog.RawLog`;
an incremental scan asks ``git log --find-object`` over its small range.  Hits
in objects that no ref reaches are dropped, or kept as ``unreachable`` findings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scanner import attribution
from scanner.batch import RawHit
from scanner.findings import BLOB, COMMIT_MESSAGE, TAG_MESSAGE, UNREACHABLE, Finding, make_finding
from scanner.gitcmd import run_git
from scanner.rawlog import RawLog


@dataclass
class Lookup:
    """Blob origins and the commits and tags with hits that refs reach."""

    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    reachable: set[str] = field(default_factory=set)


def ids_of(hits: list[RawHit], object_type: str) -> set[str]:
    return {hit.object_id for hit in hits if hit.object_type == object_type}


def lookup_full(repo: Path | str, hits: list[RawHit], *, log: RawLog) -> Lookup:
    """Attribute a full scan's hits from the whole-history raw log."""
    log.wait()
    blobs = ids_of(hits, "blob")
    origins = log.origins(blobs)
    missing = blobs - origins.keys()
    if missing:
        # Not in any plain diff: maybe written by a merge, else unreachable.
        merges = attribution.blob_origins(
            repo, missing, revs=["--all"], passes=(attribution.MERGES,)
        )
        origins.update(merges)
    commits = {commit for commit in ids_of(hits, "commit") if log.has_commit(commit)}
    return Lookup(origins=origins, reachable=commits | reachable_tags(repo, hits))


def lookup_range(repo: Path | str, hits: list[RawHit], *, revs: Sequence[str]) -> Lookup:
    """Attribute an incremental scan's hits: everything it read is reachable."""
    blobs = ids_of(hits, "blob")
    origins = attribution.blob_origins(repo, blobs, revs=revs) if blobs else {}
    return Lookup(origins=origins, reachable=ids_of(hits, "commit") | ids_of(hits, "tag"))


def reachable_tags(repo: Path | str, hits: list[RawHit]) -> set[str]:
    """Annotated tag objects with hits that a ref under ``refs/tags`` points to."""
    tags = ids_of(hits, "tag")
    if not tags:
        return set()
    output = run_git(repo, ["for-each-ref", "--format=%(objectname)", "refs/tags"])
    return tags & set(output.decode().split())


def to_findings(hits: list[RawHit], lookup: Lookup, *, keep: bool) -> tuple[list[Finding], int]:
    """The findings, and how many unreachable hits were dropped."""
    findings, dropped = [], 0
    for hit in hits:
        finding = finding_for(hit, lookup)
        if finding is None and keep:
            finding = make_finding(
                hit.token,
                kind=UNREACHABLE,
                path=None,
                line=hit.line,
                column=hit.column,
                object_id=hit.object_id,
            )
        if finding is None:
            dropped += 1
        else:
            findings.append(finding)
    return findings, dropped


def finding_for(hit: RawHit, lookup: Lookup) -> Finding | None:
    """The attributed finding for one hit, or None when no ref reaches its object."""
    where = {"line": hit.line, "column": hit.column, "object_id": hit.object_id}
    if hit.object_type == "blob" and hit.object_id in lookup.origins:
        commit, path = lookup.origins[hit.object_id]
        return make_finding(hit.token, kind=BLOB, path=path, commit=commit, **where)
    if hit.object_type == "commit" and hit.object_id in lookup.reachable:
        return make_finding(
            hit.token, kind=COMMIT_MESSAGE, path=None, commit=hit.object_id, **where
        )
    if hit.object_type == "tag" and hit.object_id in lookup.reachable:
        return make_finding(hit.token, kind=TAG_MESSAGE, path=None, **where)
    return None


def first_appearances(repo: Path | str, findings: list[Finding]) -> list[Finding]:
    """Keep each token-in-a-file at the oldest commit only.

    A file edited twenty times with the token left in it is twenty blobs, but one
    leak: report where it came in.  Lines within that one blob all stay.
    """
    commits_by_print: dict[str, set[str]] = defaultdict(set)
    for finding in findings:
        if finding.kind == BLOB:
            commits_by_print[finding.fingerprint].add(finding.commit)
    repeated = {commit for group in commits_by_print.values() if len(group) > 1 for commit in group}
    if not repeated:
        return findings
    rank = topological_rank(repo, repeated)
    oldest = {
        key: max(group, key=lambda commit: (rank.get(commit, -1), commit))
        for key, group in commits_by_print.items()
    }
    return [f for f in findings if f.kind != BLOB or f.commit == oldest[f.fingerprint]]


def topological_rank(repo: Path | str, commits: set[str]) -> dict[str, int]:
    """Position of each commit in ``rev-list --topo-order`` (children first): higher is older.

    Commit times tie within a second and lie after a rebase; ancestry does not.
    """
    stdin = ("\n".join(sorted(commits)) + "\n").encode("ascii")
    output = run_git(repo, ["rev-list", "--topo-order", "--stdin"], stdin=stdin)
    order = output.decode("ascii").split()
    return {commit: index for index, commit in enumerate(order) if commit in commits}
