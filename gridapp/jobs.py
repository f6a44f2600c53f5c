"""Background jobs on huey: SQLite storage in the instance folder by default, Redis when
``REDIS_URL`` is set.

The ``huey`` object exists at import time (task decorators need it) with a throw-away memory
storage; ``init_jobs`` binds the real storage from the app's config, so nothing about the
deployment is decided at import. ``app_task``/``app_periodic_task`` run the body inside an app
context with a database connection, in the consumer and in immediate mode alike.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, has_app_context
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from gridapp.db import db

huey: Huey = MemoryHuey("gridapp", utc=True)
_app: Flask | None = None
log = logging.getLogger(__name__)


class TolerantRedisStorage(RedisStorage):
    """A job enqueued while Redis is unreachable is logged and dropped instead of failing the
    request that asked for it, whose data is already committed (docs/scale.md, "Faults"): the
    web keeps serving; work that periodic jobs re-find (due deliveries, pending announcements,
    deadlines) happens once Redis is back."""

    def enqueue(self, data: bytes, priority: Any = None) -> None:
        import redis

        try:
            super().enqueue(data, priority)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.error("job not queued, Redis unreachable (%s)", exc)


def init_jobs(app: Flask) -> None:
    global _app
    _app = app
    if app.config.get("HUEY_IMMEDIATE"):
        huey.immediate = True
        return
    huey.immediate = False
    url = app.config.get("REDIS_URL")
    if url:
        huey.storage = TolerantRedisStorage("gridapp", url=url)
    else:
        huey.storage = SqliteStorage("gridapp", filename=app.config["HUEY_SQLITE_PATH"], timeout=10)


def storage_kind() -> str:
    storage = huey.storage
    if isinstance(storage, RedisStorage):
        return "redis"
    if isinstance(storage, SqliteStorage):
        return "sqlite"
    if isinstance(storage, MemoryStorage):
        return "memory"
    return type(storage).__name__


def _in_app(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            opened = db.connect(reuse_if_open=True)
            try:
                return fn(*args, **kwargs)
            finally:
                if opened and not db.is_closed():
                    db.close()
        if _app is None:
            raise RuntimeError("init_jobs(app) has not run in this process")
        with _app.app_context():
            db.connect(reuse_if_open=True)
            try:
                return fn(*args, **kwargs)
            finally:
                if not db.is_closed():
                    db.close()

    return wrapper


def app_task(**options: Any) -> Callable:
    """``@huey.task`` whose body runs with the Flask app context and a database connection."""

    def decorator(fn: Callable) -> Any:
        return huey.task(**options)(_in_app(fn))

    return decorator


def app_periodic_task(validate_datetime: Any, **options: Any) -> Callable:
    def decorator(fn: Callable) -> Any:
        return huey.periodic_task(validate_datetime, **options)(_in_app(fn))

    return decorator


@app_task()
def ping() -> str:
    """A no-op job: the health check and the worker smoke test enqueue it."""
    return "pong"


__all__ = ["huey", "init_jobs", "app_task", "app_periodic_task", "SqliteHuey", "RedisHuey"]
