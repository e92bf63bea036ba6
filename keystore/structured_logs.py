"""One JSON object per log line, for every process: web, workers, beat, gunicorn.

Each line has ``ts`` (UTC, milliseconds), ``level``, ``logger`` and ``message``, the ids of
the request or task being served (``request_id``, ``task_id``: bound by the web layer and
the task signals into a context variable, so a library's own lines carry them too), and
the traceback as ``exception``.  The finished line passes the token scrubber as a whole.

The handler sits on the root logger, so gunicorn's, Celery's and every library's records
are formatted the same way; handlers others put there (pytest's) are left alone.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime

from keystore.redaction import ScrubbingFormatter, install_scrubbing, scrub

_CONTEXT: ContextVar[dict | None] = ContextVar("keyward_log_context", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def bind(**fields) -> Token:
    """Add ``fields`` to every line logged in this context until :func:`unbind`."""
    return _CONTEXT.set({**(_CONTEXT.get() or {}), **fields})


def unbind(token: Token) -> None:
    _CONTEXT.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **(_CONTEXT.get() or {}),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return scrub(json.dumps(entry, default=str))


def utc_timestamp(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else ScrubbingFormatter(TEXT_FORMAT)


class _OurHandler(logging.StreamHandler):
    """Marks the handler this module installed, so configuring again replaces only it."""


def configure(level: str | int, fmt: str) -> None:
    """Every record of the process, through one scrubbed handler on the root logger (stderr)."""
    install_scrubbing()
    handler = _OurHandler(sys.stderr)
    handler.setFormatter(make_formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _OurHandler)] + [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a log line too, not raw stderr
    # Our own loggers go through the same handler (they used to keep one of their own).
    ours = logging.getLogger("keyward")
    ours.handlers.clear()
    ours.propagate = True
    ours.setLevel(logging.NOTSET)
