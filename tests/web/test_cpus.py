"""gunicorn's worker count follows the container's CPU limit, not the host's cores."""

import os

import pytest

from web import cpus


def cgroup(tmp_path, files: dict[str, str]):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text + "\n")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "max 100000"}, None),
        ({"cpu.max": "150000 100000"}, 1.5),
        ({"cpu.max": "50000 100000"}, 0.5),
        ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000", "cpu/cpu.cfs_period_us": "100000"}, 2.0),
        ({"cpu.max": "garbage"}, None),
        ({}, None),
    ],
)
def test_the_cgroup_quota_is_read_from_v2_or_v1(tmp_path, files, quota):
    assert cpus.cgroup_quota(cgroup(tmp_path, files)) == quota


def test_workers_follow_the_quota_bounded_by_the_allowed_cpus(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3, 4, 5, 6, 7})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert cpus.available_cpus(cgroup(tmp_path / "a", {"cpu.max": "150000 100000"})) == 2
    assert cpus.available_cpus(cgroup(tmp_path / "b", {"cpu.max": "50000 100000"})) == 1
    # No quota: the CPUs this process may run on (a cpuset), not the host's 64 cores.
    assert cpus.available_cpus(cgroup(tmp_path / "c", {"cpu.max": "max 100000"})) == 8
    assert cpus.available_cpus(cgroup(tmp_path / "d", {"cpu.max": "1600000 100000"})) == 8


def test_the_gunicorn_config_uses_it(monkeypatch):
    import importlib

    import web.gunicorn_conf as conf

    monkeypatch.delenv("KEYWARD_WORKERS", raising=False)
    monkeypatch.setattr(cpus, "available_cpus", lambda: 3)
    assert importlib.reload(conf).workers == 7
    monkeypatch.setenv("KEYWARD_WORKERS", "2")
    assert importlib.reload(conf).workers == 2
