"""What the app holds for its lifetime: settings, engine, Redis, limiter, usage, metrics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis
import requests
from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from keystore import remote_jwks
from keystore.cache_freshness import make_decision_cache
from keystore.config import Settings
from keystore.db import make_engine, make_read_session_factory, make_session_factory, transaction
from keystore.decision_cache import DecisionCache
from keystore.key_cache import MemoryKeyCache, RedisKeyCache
from keystore.limits_factory import make_rate_limiter, make_redis, make_usage_recorder
from keystore.ratelimit import RateLimiter
from keystore.usage import UsageRecorder
from rotation import context
from rotation.celery_app import make_celery
from rotation.partner_keys import PartnerKeySource, partner_sources
from web.metrics import USAGE_LOST


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # Autocommit sessions for the gate's single-query decisions.
    read_sessions: sessionmaker[Session]
    redis: redis.Redis | None
    limiter: RateLimiter
    usage: UsageRecorder
    partners: dict[str, PartnerKeySource]
    # What decisions read, kept until a change (None: KEYWARD_DECISION_CACHE=off).
    decision_cache: DecisionCache | None = None

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.database_url)
        client = make_redis(settings)
        runtime = cls(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            read_sessions=make_read_session_factory(engine),
            redis=client,
            limiter=make_rate_limiter(client),
            usage=make_usage_recorder(
                client, push_seconds=settings.usage_push_seconds, on_lost=USAGE_LOST.inc
            ),
            partners=partner_sources(settings, client, requests.Session()),
            decision_cache=make_decision_cache(settings),
        )
        # Identity providers' JWKS are cached like partner keys: in Redis, shared by all processes.
        remote_jwks.CACHE.use(RedisKeyCache(client) if client is not None else MemoryKeyCache())
        runtime.install_task_context()
        # Tasks are sent through this app (the Redis broker), never Celery's default one.
        make_celery(settings).set_default()
        return runtime

    def install_task_context(self) -> None:
        """In-process tasks (embedded mode) use this app's engine, Redis and usage buffer."""
        context.install(
            context.TaskContext(
                settings=self.settings, sessions=self.sessions, redis=self.redis, usage=self.usage
            )
        )

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: committed before the response is built, so what we answer is stored."""
        with transaction(self.sessions) as session:
            yield session


def runtime() -> Runtime:
    return current_app.extensions["keyward"]
