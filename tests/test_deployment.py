"""The shipped deployment matches the README: every service's command, environment and volumes.

docker-compose.yml is rendered with PyYAML (no Docker engine here), its ``${VAR:?}`` and
``${VAR:-default}`` interpolations filled in as ``docker compose config`` would.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from pathlib import Path

import yaml

from keystore.config import Settings
from rotation.celery_app import LEAKS_QUEUE, SCANS_QUEUE

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
# An exact version (PostgreSQL's have two parts since 10: 16.4 is a patch release) or a digest.
PINNED = re.compile(
    r"\A(postgres:\d+\.\d+|[\w./-]+:v?\d+\.\d+\.\d+)(-[\w.-]+)?\Z|\A[\w./-]+@sha256:[0-9a-f]{64}\Z"
)
# What the operator exports before `docker compose up` (README, Deployment).
EXPORTED = {"KEYWARD_PEPPER": "p" * 48, "KEYWARD_GATEWAY_TOKEN": "g" * 32}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def interpolate(value: str) -> str:
    def fill(match: re.Match) -> str:
        name, kind, default = match.group(1), match.group(2), match.group(3)
        if name in EXPORTED:
            return EXPORTED[name]
        assert kind == ":-", f"${{{name}}} has no default and the README does not export it"
        return default

    return re.sub(r"\$\{(\w+)(:[-?])?([^}]*)\}", fill, value)


def environment(service: dict) -> dict[str, str]:
    return {name: interpolate(str(value)) for name, value in service["environment"].items()}


def keyward_services() -> dict[str, dict]:
    return {name: s for name, s in compose()["services"].items() if s.get("build") == "."}


def documented_settings() -> set[str]:
    start = README.index("## Settings")
    table = README[start : README.index("\n## ", start + 1)]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def queues_of(service: dict) -> set[str] | None:
    command = [part for part in service.get("command") or [] if part != "--quiet"]
    if command[:4] != ["celery", "-A", "rotation.worker", "worker"]:
        return None
    return set(command[command.index("--queues") + 1].split(","))


def mounts(service: dict) -> dict[str, str]:
    """target -> source of the service's volumes."""
    return {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}


def test_each_queue_has_its_own_worker_and_none_consumes_both():
    workers = {
        name: queues_of(service)
        for name, service in compose()["services"].items()
        if queues_of(service) is not None
    }
    assert sorted(map(sorted, workers.values())) == [[LEAKS_QUEUE], [SCANS_QUEUE]]


def test_every_image_is_pinned():
    images = [s["image"] for s in compose()["services"].values() if "image" in s]
    images += re.findall(r"^FROM\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert len(images) >= 5
    assert [image for image in images if not PINNED.match(image)] == []


def test_the_python_dependencies_are_pinned_by_a_constraints_file_the_image_uses():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY deploy/constraints.txt" in dockerfile
    assert re.search(r"pip install .*--constraint deploy/constraints\.txt", dockerfile)
    pinned = {
        re.sub(r"[-_.]+", "-", line.split("==")[0]).lower()
        for line in (ROOT / "deploy" / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    pyproject = (ROOT / "pyproject.toml").read_text()
    server = pyproject[pyproject.index("server = [") : pyproject.index("dev = [")]
    base = pyproject[pyproject.index("dependencies = [") : pyproject.index("[project.optional")]
    required = {
        re.sub(r"[-_.]+", "-", name).lower()
        for name in re.findall(r'^\s+"([A-Za-z0-9_.-]+)', base + server, re.MULTILINE)
    }
    assert required
    assert required <= pinned, required - pinned


def test_every_setting_of_every_service_is_in_the_readme_table():
    documented = documented_settings()
    for name, service in compose()["services"].items():
        settings = {k for k in service.get("environment", {}) if k.startswith(("KEYWARD_", "PROM"))}
        assert settings <= documented, (name, settings - documented)


def test_every_keyward_service_starts_with_valid_production_settings():
    for name, service in keyward_services().items():
        settings = Settings.from_env(environment(service))
        assert settings.mode == "production", name
        assert settings.database_url.startswith("postgresql+psycopg://"), name
        assert settings.redis_url, name


def test_the_data_directory_and_the_scan_cache_are_on_a_writable_named_volume():
    volumes = compose()["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for name, service in keyward_services().items():
        settings = Settings.from_env(environment(service))
        data_dir = str(settings.data_dir)
        assert mounts(service).get(data_dir) in volumes, name
        assert str(settings.scan_cache_dir).startswith(data_dir + "/"), name
    # The image makes them the service user's, so a fresh named volume starts out writable.
    owned = re.search(r"chown keyward ([^\n\\]+)", dockerfile).group(1).split()
    assert {"/var/lib/keyward", "/var/lib/keyward/repos"} <= set(owned)


def test_each_container_has_a_private_metrics_directory():
    for name, service in keyward_services().items():
        directory = environment(service)["PROMETHEUS_MULTIPROC_DIR"]
        tmpfs = [entry.split(":")[0] for entry in service.get("tmpfs", [])]
        assert directory in tmpfs, name
        assert directory not in mounts(service), name  # never a volume other containers share


def test_each_process_type_is_its_own_scrape_target():
    for name, service in keyward_services().items():
        port = environment(service).get("KEYWARD_WORKER_METRICS_PORT")
        # Workers (whose pools count the leak response and scans) serve their own port.
        assert (port is not None) == (queues_of(service) is not None), name


def test_trusted_proxies_are_loopback_and_the_declared_compose_network():
    networks = compose()["networks"]
    subnets = {
        ipaddress.ip_network(config["subnet"])
        for network in networks.values()
        for config in network["ipam"]["config"]
    }
    for name, service in keyward_services().items():
        assert set(service["networks"]) <= set(networks), name
        trusted = {
            ipaddress.ip_network(cidr)
            for cidr in environment(service)["KEYWARD_TRUSTED_PROXIES"].split(",")
        }
        assert {net for net in trusted if not net.is_loopback} == subnets, name
    for service in compose()["services"].values():
        assert set(service.get("networks", [])) == set(networks)


def test_the_nginx_service_runs_the_shipped_config_against_the_web_service():
    services = compose()["services"]
    config = (ROOT / "deploy" / "nginx" / "keyward.conf").read_text()
    upstream = re.search(r"upstream keyward \{\s*(?:#[^\n]*\s*)*server ([\w.-]+):(\d+);", config)
    host, port = upstream.groups()
    assert host == "web"
    assert host in services
    assert Settings.from_env(environment(services["web"])).mode == "production"
    assert f"{port}:{port}" in services["web"]["ports"]
    nginx = services["nginx"]
    assert PINNED.match(nginx["image"])
    assert nginx["image"].startswith("nginx:")
    assert mounts(nginx)["/etc/nginx/templates/default.conf.template"] == (
        "./deploy/nginx/keyward.conf"
    )
    # Every ${VAR} of the template is in the nginx container's environment.
    assert set(re.findall(r"\$\{(\w+)\}", config)) <= set(environment(nginx))


def test_the_commands_are_the_readmes_processes():
    block = README[README.index("Processes, with the same") :].split("\n\n")[1]
    processes = [shlex.split(line.split("#")[0]) for line in block.splitlines()]
    for name, service in keyward_services().items():
        command = service["command"]
        if command == ["keyward", "migrate"]:
            continue
        assert any(command[: len(p)] == p for p in processes), (name, command)
        # Workers follow the container's CPU limit (web.cpus): no fixed count.
        assert "KEYWARD_WORKERS" not in service["environment"], name
