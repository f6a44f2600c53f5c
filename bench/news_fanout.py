"""News fan-out: one item published to N followers of a community (Web Push at a fake push
service on 127.0.0.1, running in another process so its CPU is not counted).

Measures the whole publish (``create_item`` → release → ``fanout``: delivery rows inserted and
claimed in batches, aes128gcm + VAPID, pipelined POSTs, outcomes recorded) in messages per
second, against the bare RFC 8291 crypto loop measured in the same run around each round
(``bench.push.crypto_loop``: what any sender must compute per message). Each round publishes a
new item to the same followers; a re-run of a finished fan-out (the idempotency check: it must
send nothing) is timed too.

    python -m bench news_fanout [--smoke] [--db sqlite|postgres|both] [-n 10000] [--rounds 3]
"""

from __future__ import annotations

import base64
import os
import statistics
import time

from bench.common import backends, bench_app, parser, report
from bench.push import crypto_loop, start_push_service


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def seed(n: int, origin: str):
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from peewee import chunked

    from gridapp.db import db, utcnow
    from gridapp.news.models import NewsFollower
    from gridapp.org.models import Community, Street, User

    street = Street.create(name="街道", code="st")
    community = Community.create(street=street, name="社区", code="c1")
    boss = User.create(
        username="boss", password_hash="-", display_name="boss", role="supervisor",
        community=community,
    )  # fmt: skip
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(16)]
    pubs = [k.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
            for k in keys]  # fmt: skip
    now = utcnow()
    with db.atomic():
        for chunk in chunked(range(n), 500):
            NewsFollower.insert_many(
                [
                    {
                        "community": community.id,
                        "endpoint": f"{origin}/push/n{i}",
                        "p256dh": b64(pubs[i % 16]),
                        "auth": b64(os.urandom(16)),
                        "created_at": now,
                    }
                    for i in chunk
                ]  # fmt: skip
            ).execute()
    return boss, community, pubs


def publish(boss, community, title: str) -> tuple[float, float, int]:
    """(wall s, CPU s, pushes accepted) for one item, end to end."""
    from gridapp.news.models import NewsDelivery
    from gridapp.news.service import create_item
    from gridapp.scope import scope_for

    w0, c0 = time.perf_counter(), time.process_time()
    item = create_item(
        boss, scope_for(boss),
        {"community_id": community.id, "title": title, "body": "明天 8:00–12:00 停水，请提前储水。"},
    )  # fmt: skip
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    sent = (
        NewsDelivery.select()
        .where(NewsDelivery.item == item.id, NewsDelivery.status == "sent")
        .count()
    )
    return wall, cpu, sent, item.id


def run(backend: str, n: int, origin: str, rounds: int) -> None:
    from gridapp.news.fanout import fanout
    from gridapp.notifications import rules
    from gridapp.notifications.channels import channels

    with bench_app(backend, PUSH_ALLOW_LOCAL_HTTP=True):
        boss, community, pubs = seed(n, origin)
        payload = rules.build_payload(
            {"id": 1, "type": "news.item", "title": "社区·明日停水通知",
             "body": "明天 8:00–12:00 停水，请提前储水。", "link": "/n/x/1", "urgent": False}
        )  # fmt: skip
        auth = os.urandom(16)
        k = max(20, min(n, 2000))
        crypto, whole, walls, rerun = [], [], [], []
        for r in range(rounds):
            before = crypto_loop(k, pubs, auth, payload) / k
            wall, cpu, sent, item_id = publish(boss, community, f"停水通知 {r + 1}")
            assert sent == n, (sent, n)
            after = crypto_loop(k, pubs, auth, payload) / k
            crypto.append((before + after) / 2)
            whole.append(cpu / n)
            walls.append(wall / n)
            t0 = time.process_time()
            assert fanout(item_id) == {}  # idempotent: nothing is sent twice
            rerun.append((time.process_time() - t0) / n)
        channels()["webpush"].close()

    med = statistics.median
    c = med(crypto)
    r_whole = med(o / b for o, b in zip(whole, crypto, strict=True))
    r_rerun = med(o / b for o, b in zip(rerun, crypto, strict=True))
    report(
        [
            ("publish + fan-out (rows, crypto, HTTP)", med(whole), c, r_whole),
            ("re-run of a finished fan-out (sends 0)", med(rerun), c, r_rerun),
        ],
        f"news fan-out to {n} followers ({backend}); CPU per message, median of {rounds} "
        "round(s); baseline: bare RFC 8291 crypto measured around each round",
    )
    print("  messages per second per core (CPU of the publishing process):")
    print(f"    crypto alone (the limit)   {1 / c:>9,.0f}/s   1.00x")
    print(
        f"    news fan-out               {1 / med(whole):>9,.0f}/s   {1 / r_whole:.2f}x of the limit"
    )
    print(f"  wall clock: {1 / med(walls):,.0f} messages/s ({n} followers per round)")


def main(argv: list[str]) -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=None, help="followers (default 10000; smoke 30)")
    p.add_argument("--rounds", type=int, default=None, help="publishes measured (default 3)")
    args = p.parse_args(argv)
    n = args.n or (30 if args.smoke else 10_000)
    proc, origin = start_push_service()
    try:
        for backend in backends(args.db):
            run(backend, n, origin, args.rounds or (1 if args.smoke else 3))
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
    return 0
