"""The Redis cache, degraded instead of failing when Redis is unreachable.

The cache only ever holds what can be recomputed or forgotten (debounce flags, throttle counters,
cached figures), so while Redis is down reads miss and writes are dropped, with a warning, rather
than turning a request into a 500. The same circuit breaker as the broker's
(:class:`learninghub.kernel.queue.Breaker`) skips Redis for ``BROKER_BREAKER_SECONDS`` after a
failure, so an outage costs one failed connection per window, not one per cache call.
"""

from __future__ import annotations

import logging

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from learninghub.kernel.queue import Breaker

logger = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)

breaker = Breaker()


class ResilientRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` that misses (reads) and drops (writes)
    while Redis is unreachable. ``incr`` then raises ``ValueError``, as for a missing key."""

    def _degrade(self, fallback, operation, *args, **kwargs):
        if breaker.is_open():
            return fallback
        try:
            return operation(*args, **kwargs)
        except REDIS_DOWN as exc:
            breaker.trip()
            logger.warning("Cache unavailable, %s skipped: %s", operation.__name__, exc)
            return fallback

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(False, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._degrade(default, super().get, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._degrade(False, super().delete, key, version)

    def get_many(self, keys, version=None):
        return self._degrade({}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._degrade(False, super().has_key, key, version)

    def incr(self, key, delta=1, version=None):
        missing = object()
        value = self._degrade(missing, super().incr, key, delta, version)
        if value is missing:
            raise ValueError(f"Key {key!r} not found (cache unavailable)")
        return value

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._degrade(None, super().delete_many, keys, version)

    def clear(self):
        return self._degrade(False, super().clear)
