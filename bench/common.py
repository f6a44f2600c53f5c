"""Helpers shared by the benchmarks: a throw-away database on SQLite or PostgreSQL, timing."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

PG_URL = os.environ.get("GRIDAPP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--smoke", action="store_true", help="tiny sizes: checks that the benchmark runs"
    )
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    return p


def backends(choice: str) -> list[str]:
    return ["sqlite", "postgres"] if choice == "both" else [choice]


@contextlib.contextmanager
def bench_app(backend: str, **overrides: Any) -> Iterator[Any]:
    """A migrated, empty database and an app bound to it; removed afterwards."""
    import psycopg

    from gridapp import create_app
    from gridapp.db import close_pools, db
    from gridapp.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="gridapp-bench-") as tmp:
        name = None
        if backend == "postgres":
            name = f"gridapp_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = urlunparse(urlparse(PG_URL)._replace(path="/" + name))
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        cfg = {
            "INSTANCE_PATH": Path(tmp) / "instance",
            "DATABASE_URL": url,
            "TESTING": True,
            "HUEY_IMMEDIATE": True,
            "SESSION_COOKIE_SECURE": False,
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
        cfg.update(overrides)
        app = create_app(cfg)
        # Per-job and per-migration INFO lines would bury the figures.
        for noisy in ("huey", "peewee.migrations"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        upgrade(db.obj)
        try:
            with app.app_context():
                db.connect(reuse_if_open=True)
                yield app
        finally:
            if not db.is_closed():
                db.close()
            close_pools()  # PostgreSQL's: the database is dropped next
            if name:
                with psycopg.connect(PG_URL, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timeit(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1) -> float:
    """Median seconds of ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def report(rows: list[tuple], title: str) -> None:
    """Print ``name, ours, baseline, ratio`` lines; ratio = ours / baseline (lower is better),
    unless a row brings its own (a median of per-round ratios, steadier than a ratio of
    medians on a noisy machine)."""
    print(f"\n{title}")
    print(f"  {'measure':<44} {'ours':>10} {'baseline':>10} {'ratio':>7}")
    for name, ours, base, *given in rows:
        ratio = given[0] if given else (ours / base if base else float("inf"))
        print(f"  {name:<44} {ours * 1000:>8.2f}ms {base * 1000:>8.2f}ms {ratio:>6.2f}x")
