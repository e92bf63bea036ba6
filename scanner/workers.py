"""Read object lists with ``git cat-file --batch`` in parallel worker processes.

Unpacking is single-threaded inside one git process, and so is the Python reader
of its output, so the work is cut into parts and spread over processes.  More
parts than workers evens out the load: some runs of a pack are deltas that cost
far more to unpack than others.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from scanner.batch import RawHit, scan_stream
from scanner.errors import ScanError
from scanner.gitcmd import describe_failure, open_git
from scanner.matcher import TokenMatcher

PARTS_PER_WORKER = 2
PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_counter = None


def default_workers() -> int:
    """One worker per core the process may use."""
    return max(1, len(os.sched_getaffinity(0)))


def scan_part(
    repo: str, object_ids: list[bytes], prefixes: tuple[str, ...], progress=None
) -> list[RawHit]:
    """Read one list of objects through ``cat-file --batch`` and return the tokens found."""
    matcher = TokenMatcher(prefixes)
    with tempfile.TemporaryFile() as listing:
        listing.write(b"\n".join(object_ids) + b"\n")
        listing.seek(0)
        process = open_git(repo, ["cat-file", "--batch", "--buffer"], stdin=listing)
    widen_pipe(process.stdout.fileno())
    # stderr is drained on a thread so a chatty git cannot block on a full pipe.
    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    drain.start()
    with process:
        hits = scan_stream(process.stdout.fileno(), matcher=matcher, progress=progress or _report)
        process.stdout.close()
        process.wait()
    drain.join()
    if process.returncode != 0:
        message = describe_failure(args=["cat-file"], stderr=b"".join(errors))
        raise ScanError(message, reason="git_failed")
    return hits


def scan_parts(
    repo: Path | str,
    parts: list[list[bytes]],
    *,
    prefixes: tuple[str, ...],
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> list[RawHit]:
    """Scan every part, in this process when one worker suffices, else in a pool."""
    if workers <= 1 or len(parts) <= 1:
        hits = []
        for part in parts:
            hits += scan_part(str(repo), part, prefixes, progress)
        return hits
    return _scan_in_pool(str(repo), parts, prefixes=prefixes, workers=workers, progress=progress)


def _scan_in_pool(repo, parts, *, prefixes, workers, progress) -> list[RawHit]:
    """Fan the parts out to ``workers`` processes; poll a shared byte counter for progress."""
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    hits: list[RawHit] = []
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(counter,)
    ) as pool:
        pending = {pool.submit(scan_part, repo, part, prefixes) for part in parts}
        reported = 0
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                hits += future.result()
            if progress is not None:
                current = counter.value
                progress(current - reported)
                reported = current
    return hits


def widen_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe: fewer wake-ups between git and the reader (Linux only)."""
    # Not Linux, or above the system's limit: the default pipe still works.
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)


def _init_worker(counter) -> None:
    """Give the worker process the shared counter it adds its bytes read to."""
    global _counter
    _counter = counter


def _report(count: int) -> None:
    """Add bytes read to the shared counter (no-op outside a pool)."""
    if _counter is not None:
        with _counter.get_lock():
            _counter.value += count
