"""The shipped deployment matches the README: a worker per queue, a writable scan cache."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from rotation.celery_app import LEAKS_QUEUE, SCANS_QUEUE

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def queues_of(service: dict) -> set[str] | None:
    command = service.get("command") or []
    if command[:4] != ["celery", "-A", "rotation.worker", "worker"]:
        return None
    return set(command[command.index("--queues") + 1].split(","))


def test_each_queue_has_its_own_worker_and_none_consumes_both():
    workers = {
        name: queues_of(service)
        for name, service in compose()["services"].items()
        if queues_of(service) is not None
    }
    assert sorted(map(sorted, workers.values())) == [[LEAKS_QUEUE], [SCANS_QUEUE]]


def test_the_scan_worker_has_a_writable_cache_volume():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cache = re.search(r"KEYWARD_SCAN_CACHE=(\S+)", dockerfile).group(1)
    assert re.search(rf"chown keyward .*{re.escape(cache)}", dockerfile)
    services = compose()["services"]
    scan_worker = next(s for s in services.values() if queues_of(s) == {SCANS_QUEUE})
    mounts = [volume.split(":", 1) for volume in scan_worker["volumes"]]
    assert any(target == cache and source in compose()["volumes"] for source, target in mounts)
    assert Path(cache).is_absolute()
