"""A git server that hangs: it accepts connections and reads requests, but never answers."""

from __future__ import annotations

import socket
import threading


class StalledServer:
    """Accepts connections and reads requests, but never answers: a hung git server."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[bytes] = []
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection) -> None:
        try:
            data = connection.recv(4096)
        except OSError:
            return
        if data:
            self.requests.append(data)

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()

    def git_requests(self) -> int:
        return sum(1 for request in self.requests if request.startswith(b"GET /"))
