"""What a task needs (settings, sessions, Redis), built once per process.

A Celery worker builds it from the environment after forking; the embedded
web process installs its own, so in-process tasks share its database engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import redis
from sqlalchemy.orm import Session, sessionmaker

from keystore.config import Settings
from keystore.db import make_engine, make_session_factory
from keystore.limits_factory import make_redis, make_usage_recorder
from keystore.usage import UsageRecorder


@dataclass
class TaskContext:
    settings: Settings
    sessions: sessionmaker[Session]
    redis: redis.Redis | None
    usage: UsageRecorder


_installed: dict[int, TaskContext] = {}


def install(context: TaskContext) -> None:
    _installed[os.getpid()] = context


def current() -> TaskContext:
    """This process's context; a forked worker child builds its own (engines don't survive fork)."""
    context = _installed.get(os.getpid())
    if context is None:
        context = from_settings(Settings.from_env())
        install(context)
    return context


def from_settings(settings: Settings) -> TaskContext:
    client = make_redis(settings)
    return TaskContext(
        settings=settings,
        sessions=make_session_factory(make_engine(settings.database_url)),
        redis=client,
        usage=make_usage_recorder(client),
    )
