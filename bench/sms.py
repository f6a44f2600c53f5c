"""SMS fan-out: N deliveries on the ``sms`` channel to a fake Tencent SMS API on 127.0.0.1.

Measures wall time and CPU (this process) of the whole path per message (delivery claim, the channel's
phone look-up, caps reserved and ``sms_message`` rows written, the SDK's request and TC3
signature, the HTTPS-less POSTs and their answers, outcome recording, cost counters), against two
baselines measured in the same run: the bare signed request (TC3 signature computed by hand and
one keep-alive ``requests`` POST of the same JSON: what any sender must do per message) and the
Web Push crypto-alone loop of ``bench/push.py`` (the issue's yardstick). The fake runs in another
process, so its CPU is not counted. The deliveries carry the same announcement, so the channel
sends them as SendSms calls of up to 200 numbers (``sms/batch.py``); the bare baseline is one
number per request, what a sender without batches must do per message.

    python -m bench sms [--smoke] [--db sqlite|postgres|both] [-n 1000] [--rounds 3]
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

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_ID = "2000001"
SERVER = f"""
import sys
from tests.notifications.fake_sms import FakeSms
s = FakeSms()
s.approve("{TEMPLATE_ID}", "您有一条新通知：{{1}}。请查看：{{2}}")
print(s.server.server_port, flush=True)
sys.stdin.read()
"""


def start_fake() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True,
    )  # fmt: skip
    return proc, f"127.0.0.1:{proc.stdout.readline().strip()}"


def seed(n: int) -> list[int]:
    """``n`` grid workers with mobile numbers, quiet hours off."""
    from peewee import chunked

    from gridapp.db import db
    from gridapp.notifications.models import QuietHours
    from gridapp.org.models import User

    with db.atomic():
        for chunk in chunked(range(n), 500):
            User.insert_many([
                {"username": f"w{i}", "password_hash": "-", "display_name": f"w{i}",
                 "role": "grid_worker", "phone": f"139{i:08d}"}
                for i in chunk
            ]).execute()  # fmt: skip
        ids = [u.id for u in User.select(User.id).where(User.role == "grid_worker")]
        for chunk in chunked(ids, 500):
            QuietHours.insert_many([{"user": u, "enabled": False} for u in chunk]).execute()
    return ids


def deliveries(user_ids: list[int], r: int) -> list[int]:
    from peewee import chunked

    from gridapp.db import db, utcnow
    from gridapp.notifications.models import Delivery, Notification

    now = utcnow()
    with db.atomic():
        for chunk in chunked(user_ids, 500):
            Notification.insert_many([
                {"recipient": u, "type": "announcement", "title": f"停水通知{r}", "body": "",
                 "link": "/app#/inbox", "urgent": False, "created_at": now}
                for u in chunk
            ]).execute()  # fmt: skip
        nids = [n.id for n in Notification.select(Notification.id).where(
            Notification.title == f"停水通知{r}")]  # fmt: skip
        for chunk in chunked(nids, 500):
            Delivery.insert_many([
                {"notification": i, "channel": "sms", "dedupe_key": f"{i}:sms:0",
                 "status": "queued", "next_attempt_at": now, "created_at": now,
                 "updated_at": now}
                for i in chunk
            ]).execute()  # fmt: skip
    return [d.id for d in Delivery.select(Delivery.id).where(Delivery.notification.in_(nids))]


def bare_loop(
    n: int, endpoint: str, secret_id: str, secret_key: str, app_id: str
) -> tuple[float, float]:
    """(wall, CPU) seconds for ``n`` hand-signed SendSms POSTs on one keep-alive session."""
    import requests

    from tests.notifications.fake_sms import tc3_signature

    session = requests.Session()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        body = json.dumps({
            "PhoneNumberSet": [f"+86139{i:08d}"], "SmsSdkAppId": app_id,
            "TemplateId": TEMPLATE_ID, "SignName": "网格通",
            "TemplateParamSet": ["停水通知", "https://g.example.cn/app#/inbox"],
        }).encode()  # fmt: skip
        ts = int(time.time())
        ct = "application/json"
        sig = tc3_signature(secret_key, "POST", endpoint, ct, body, ts)
        date = dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")
        resp = session.post(f"http://{endpoint}/", data=body, headers={
            "Content-Type": ct, "Host": endpoint, "X-TC-Action": "SendSms",
            "X-TC-Version": "2021-01-11", "X-TC-Timestamp": str(ts),
            "Authorization": f"TC3-HMAC-SHA256 Credential={secret_id}/{date}/sms/tc3_request, "
                             f"SignedHeaders=content-type;host, Signature={sig}",
        }, timeout=10)  # fmt: skip
        assert resp.json()["Response"]["SendStatusSet"][0]["Code"] == "Ok"
    spent = time.perf_counter() - t0, time.process_time() - c0
    session.close()
    return spent


def main(argv: list[str]) -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=None, help="messages per round (default 1000)")
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 3)")
    args = p.parse_args(argv)
    n = args.n or (10 if args.smoke else 1000)
    proc, endpoint = start_fake()
    try:
        for backend in backends(args.db):
            run(backend, n, endpoint, args.rounds or (1 if args.smoke else 3))
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
    return 0


def run(backend: str, n: int, endpoint: str, rounds: int) -> None:
    from bench.push import BODY, crypto_loop
    from gridapp.notifications import rules as push_rules
    from gridapp.notifications.delivery import send_deliveries
    from gridapp.notifications.models import Delivery
    from tests.notifications.fake_sms import FakeSms

    f = FakeSms.__init__.__defaults__  # the fake's credentials: (secret_id, secret_key, app_id, …)
    secret_id, secret_key, app_id = f[0], f[1], f[2]
    cfg = {
        "SMS_PROVIDER": "tencent", "SMS_SECRET_ID": secret_id, "SMS_SECRET_KEY": secret_key,
        "SMS_APP_ID": app_id, "SMS_SIGN_NAME": "网格通", "SMS_ENDPOINT": endpoint,
        "SMS_PROTOCOL": "http", "SMS_TEMPLATES": {"notify.generic": TEMPLATE_ID},
        "SMS_LINK_BASE": "https://g.example.cn", "SMS_USER_DAILY_CAP": 1000,
        "SMS_PHONE_DAILY_CAP": 1000, "SMS_DAILY_CAP": 10_000_000,
    }  # fmt: skip
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pubs = [ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint) for _ in range(16)]  # fmt: skip
    payload = push_rules.build_payload({"id": 1, "type": "announcement", "title": "停水通知",
                                        "body": BODY, "link": "", "urgent": False})  # fmt: skip
    auth = os.urandom(16)
    with bench_app(backend, **cfg) as _app:
        users = seed(n)
        ours, bare, crypto, ratios, cpu_ratios, crypto_ratios = [], [], [], [], [], []
        ours_cpu, bare_cpu = [], []
        for r in range(rounds):
            ids = deliveries(users, r)
            w0, c0 = bare_loop(n, endpoint, secret_id, secret_key, app_id)
            k = max(20, min(n, 2000))
            c = crypto_loop(k, pubs, auth, payload) / k
            t0, p0 = time.perf_counter(), time.process_time()
            for start in range(0, len(ids), 200):
                send_deliveries(ids[start : start + 200])
            wall, cpu = (time.perf_counter() - t0) / n, (time.process_time() - p0) / n
            sent = Delivery.select().where(Delivery.id.in_(ids), Delivery.status == "sent").count()
            assert sent == n, (sent, n)
            w1, c1 = bare_loop(n, endpoint, secret_id, secret_key, app_id)
            base, base_cpu = (w0 + w1) / 2 / n, (c0 + c1) / 2 / n
            ours.append(wall)
            ours_cpu.append(cpu)
            bare.append(base)
            bare_cpu.append(base_cpu)
            crypto.append(c)
            ratios.append(wall / base)
            cpu_ratios.append(cpu / base_cpu)
            crypto_ratios.append(cpu / c)
        med = statistics.median
        report(
            [
                ("sms channel, wall per message", med(ours), med(bare), med(ratios)),
                ("sms channel, CPU per message", med(ours_cpu), med(bare_cpu), med(cpu_ratios)),
                (
                    "sms CPU vs Web Push crypto alone",
                    med(ours_cpu),
                    med(crypto),
                    med(crypto_ratios),
                ),
            ],  # fmt: skip
            f"SMS fan-out to {n} workers through the fake Tencent API ({backend}, {rounds} "
            f"rounds): {1 / med(ours):.0f} msg/s wall, {1 / med(ours_cpu):.0f} msg/s per core; "
            f"bare signed POST {1 / med(bare):.0f} msg/s; Web Push crypto alone "
            f"{1 / med(crypto):.0f} msg/s",
        )
