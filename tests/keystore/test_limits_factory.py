from keystore.limits_factory import make_limits, make_rate_limiter, make_usage_recorder
from keystore.ratelimit import MemoryRateLimiter, RedisRateLimiter
from keystore.usage import MemoryUsageRecorder, RedisUsageRecorder
from tests.conftest import REDIS_URL


def test_embedded_settings_build_the_memory_pair(settings):
    limiter, recorder = make_limits(settings)
    assert isinstance(limiter, MemoryRateLimiter)
    assert isinstance(recorder, MemoryUsageRecorder)


def test_production_settings_build_the_redis_pair(settings, redis_client):
    production = settings.__class__.from_env(
        {}, data_dir=settings.data_dir, pepper=settings.pepper, redis_url=REDIS_URL
    )
    limiter, recorder = make_limits(production)
    assert isinstance(limiter, RedisRateLimiter)
    assert isinstance(recorder, RedisUsageRecorder)


def test_a_redis_client_selects_redis(redis_client):
    assert isinstance(make_rate_limiter(redis_client), RedisRateLimiter)
    assert isinstance(make_usage_recorder(redis_client), RedisUsageRecorder)
    assert isinstance(make_rate_limiter(None), MemoryRateLimiter)
