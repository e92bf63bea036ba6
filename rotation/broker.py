"""kombu's Redis transport with two fixes for broker outages (``broker_transport``).

1. **A lost connection never ends the worker.**  Closing a channel restores its
   unacknowledged messages (scheduled retries, running late-ack tasks) to Redis.
   After a lost connection Celery first *collects* the connection, which detaches
   the transport from its client, and then closes it; the restore then looks up
   the missing client and the worker dies with ``Unrecoverable error:
   AttributeError("'NoneType' object has no attribute 'hostname'")``.  A detached
   channel skips the restore: it could not reach the lost Redis anyway, the
   messages stay in Redis's unacked set and come back after the visibility
   timeout, and the incident's step lease covers whatever Redis itself lost.
   Likewise a task that ends after the connection was lost acks (or rejects)
   through the old channel: that is now a connection error, which Celery logs
   (``AttributeError("'NoneType' object has no attribute 'client'")`` ended it).
2. **Publishing fails fast.**  redis-py (6+) retries a refused connection three
   times with backoff (about 6 s) inside every command; kombu and Celery already
   decide when to reconnect, and a webhook must not wait for a broker that is down.
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry


class Channel(kombu_redis.Channel):
    def close(self) -> None:
        transport = self.connection
        if transport is not None and transport.client is None:
            self.do_restore = False
        super().close()

    def _connparams(self, asynchronous: bool = False) -> dict:
        transport = self.connection
        if transport is None or transport.client is None:
            # A late ack or reject for a message of the lost connection: a connection
            # error, which Celery logs (the message stays unacked in Redis), not an
            # AttributeError that ends the worker.
            raise RedisConnectionError("the broker connection this channel used is closed")
        params = super()._connparams(asynchronous=asynchronous)
        params["retry"] = Retry(NoBackoff(), 0)
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel
