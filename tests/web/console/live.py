"""A real Keyward on a free port for browser tests, a fake GitHub key server, and Chromium.

The server is the real app (``create_app``) under werkzeug's threaded server,
against a fresh SQLite file migrated like ``keyward serve`` does it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from keystore.config import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"


def require_chromium(executable: str = CHROMIUM):
    """Playwright's sync API, or a skip here and a failure under CI (``CI`` set)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _missing(f"the playwright package is not installed ({exc})")
    if not os.access(executable, os.X_OK):
        _missing(f"{executable} is not installed (apt-get install chromium)")
    return sync_playwright


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI requires it", pytrace=False)
    pytest.skip(message)


class Threaded:
    """Serve forever in a daemon thread; ``stop()`` shuts down cleanly."""

    def __init__(self, server) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def key_server(document: dict) -> Threaded:
    """GitHub's secret-scanning key endpoint, served from 127.0.0.1."""
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep test output quiet
            pass

    return Threaded(ThreadingHTTPServer(("127.0.0.1", 0), Handler))


@dataclass
class Keyward:
    url: str
    settings: Settings
    server: Threaded


def keyward_server(app, settings: Settings) -> Keyward:
    """Serve the app on a free port; its public URL (for invitation links) is that port's."""
    server = Threaded(make_server("127.0.0.1", 0, app, threaded=True))
    url = f"http://127.0.0.1:{server.port}"
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(runtime.settings, public_url=url)
    return Keyward(url=url, settings=runtime.settings, server=server)


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
