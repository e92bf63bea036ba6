"""The shipped nginx config (deploy/nginx/keyward.conf), run by Debian's nginx.

nginx sits in front of a stub API that echoes the headers it received, and asks a real
Keyward (gunicorn, PostgreSQL, Redis) about every request.  Only the addresses and the
gateway token of the file are replaced, each checked to be there exactly once.
"""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.conftest import TEST_PEPPER, service_missing
from tests.databases import recreate_database
from tests.integration.stack import (
    BIN,
    GATEWAY_HEADERS,
    ROOT,
    RedisProcess,
    Service,
    healthy,
    new_client,
    seed,
    service_env,
    wait_until,
)
from tests.mailbox import free_port

CONFIG = ROOT / "deploy" / "nginx" / "keyward.conf"


@pytest.fixture
def clean_mailbox():
    """This module needs no mail server: the integration conftest's autouse fixture, disarmed."""


class StubApi:
    """The operator's API: answers 200 (or X-Stub-Status) with the headers it was sent."""

    def __init__(self) -> None:
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # http.server calls it by this name
                headers = {name.lower(): value for name, value in self.headers.items()}
                seen.append(headers)
                body = json.dumps({"path": self.path, "headers": headers}).encode()
                self.send_response(int(self.headers.get("X-Stub-Status", "200")))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_DELETE = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def render(config: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert config.count(old) == 1, f"{old!r} should appear once in {CONFIG.name}"
        config = config.replace(old, new)
    return config


def nginx_conf(tmp: Path, site: Path) -> str:
    temp = {name: tmp / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    return f"""
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {site};
}}
"""


@pytest.fixture(scope="module")
def gateway(postgres_url, tmp_path_factory):
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        service_missing("nginx (apt-get install nginx-light)", FileNotFoundError(binary))
    tmp = tmp_path_factory.mktemp("nginx")
    database_url = recreate_database(postgres_url, "keyward_it_nginx")
    seed(database_url, TEST_PEPPER)
    port, nginx_port, api = free_port(), free_port(), StubApi()
    redis_server = RedisProcess(free_port(), tmp)
    keyward = Service("keyward", GUNICORN, _keyward_env(database_url, redis_server, port), tmp)
    site = tmp / "keyward.conf"
    site.write_text(
        render(
            CONFIG.read_text(),
            {
                "server web:8080;": f"server 127.0.0.1:{port};",
                "${KEYWARD_API_UPSTREAM}": api.address,
                "${KEYWARD_GATEWAY_TOKEN}": GATEWAY_HEADERS["X-Keyward-Gateway-Token"],
                "listen 8000;": f"listen 127.0.0.1:{nginx_port};",
            },
        )
    )
    (tmp / "nginx.conf").write_text(nginx_conf(tmp, site))
    nginx = Service(
        "nginx",
        [binary, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
        {},
        tmp,
    )
    try:
        redis_server.start()
        keyward.start()
        nginx.start()
        wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), timeout=30, what="Keyward")
        wait_until(lambda: _listens(nginx_port), timeout=10, what="nginx")
        yield _Gateway(f"http://127.0.0.1:{nginx_port}", database_url, api)
    finally:
        nginx.stop()
        keyward.stop()
        redis_server.stop()
        api.stop()
        print((tmp / "error.log").read_text(errors="replace")[-3000:])


GUNICORN = [str(BIN / "gunicorn"), "-c", "python:web.gunicorn_conf", "web:create_app()"]


def _keyward_env(database_url: str, redis_server: RedisProcess, port: int) -> dict:
    return service_env(
        {
            "KEYWARD_DATABASE_URL": database_url,
            "KEYWARD_REDIS_URL": redis_server.url,
            "KEYWARD_PEPPER": TEST_PEPPER,
            "KEYWARD_GATEWAY_TOKEN": GATEWAY_HEADERS["X-Keyward-Gateway-Token"],
            "KEYWARD_METRICS_TOKEN": "integration-metrics-token-0123456789",
            "KEYWARD_BIND": f"127.0.0.1:{port}",
            "KEYWARD_WORKERS": "1",
        }
    )


def _listens(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/", timeout=1)
    except requests.RequestException:
        return False
    return True


class _Gateway:
    def __init__(self, base_url: str, database_url: str, api: StubApi) -> None:
        self.base_url, self.database_url, self.api = base_url, database_url, api

    def get(self, path: str, *, method: str = "GET", **headers) -> requests.Response:
        self.api.seen.clear()
        return requests.request(method, self.base_url + path, headers=headers, timeout=10)


def test_an_allowed_request_reaches_the_api_with_keywards_identity(gateway):
    key_id, token = new_client(gateway.database_url, TEST_PEPPER, "nginx-alpha")
    answer = gateway.get("/orders?page=2", Authorization=f"Bearer {token}")
    assert answer.status_code == 200, answer.text
    [seen] = gateway.api.seen
    assert seen["x-keyward-key-id"] == str(key_id)
    assert seen["x-keyward-client-id"].isdigit()
    assert answer.json()["path"] == "/orders?page=2"


def test_spoofed_keyward_headers_and_the_credential_never_reach_the_api(gateway):
    key_id, token = new_client(gateway.database_url, TEST_PEPPER, "nginx-bravo")
    spoofed = {
        "X-Keyward-Client-Id": "999",
        "X-Keyward-Key-Id": "999",
        "X-Keyward-Reason": "allowed",
        "X-Keyward-Status": "200",
        "X-Keyward-Endpoint": "orders.list",
        "X-Keyward-Environment": "prod",
        "X-Keyward-Project": "shop",
        "X-Keyward-Gateway": "nginx",
        "X-Keyward-Gateway-Token": "guess",
    }
    answer = gateway.get("/orders", **{"X-API-Key": token}, **spoofed)
    assert answer.status_code == 200, answer.text
    [seen] = gateway.api.seen
    assert seen["x-keyward-key-id"] == str(key_id)
    assert seen["x-keyward-client-id"] != "999"
    assert not {"authorization", "x-api-key"} & seen.keys()
    leftovers = {name for name in seen if name.startswith("x-keyward-")}
    assert leftovers == {"x-keyward-client-id", "x-keyward-key-id"}
    assert token not in json.dumps(seen)


def test_a_client_cannot_name_the_endpoint_keyward_decides_on(gateway):
    _, token = new_client(gateway.database_url, TEST_PEPPER, "nginx-charlie")
    # DELETE /orders is no endpoint the role grants; naming orders.list must not make it one.
    answer = gateway.get(
        "/orders",
        method="DELETE",
        Authorization=f"Bearer {token}",
        **{"X-Keyward-Endpoint": "orders.list"},
    )
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    assert gateway.api.seen == []


def test_refusals_are_401_and_403_with_a_json_body(gateway):
    missing = gateway.get("/orders")
    assert missing.status_code == 401
    assert missing.json() == {"error": "unauthorized", "reason": "missing"}
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    unknown = gateway.get("/orders", Authorization="Bearer kw_prod_" + "A" * 43)
    assert unknown.status_code == 401
    _, token = new_client(gateway.database_url, TEST_PEPPER, "nginx-delta")
    elsewhere = gateway.get("/admin/users", Authorization=f"Bearer {token}")
    assert elsewhere.status_code == 403
    assert gateway.api.seen == []


def test_a_rate_limited_request_is_a_429_with_retry_after(gateway):
    _, token = new_client(
        gateway.database_url,
        TEST_PEPPER,
        "nginx-echo",
        limits={"rate_limit": 1, "rate_window_seconds": 60},
    )
    assert gateway.get("/orders", Authorization=f"Bearer {token}").status_code == 200
    limited = gateway.get("/orders", Authorization=f"Bearer {token}")
    assert limited.status_code == 429, limited.text
    assert limited.json() == {"error": "too_many_requests", "reason": "rate_limited"}
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert gateway.api.seen == []


def test_the_apis_own_refusals_pass_through_unchanged(gateway):
    _, token = new_client(gateway.database_url, TEST_PEPPER, "nginx-foxtrot")
    answer = gateway.get("/orders", Authorization=f"Bearer {token}", **{"X-Stub-Status": "403"})
    assert answer.status_code == 403
    assert answer.json()["path"] == "/orders"
