"""How many CPUs this process may use: the container's limit, not the host's core count.

``os.cpu_count()`` answers the host's cores inside a container limited to one CPU, and
2 x 64 + 1 gunicorn workers then fight over that one.  The limit is the CPU quota of the
cgroup (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), bounded by the
CPUs the process is allowed to run on (``sched_getaffinity``: cpusets, ``taskset``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def available_cpus(cgroup: Path = CGROUP) -> int:
    """Whole CPUs this process may use (a fractional quota rounds up), at least 1."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cpus = allowed or os.cpu_count() or 1
    quota = cgroup_quota(cgroup)
    return max(1, min(cpus, math.ceil(quota)) if quota is not None else cpus)


def cgroup_quota(cgroup: Path = CGROUP) -> float | None:
    """The cgroup's CPU quota in CPUs, or None when there is none (or no cgroup to read)."""
    v2 = _read(cgroup / "cpu.max")
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        return _ratio(quota, period or "100000")
    v1 = _read(cgroup / "cpu" / "cpu.cfs_quota_us")
    if v1 is not None:
        return _ratio(v1, _read(cgroup / "cpu" / "cpu.cfs_period_us") or "100000")
    return None


def _ratio(quota: str, period: str) -> float | None:
    # "max" (v2) and -1 (v1) mean no limit; anything unreadable is treated the same.
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def default_workers() -> int:
    """gunicorn's processes: verification is short CPU work between round trips."""
    return 2 * available_cpus() + 1
