"""CPU per authenticated read, in process, against a bare Flask endpoint: the steady companion of
the morning benchmark.

    python -m bench request_cpu [--db sqlite|postgres|both] [--requests 2000] [--rounds 5]

The morning's throughput share moves by a fifth between runs on a shared two-core machine (the
load generator, PostgreSQL, Redis and the web workers take turns on the cores). This one counts
what a request costs the web process itself: CPU seconds (``time.process_time``) per request
through Flask's test client, for a bare ``jsonify`` endpoint (the baseline, the same client
overhead), ``GET /api/v1/me`` and a warm ``GET /api/v1/sync`` with nothing new, for a logged-in
grid worker of a small seeded community, with the session cache in Redis when
``GRIDAPP_TEST_REDIS`` (default db 15) answers (the warm pull then answered from Redis; the same
pull from a cursor that does not vouch for its windows reads the change log). Each round measures all three back to back;
the printed share is the median over rounds of bare CPU / endpoint CPU (1.00× = as cheap as
the bare endpoint; the morning's aim for these reads is 0.5× of its throughput).
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from bench.common import backends, bench_app, parser

REDIS_URL = os.environ.get("GRIDAPP_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _redis() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return REDIS_URL


def _cpu_per_request(client, path: str, n: int) -> float:
    t0 = time.process_time()
    for _ in range(n):
        resp = client.get(path)
    spent = time.process_time() - t0
    assert resp.status_code == 200, (path, resp.status_code)
    return spent / n


def _warm_paths(client) -> tuple[str, str]:
    """A device's cursor after its cold pull, a second old (so the window checks run too), and
    the cursor its next pull gets back: the first is read from the change log every time, the
    second (with Redis) answered "nothing new" from Redis (gridapp/sync/quiet.py)."""
    cursor, epoch = None, None
    while True:
        query: dict[str, Any] = {"limit": 500}
        if cursor:
            query.update(cursor=cursor, epoch=epoch)
        page = client.get("/api/v1/sync", query_string=query).get_json()
        cursor, epoch = page["cursor"], page["epoch"]
        if not page["more"]:
            break
    time.sleep(1.1)
    page = client.get("/api/v1/sync", query_string={"cursor": cursor, "epoch": epoch}).get_json()
    return tuple(  # type: ignore[return-value]
        "/api/v1/sync?" + urlencode({"cursor": c, "epoch": epoch}) for c in (cursor, page["cursor"])
    )


def run(backend: str, requests: int, rounds: int, households: int) -> None:
    from bench._bare import app as bare_app
    from gridapp.demo import DEMO_PASSWORD, seed_demo

    redis_url = _redis()
    overrides: dict[str, Any] = {"REDIS_URL": redis_url}
    if redis_url:
        overrides["AUTH_CACHE_PREFIX"] = f"gridapp-bench:{uuid.uuid4().hex}:"
    with bench_app(backend, **overrides) as app:
        seed_demo(households_per_grid=households, history=False)
        client = app.test_client()
        csrf = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
        login = client.post(
            "/api/v1/auth/login",
            json={"username": "dcsa_w01", "password": DEMO_PASSWORD, "device": True},
            headers={"X-CSRFToken": csrf},
        )
        assert login.status_code == 200, login.get_json()
        from_log, from_redis = _warm_paths(client)

        bare = bare_app.test_client()  # the morning's ceiling, in process

        paths = {
            "GET /api/v1/me": "/api/v1/me",
            "GET /api/v1/sync (warm, nothing new)": from_redis,
            "  the same, read from the change log": from_log,
        }
        for path in paths.values():  # warm up: imports, statement caches, the session entry
            _cpu_per_request(client, path, max(10, requests // 10))
        _cpu_per_request(bare, "/bare", max(10, requests // 10))
        base: list[float] = []
        ours: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(rounds):
            base.append(_cpu_per_request(bare, "/bare", requests))
            for name, path in paths.items():
                ours[name].append(_cpu_per_request(client, path, requests))

    cache = (
        "session cache in Redis" if redis_url else "no Redis: the session read from the database"
    )
    print(f"\nCPU per request in process on {backend} ({cache}; {rounds} rounds of {requests}):")
    print(f"  {'endpoint':<40} {'CPU/request':>12} {'share of bare':>14}")
    print(
        f"  {'bare Flask GET /bare (baseline)':<40} {statistics.median(base) * 1e6:>9.0f} µs {1:>13.2f}x"
    )
    for name, samples in ours.items():
        share = statistics.median(b / o for b, o in zip(base, samples, strict=True))
        print(f"  {name:<40} {statistics.median(samples) * 1e6:>9.0f} µs {share:>13.2f}x")


def main(argv: list[str]) -> int:
    p = parser("CPU per authenticated read, in process, as a share of a bare Flask endpoint")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--households", type=int, default=20, help="per grid of the demo community")
    args = p.parse_args(argv)
    if args.smoke:
        args.requests, args.rounds, args.households = 20, 1, 2
    for backend in backends(args.db):
        run(backend, args.requests, args.rounds, args.households)
    return 0
