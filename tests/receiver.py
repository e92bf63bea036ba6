"""A real HTTP server on 127.0.0.1 that plays a webhook receiver, and the receiver's check.

``verify`` is what the README tells receivers to do with ``X-Keyward-Signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    """Records every POST; answers the statuses queued in ``answers`` (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes, str]] = []
        self.answers: list[int] = []
        self.location: str | None = None
        self._lock = threading.Lock()

    def next_status(self) -> int:
        with self._lock:
            return self.answers.pop(0) if self.answers else 200

    @property
    def bodies(self) -> list[bytes]:
        return [body for _, body, _ in self.requests]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server calls it by this name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(
                ({k.lower(): v for k, v in self.headers.items()}, body, self.path)
            )
            status = receiver.next_status()
            self.send_response(status)
            if receiver.location and 300 <= status < 400:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST  # a followed redirect would arrive as a GET

        def log_message(self, *args):  # keep test output quiet
            pass

    return Handler


@pytest.fixture
def receiver():
    box = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/keyward"
    yield box
    server.shutdown()
    server.server_close()


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """The receiver's side: recompute the HMAC, compare in constant time, refuse old stamps."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        stamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - stamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))
