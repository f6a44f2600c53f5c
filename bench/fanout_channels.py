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
                                    [--fakes real|loopback]

``--fakes real`` (the default): the real ``wecom`` and ``sms`` channels (official API through
requests; Tencent Cloud SDK) against the branches' fake WeCom API and fake Tencent SMS API;
``loopback``: the small loopback providers of tests/notifications/fakechannel.py registered
through ``NOTIFY_EXTRA_CHANNELS`` (what the figures were measured with before those channels
were merged).
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


def real_config(wecom_config: dict, sms_endpoint: str) -> dict:
    """The real channels' settings, pointed at the fakes (as bench/wecom.py and bench/sms.py)."""
    from bench.sms import TEMPLATE_ID
    from tests.notifications.fake_sms import FakeSms

    f = FakeSms.__init__.__defaults__  # the fake's credentials: (secret_id, secret_key, app_id…)
    return {
        **wecom_config,
        "SMS_PROVIDER": "tencent", "SMS_SECRET_ID": f[0], "SMS_SECRET_KEY": f[1],
        "SMS_APP_ID": f[2], "SMS_SIGN_NAME": "网格通", "SMS_ENDPOINT": sms_endpoint,
        "SMS_PROTOCOL": "http", "SMS_TEMPLATES": {"notify.generic": TEMPLATE_ID},
        "SMS_LINK_BASE": "https://g.example.cn", "SMS_USER_DAILY_CAP": 1000,
        "SMS_PHONE_DAILY_CAP": 1000, "SMS_DAILY_CAP": 10_000_000,
    }  # fmt: skip


def bind_real() -> None:
    """Every worker bound to the fake WeCom member of its username and given a number."""
    from peewee import chunked

    from gridapp.db import db, utcnow
    from gridapp.notifications.wecom.binding import corp_id
    from gridapp.notifications.wecom.models import WecomBinding
    from gridapp.org.models import User

    corp, now = corp_id(), utcnow()
    users = list(User.select(User.id, User.username).where(User.role == "grid_worker").tuples())
    with db.atomic():
        for chunk in chunked(users, 300):
            WecomBinding.insert_many(
                [{"user": u, "corp_id": corp, "userid": name, "bound_at": now} for u, name in chunk]
            ).execute()
        for u, _name in users:
            User.update(phone=f"139{u:08d}").where(User.id == u).execute()


def run(backend: str, n: int, origin: str, fakes: dict, rounds: int) -> None:
    from gridapp.notifications import rules
    from gridapp.notifications.channels import channels
    from gridapp.notifications.escalation import escalate_due
    from gridapp.org.models import User
    from tests.notifications.fakechannel import LoopbackChannel

    clock = Clock()
    loop: list[LoopbackChannel] = []
    if fakes["kind"] == "loopback":
        loop = [LoopbackChannel("wecom", fakes["wecom"]), LoopbackChannel("sms", fakes["sms"])]
        extra = {"NOTIFY_EXTRA_CHANNELS": {ch.name: ch for ch in loop}}
    else:
        extra = real_config(fakes["wecom"], fakes["sms"])
    with bench_app(backend, PUSH_ALLOW_LOCAL_HTTP=True, NOTIFY_CLOCK=clock, **extra):
        boss, community, pubs = seed(n, origin)
        if loop:
            for (uid,) in User.select(User.id).where(User.role == "grid_worker").tuples():
                loop[0].addresses[uid] = f"wx{uid}"
                loop[1].addresses[uid] = f"+86138{uid:08d}"
        else:
            bind_real()
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
        for ch in loop:
            ch.close()

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
            ("企业微信 (inbox + deliveries + HTTP)", med(cpu["wecom"]), c, ratio("wecom")),
            ("SMS (escalation scan + HTTP)", med(cpu["sms"]), c, ratio("sms")),
            ("all three, per message", med(cpu["all"]), c, ratio("all")),
        ],
        f"announcement to {n} workers through each channel ({backend}, {fakes['kind']} fakes); "
        "CPU per message, median "
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
    p.add_argument("--fakes", choices=["real", "loopback"], default="real")
    args = p.parse_args(argv)
    n = args.n or (30 if args.smoke else 3000)
    push_proc, origin = start_push_service()
    procs = [push_proc]
    try:
        if args.fakes == "loopback":
            prov_proc, wecom_url, sms_url = start_providers()
            procs.append(prov_proc)
            fakes = {"kind": "loopback", "wecom": wecom_url, "sms": sms_url}
        else:
            from bench import sms as sms_bench
            from bench import wecom as wecom_bench

            wecom_proc, wecom_config = wecom_bench.start_fake(n)
            procs.append(wecom_proc)
            sms_proc, sms_endpoint = sms_bench.start_fake()
            procs.append(sms_proc)
            fakes = {"kind": "real", "wecom": wecom_config, "sms": sms_endpoint}
        for backend in backends(args.db):
            run(backend, n, origin, fakes, args.rounds or (1 if args.smoke else 2))
    finally:
        for proc in procs:
            proc.stdin.close()
            proc.wait(timeout=10)
            proc.stdout.close()
    return 0
