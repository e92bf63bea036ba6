"""``keyward serve``: the app under gunicorn, started from Python."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from keystore.config import Settings
from web.app import create_app
from web.background import start_embedded_schedule
from web.gunicorn_logs import GunicornLogger
from web.multiproc import child_exit


class KeywardServer(BaseApplication):
    def __init__(self, settings: Settings, options: dict) -> None:
        self.settings = settings
        self.options = {**options, "worker_exit": self._worker_exit}
        self.schedule = None
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self):
        app = create_app(self.settings)
        if self.settings.embedded:
            # Loaded in the (single) worker process: the schedule lives and dies with it.
            self.schedule = start_embedded_schedule(self.settings)
        return app

    def _worker_exit(self, server, worker) -> None:
        if self.schedule is not None:
            self.schedule.stop()


def serve(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
    """Run gunicorn in the foreground until interrupted."""
    KeywardServer(
        settings,
        {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": None,
            "timeout": 60,
            "logger_class": GunicornLogger,
            # Metrics: web.entry gave this run a fresh PROMETHEUS_MULTIPROC_DIR.
            "child_exit": child_exit,
        },
    ).run()
