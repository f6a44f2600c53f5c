"""企业微信 fan-out: one announcement to N grid workers bound to WeCom and without Web Push, so
the escalation policy sends it over the ``wecom`` channel at once, to a fake WeCom API in
another process (its CPU is not counted).

Measures messages per second of the whole pipeline (inbox rows, deliveries, binding lookups,
text cards, ``message/send`` calls of up to 1,000 members each, outcome recording) against the
bare Web Push crypto loop in the same run (``bench/push.py``'s: what a Web Push sender must
compute per message, the issue's yardstick). Also reports the API calls made: one gettoken and
one message/send per 1,000 members.

    python -m bench wecom [--smoke] [--db sqlite|postgres|both] [-n 3000] [--rounds 3]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import backends, bench_app, parser, report
from bench.push import BODY, crypto_loop

ROOT = Path(__file__).resolve().parent.parent

SERVER = """
import sys, json
from tests.notifications.fake_wecom import FakeWecom
n = int(sys.argv[1])
f = FakeWecom(members={f"w{i}" for i in range(n)})
print(json.dumps(f.config()), flush=True)
for line in sys.stdin:
    print(json.dumps({"gettoken": f.gettoken_calls,
                      "send": sum(1 for c in f.calls if c[0] == "message/send"),
                      "members": sum(len(s.touser) for s in f.sent)}), flush=True)
"""


def start_fake(n: int) -> tuple[subprocess.Popen, dict]:
    import json

    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(n)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        text=True,
    )
    return proc, json.loads(proc.stdout.readline())


def counts(proc: subprocess.Popen) -> dict:
    import json

    proc.stdin.write("?\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def seed(n: int):
    """``n`` grid workers ``w0``… bound to WeCom members ``w0``…, quiet hours off."""
    from peewee import chunked

    from gridapp.db import db, utcnow
    from gridapp.notifications.models import QuietHours
    from gridapp.notifications.wecom.binding import corp_id
    from gridapp.notifications.wecom.models import WecomBinding
    from gridapp.org.models import Community, Grid, Street, User, UserGrid

    street = Street.create(name="街道", code="st")
    community = Community.create(street=street, name="社区", code="c1")
    grid = Grid.create(community=community, name="网格", code="g1")
    boss = User.create(username="boss", password_hash="-", display_name="boss",
                       role="supervisor", community=community)  # fmt: skip
    corp, now = corp_id(), utcnow()
    with db.atomic():
        for chunk in chunked(range(n), 500):
            User.insert_many([{"username": f"w{i}", "password_hash": "-", "display_name": f"w{i}",
                               "role": "grid_worker"} for i in chunk]).execute()  # fmt: skip
        users = list(User.select(User.id, User.username).where(User.role == "grid_worker"))
        for chunk in chunked(users, 300):
            UserGrid.insert_many([{"user": u.id, "grid": grid.id} for u in chunk]).execute()
            QuietHours.insert_many([{"user": u.id, "enabled": False} for u in chunk]).execute()
            WecomBinding.insert_many([{"user": u.id, "corp_id": corp, "userid": u.username,
                                       "bound_at": now} for u in chunk]).execute()  # fmt: skip
    return boss, community


def fan_out(boss, community, title: str) -> tuple[float, float, int]:
    from gridapp.notifications.announcements import announce
    from gridapp.notifications.models import Delivery
    from gridapp.scope import scope_for

    sent = Delivery.select().where(Delivery.channel == "wecom", Delivery.status == "sent")
    before = sent.count()
    w0, c0 = time.perf_counter(), time.process_time()
    announce(boss, scope_for(boss), title, BODY, community_id=community.id)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return wall, cpu, sent.count() - before


def run(backend: str, n: int, rounds: int) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from gridapp.notifications import rules

    proc, config = start_fake(n)
    try:
        with bench_app(backend, **config) as _app:
            boss, community = seed(n)
            keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(16)]
            pubs = [k.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
                    for k in keys]  # fmt: skip
            payload = rules.build_payload({"id": 1, "type": "announcement", "title": "停水通知",
                                           "body": BODY, "link": "", "urgent": False})  # fmt: skip
            auth = os.urandom(16)
            k = max(20, min(n, 2000))
            crypto, whole, walls = [], [], []
            for r in range(rounds):
                before = crypto_loop(k, pubs, auth, payload) / k
                wall, cpu, sent = fan_out(boss, community, f"停水通知 {r + 1}")
                assert sent == n, (sent, n)
                after = crypto_loop(k, pubs, auth, payload) / k
                crypto.append((before + after) / 2)
                whole.append(cpu / n)
                walls.append(wall / n)
            calls = counts(proc)
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
    med = statistics.median
    c, w = med(crypto), med(whole)
    ratio = med(o / b for o, b in zip(whole, crypto, strict=True))
    report(
        [("whole wecom fan-out (inbox + deliveries + API)", w, c, ratio)],
        f"企业微信 fan-out to {n} workers ({backend}); CPU per message of this process, median "
        f"of {rounds} round(s); baseline: bare Web Push crypto per message (bench/push.py's "
        "loop) around each round; ratio: median of the rounds' ratios",
    )
    print("  messages per second per core (CPU of the delivering process):")
    print(f"    Web Push crypto alone      {1 / c:>9,.0f}/s   1.00x")
    print(f"    wecom whole pipeline       {1 / w:>9,.0f}/s   {1 / ratio:.2f}x of it")
    print(f"  wall clock, whole wecom pipeline: {1 / med(walls):,.0f} messages/s")
    print(f"  API calls for {n * rounds} messages: {calls['gettoken']} gettoken, "
          f"{calls['send']} message/send ({calls['members']} members)")  # fmt: skip


def main(argv: list[str]) -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=None, help="workers (default 3000; smoke 30)")
    p.add_argument("--rounds", type=int, default=None, help="fan-outs measured (default 3)")
    args = p.parse_args(argv)
    n = args.n or (30 if args.smoke else 3000)
    for backend in backends(args.db):
        run(backend, n, args.rounds or (1 if args.smoke else 3))
    return 0
