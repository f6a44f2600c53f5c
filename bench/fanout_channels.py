"""Announcement fan-out through all three channels: Web Push at the fake push service,
企业微信 and SMS at loopback providers (another process each, so their CPU is not counted),
against the Web Push crypto-alone rate measured in the same run.

An announcement is sent to N grid workers (default 3,000) four ways, each a whole pipeline
(inbox rows, policy, deliveries, sending, outcomes) measured as this process's CPU per message:
  webpush   policy: announcement → [webpush]
  wecom     policy: announcement → [wecom]
  sms       the second stage of an urgent announcement → [wecom] → [sms after 1 min]: the
            escalation scan picks the N unread notifications and texts them
  all three policy: [webpush + wecom] → [sms after 1 min], dispatch and escalation together
Baseline: bare RFC 8291 encryption per message (``bench.push.crypto_loop``), the physical
limit of any Web Push sender, measured around each round.

    python -m bench fanout_channels [--smoke] [--db sqlite|postgres|both] [-n 3000] [--rounds 2]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import backends, bench_app, parser, report
from bench.push import BODY, crypto_loop, seed, start_push_service

ROOT = Path(__file__).resolve().parent.parent

PROVIDERS = """
import sys
from tests.notifications.fakechannel import FakeProvider
a, b = FakeProvider(record=False), FakeProvider(record=False)
print(a.url, b.url, flush=True)
sys.stdin.read()
"""


def start_providers() -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PROVIDERS],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        text=True,
    )
    wecom, sms = proc.stdout.readline().split()
    return proc, wecom, sms


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def __call__(self) -> dt.datetime:
        return self.now


def set_policy(urgent: bool, stages: list[dict]) -> None:
    from gridapp.db import utcnow
    from gridapp.notifications.models import NotificationPolicy

    NotificationPolicy.delete().execute()
    NotificationPolicy.create(
        kind="announcement", urgent=urgent, hops=json.dumps(stages), updated_at=utcnow()
    )


def sent_count(channel: str) -> int:
    from gridapp.notifications.models import Delivery

    return Delivery.select().where(Delivery.channel == channel, Delivery.status == "sent").count()


def measure(fn) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def announce_once(boss, community, title: str) -> None:
    from gridapp.notifications.announcements import announce
    from gridapp.scope import scope_for

    announce(boss, scope_for(boss), title, BODY, community_id=community.id)


def run(backend: str, n: int, origin: str, urls: tuple[str, str], rounds: int) -> None:
    from gridapp.notifications import rules
    from gridapp.notifications.channels import channels
    from gridapp.notifications.escalation import escalate_due
    from gridapp.org.models import User
    from tests.notifications.fakechannel import LoopbackChannel

    wecom = LoopbackChannel("wecom", urls[0])
    sms = LoopbackChannel("sms", urls[1])
    clock = Clock()
    with bench_app(
        backend,
        PUSH_ALLOW_LOCAL_HTTP=True,
        NOTIFY_CLOCK=clock,
        NOTIFY_EXTRA_CHANNELS={"wecom": wecom, "sms": sms},
    ):
        boss, community, pubs = seed(n, origin)
        for (uid,) in User.select(User.id).where(User.role == "grid_worker").tuples():
            wecom.addresses[uid] = f"wx{uid}"
            sms.addresses[uid] = f"+86138{uid:08d}"
        payload = rules.build_payload(
            {"id": 1, "type": "announcement", "title": "停水通知", "body": BODY, "link": "",
             "urgent": False}
        )  # fmt: skip
        auth = os.urandom(16)
        k = max(20, min(n, 2000))
        cpu: dict[str, list[float]] = {"webpush": [], "wecom": [], "sms": [], "all": []}
        wall: dict[str, list[float]] = {key: [] for key in cpu}
        crypto = []

        def one(key: str, fn, channel_counts: dict[str, int]) -> None:
            before = {ch: sent_count(ch) for ch in channel_counts}
            w, c = measure(fn)
            for ch, expected in channel_counts.items():
                got = sent_count(ch) - before[ch]
                assert got == expected, (key, ch, got, expected)
            total = sum(channel_counts.values())
            cpu[key].append(c / total)
            wall[key].append(w / total)

        for r in range(rounds):
            before = crypto_loop(k, pubs, auth, payload) / k
            set_policy(False, [{"channels": ["webpush"], "wait": 0}])
            one("webpush", lambda r=r: announce_once(boss, community, f"推送 {r}"), {"webpush": n})
            set_policy(True, [{"channels": ["wecom"], "wait": 0}, {"channels": ["sms"], "wait": 1}])
            one("wecom", lambda r=r: announce_once(boss, community, f"企业微信 {r}"), {"wecom": n})
            clock.now += dt.timedelta(minutes=1)
            one("sms", lambda: escalate_due(clock.now, limit=n + 1), {"sms": n})
            set_policy(
                True,
                [{"channels": ["webpush", "wecom"], "wait": 0}, {"channels": ["sms"], "wait": 1}],
            )

            def all_three(r: int = r) -> None:
                announce_once(boss, community, f"全部 {r}")
                clock.now += dt.timedelta(minutes=1)
                escalate_due(clock.now, limit=n + 1)

            one("all", all_three, {"webpush": n, "wecom": n, "sms": n})
            after = crypto_loop(k, pubs, auth, payload) / k
            crypto.append((before + after) / 2)
        channels()["webpush"].close()
        wecom.close()
        sms.close()

    med = statistics.median
    c = med(crypto)

    def ratio(key: str) -> float:
        return med(o / b for o, b in zip(cpu[key], crypto, strict=True))

    report(
        [
            (
                "Web Push (inbox + deliveries + crypto + HTTP)",
                med(cpu["webpush"]),
                c,
                ratio("webpush"),
            ),
            ("企业微信 loopback (inbox + deliveries + HTTP)", med(cpu["wecom"]), c, ratio("wecom")),
            ("SMS loopback (escalation scan + HTTP)", med(cpu["sms"]), c, ratio("sms")),
            ("all three, per message", med(cpu["all"]), c, ratio("all")),
        ],
        f"announcement to {n} workers through each channel ({backend}); CPU per message, median "
        f"of {rounds} round(s); baseline: bare RFC 8291 crypto per message measured around each "
        "round; ratio: median of the rounds' ratios (lower is better)",
    )
    print("  messages per second per core (CPU of the delivering process), wall in brackets:")
    print(f"    {'Web Push crypto alone':<24} {1 / c:>9,.0f}/s   1.00x")
    for key, label in (("webpush", "Web Push"), ("wecom", "企业微信"), ("sms", "SMS"),
                       ("all", "all three")):  # fmt: skip
        rate = 1 / med(cpu[key])
        print(
            f"    {label:<24} {rate:>9,.0f}/s   {rate * c:.2f}x of the crypto rate "
            f"({1 / med(wall[key]):,.0f}/s wall)"
        )


def main(argv: list[str]) -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=None, help="workers (default 3000; smoke 30)")
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 2; smoke 1)")
    args = p.parse_args(argv)
    n = args.n or (30 if args.smoke else 3000)
    push_proc, origin = start_push_service()
    prov_proc, wecom_url, sms_url = start_providers()
    try:
        for backend in backends(args.db):
            run(backend, n, origin, (wecom_url, sms_url), args.rounds or (1 if args.smoke else 2))
    finally:
        for proc in (push_proc, prov_proc):
            proc.stdin.close()
            proc.wait(timeout=10)
            proc.stdout.close()
    return 0
