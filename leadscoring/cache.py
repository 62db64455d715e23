"""A Redis cache that, while Redis cannot be reached, behaves as an empty cache instead of failing.

Everything kept in the cache can be lost: sessions are written through to the database
(`cached_db`), throttle histories and report figures are recomputed, and the rescore flush flag
only saves sending a task twice (PendingRescore, in PostgreSQL, holds the requests themselves).
So with Redis down the pages keep working, a little slower, rather than all answering 500.
"""

import logging
import threading
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
# A request waits at most about this long per cache operation for an unreachable Redis (a
# refused connection fails at once; these bound a host that does not answer at all).
SOCKET_TIMEOUT_SECONDS = 0.5
# One warning per process this often while Redis stays down, not one per cache call.
WARN_EVERY_SECONDS = 60.0

_warned_at: float | None = None
_failures_since = 0
_warn_lock = threading.Lock()


def _warn(operation: str, error: Exception) -> None:
    global _warned_at, _failures_since
    with _warn_lock:
        now = time.monotonic()
        _failures_since += 1
        if _warned_at is not None and now - _warned_at < WARN_EVERY_SECONDS:
            return
        failures, _warned_at, _failures_since = _failures_since, now, 0
    logger.warning(
        "Redis cache unreachable (%s: %s); serving as an empty cache (%d failed operations "
        "since the last warning)",
        operation,
        error,
        failures,
    )


class DegradingRedisCache(RedisCache):
    """Django's RedisCache, with each operation degrading to "miss" when Redis is unreachable.

    Other Redis errors (a wrong command, a read-only replica) still raise: they are bugs or
    misconfiguration, not an outage. clear() is left to raise too: it is an operator's action.
    """

    _options: dict[str, Any]  # set by RedisCache.__init__ (params["OPTIONS"]); not in the stubs

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        # Passed by RedisCacheClient to redis' ConnectionPool; settings may still override.
        self._options = {
            "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS,
            "socket_timeout": SOCKET_TIMEOUT_SECONDS,
            **self._options,
        }

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except UNREACHABLE as error:
            _warn("get", error)
            return default

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        try:
            return super().get_many(keys, version)
        except UNREACHABLE as error:
            _warn("get_many", error)
            return {}

    def has_key(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().has_key(key, version)
        except UNREACHABLE as error:
            _warn("has_key", error)
            return False

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        """Unreachable: True, as if the key was free and this caller now holds it.

        add() serves as a lock or a "done once" flag, and with no shared store nobody else can
        be seen holding it. For the reports' compute lock (reports.selectors.dashboard_get)
        the request then computes the figures itself, rather than treating a lock it cannot
        read as taken; for the rescore flush flag (scoring.ingest.flush_schedule) the task is
        sent, or, the broker being down too, the failure is logged there and the pending
        sweep sends it later. False would also skip that send when only the cache is down
        and the sweep's own send with it, leaving the requests waiting until Redis is back.
        """
        try:
            return super().add(key, value, timeout, version)
        except UNREACHABLE as error:
            _warn("add", error)
            return True

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        try:
            super().set(key, value, timeout, version)
        except UNREACHABLE as error:  # not kept: the next get is a miss, as after expiry
            _warn("set", error)

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        try:
            return super().set_many(data, timeout, version)
        except UNREACHABLE as error:
            _warn("set_many", error)
            return list(data)  # the keys not stored, as the cache API reports them

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        try:
            return super().touch(key, timeout, version)
        except UNREACHABLE as error:
            _warn("touch", error)
            return False

    def delete(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().delete(key, version)
        except UNREACHABLE as error:  # nothing to delete in an unreachable cache
            _warn("delete", error)
            return False

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        try:
            super().delete_many(keys, version)
        except UNREACHABLE as error:
            _warn("delete_many", error)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        """Unreachable: ValueError, what incr() raises for a missing key (decr() goes through
        here too). A counter cannot be faked: a made-up value would look like a real count."""
        try:
            return super().incr(key, delta, version)
        except UNREACHABLE as error:
            _warn("incr", error)
            raise ValueError(f"Key '{key}' not found (Redis unreachable)") from error
