"""Run a scan's jobs in parallel worker processes, and read object lists through git.

Unpacking is single-threaded inside one process, and so is the Python that
searches its output, so a scan is cut into jobs spread over processes.  More
jobs than workers evens out the load: some delta trees or runs of a pack cost
far more than others.  Workers are forked, so they inherit what the parent
prepared (a pack plan) instead of receiving it pickled.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from scanner.batch import RawHit, scan_stream
from scanner.errors import ScanError
from scanner.gitcmd import describe_failure, open_git
from scanner.matcher import TokenMatcher

PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_counter = None
_shared = None


def run_jobs(
    function: Callable,
    jobs: Sequence[tuple],
    *,
    shared,
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> list:
    """``function(shared, *job, progress=...)`` for every job, in order of completion.

    In this process when one worker suffices, else in a pool of forked processes
    that report progress through a shared counter the parent polls.  A daemonic
    process (a Celery worker's child) may not start processes: there the jobs run
    one after another, and the parallelism is Celery's, one task per process.
    """
    if workers <= 1 or len(jobs) <= 1 or multiprocessing.current_process().daemon:
        return [function(shared, *job, progress=progress) for job in jobs]
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    results = []
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(counter, shared),
    ) as pool:
        pending = {pool.submit(_call, function, job) for job in jobs}
        reported = 0
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            results += [future.result() for future in done]
            if progress is not None:
                current = counter.value
                progress(current - reported)
                reported = current
    return results


def scan_part(
    repo: str, object_ids: list[bytes], matcher: TokenMatcher, progress=None
) -> list[RawHit]:
    """Read one list of objects through ``cat-file --batch`` and return the tokens found."""
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
        hits = scan_stream(process.stdout.fileno(), matcher=matcher, progress=progress)
        process.stdout.close()
        process.wait()
    drain.join()
    if process.returncode != 0:
        message = describe_failure(args=["cat-file"], stderr=b"".join(errors))
        raise ScanError(message, reason="git_failed")
    return hits


def widen_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe: fewer wake-ups between git and the reader (Linux only)."""
    # Not Linux, or above the system's limit: the default pipe still works.
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)


def _init_worker(counter, shared) -> None:
    """Keep the shared counter and the parent's prepared data in the worker process."""
    global _counter, _shared
    _counter, _shared = counter, shared


def _call(function: Callable, job: tuple):
    return function(_shared, *job, progress=_report)


def _report(count: int) -> None:
    """Add objects read to the shared counter."""
    with _counter.get_lock():
        _counter.value += count
