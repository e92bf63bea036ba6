"""Wall time of ``keyward`` commands, against the interpreter's own start-up.

    python bench/cli_startup.py [--rounds 15] [--tree DIR ...]

Each ``--tree`` is a checkout of Keyward (default: this one); its commands run as
``python -c 'from web.entry import main; main()'`` from that directory, so two
checkouts (say main before and after a change) are measured in the same run.
Every round runs every (tree, command) once, interleaved, then the floor
(``python -c pass``); printed are the medians and each median over the floor's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (("--help",), ("client", "list"), ("scan", "README.md", "-q"))
ENTRY = "import sys; sys.argv = ['keyward', *sys.argv[1:]]; from web.entry import main; main()"


def timed(argv: list[str], *, cwd: Path, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False, timeout=120)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--tree", action="append", type=Path, default=[])
    args = parser.parse_args()
    trees = args.tree or [Path(__file__).resolve().parent.parent]
    data = tempfile.mkdtemp(prefix="keyward-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYWARD_")}
    env["KEYWARD_DATA_DIR"] = data
    for tree in trees:  # migrate once, outside the timing
        timed([sys.executable, "-c", ENTRY, "migrate"], cwd=tree, env=env)
    cases = [(tree, command) for command in COMMANDS for tree in trees]
    times: dict = {case: [] for case in cases}
    floor: list[float] = []
    for _ in range(args.rounds):
        for tree, command in cases:
            times[tree, command].append(
                timed([sys.executable, "-c", ENTRY, *command], cwd=tree, env=env)
            )
        floor.append(timed([sys.executable, "-c", "pass"], cwd=trees[0], env=env))
    base = statistics.median(floor)
    print(f"floor (python -c pass): median {base * 1000:.0f} ms over {args.rounds} rounds")
    for tree, command in cases:
        median = statistics.median(times[tree, command])
        print(
            f"{tree}  keyward {' '.join(command):<22} median {median * 1000:6.0f} ms  "
            f"{median / base:5.1f}x floor"
        )


if __name__ == "__main__":
    main()
