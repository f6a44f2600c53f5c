"""Web Push fan-out: one announcement to N subscriptions at a fake push service on 127.0.0.1.

Measures encrypted messages per second per core of the whole pipeline (inbox rows, deliveries,
aes128gcm, VAPID, pipelined HTTP POSTs, outcome recording; the push service runs in another
process so its CPU is not counted), against the bare crypto loop in the same run: per message,
load the subscriber's P-256 key, generate the ephemeral key pair, ECDH, HKDF, AES-GCM, with
``cryptography`` directly (the physical limit: what any sender must compute). Then the same
fan-out with the VAPID JWT re-signed for every message, to show what the per-origin cache saves.

    python -m bench push [--smoke] [--db sqlite|postgres|both] [-n 10000] [--rounds 3]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import backends, bench_app, parser, report

ROOT = Path(__file__).resolve().parent.parent

SERVER = """
import sys, time
from tests.notifications.fakepush import FakePushService
s = FakePushService(decrypt=False)
print(s.server.server_port, flush=True)
sys.stdin.read()
"""


def start_push_service() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        text=True,
    )
    port = proc.stdout.readline().strip()
    return proc, f"http://127.0.0.1:{port}"


def crypto_loop(n: int, subscriber_pubs: list[bytes], auth: bytes, payload: bytes) -> float:
    """CPU seconds for ``n`` bare RFC 8291 encryptions (what any sender must compute), each to
    a subscriber key loaded from its 65 bytes, cycling through ``subscriber_pubs`` as the
    fan-out cycles through its subscriptions: every message of a fan-out goes to another
    browser, and ECDH with a newly loaded peer key costs more than with one reused object."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    m = len(subscriber_pubs)
    t0 = time.process_time()
    for i in range(n):
        subscriber_pub = subscriber_pubs[i % m]
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), subscriber_pub)
        key = ec.generate_private_key(ec.SECP256R1())
        local = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        shared = key.exchange(ec.ECDH(), peer)
        salt = os.urandom(16)
        ikm = HKDF(hashes.SHA256(), 32, auth, b"WebPush: info\0" + subscriber_pub + local).derive(
            shared
        )
        cek = HKDF(hashes.SHA256(), 16, salt, b"Content-Encoding: aes128gcm\0").derive(ikm)
        nonce = HKDF(hashes.SHA256(), 12, salt, b"Content-Encoding: nonce\0").derive(ikm)
        AESGCM(cek).encrypt(nonce, payload + b"\2", None)
    return time.process_time() - t0


def seed(n: int, origin: str):
    """An organisation with ``n`` grid workers, each with one subscription and quiet hours off
    (so the fan-out is sent now, whatever the hour)."""
    import base64

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from peewee import chunked

    from gridapp.db import db
    from gridapp.notifications.models import PushSubscription, QuietHours
    from gridapp.org.models import Community, Grid, Street, User, UserGrid

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).decode().rstrip("=")

    street = Street.create(name="街道", code="st")
    community = Community.create(street=street, name="社区", code="c1")
    grid = Grid.create(community=community, name="网格", code="g1")
    boss = User.create(
        username="boss", password_hash="-", display_name="boss", role="supervisor",
        community=community,
    )  # fmt: skip
    # Subscribers' keys: a few distinct key pairs reused (key generation is not what we measure).
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(16)]
    pubs = [
        k.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint) for k in keys
    ]
    with db.atomic():
        for chunk in chunked(range(n), 500):
            User.insert_many(
                [
                    {
                        "username": f"w{i}",
                        "password_hash": "-",
                        "display_name": f"w{i}",
                        "role": "grid_worker",
                    }
                    for i in chunk
                ]  # fmt: skip
            ).execute()
        ids = [u.id for u in User.select(User.id).where(User.role == "grid_worker")]
        for chunk in chunked(ids, 300):
            UserGrid.insert_many([{"user": u, "grid": grid.id} for u in chunk]).execute()
            QuietHours.insert_many([{"user": u, "enabled": False} for u in chunk]).execute()
            PushSubscription.insert_many(
                [
                    {
                        "user": u,
                        "endpoint": f"{origin}/push/{u}",
                        "p256dh": b64(pubs[u % 16]),
                        "auth": b64(os.urandom(16)),
                        "created_at": db_now(),
                    }
                    for u in chunk
                ]  # fmt: skip
            ).execute()
    return boss, community, pubs


def db_now():
    from gridapp.db import utcnow

    return utcnow()


def fan_out(boss, community, title: str) -> tuple[float, float, int]:
    """(wall s, CPU s, messages accepted) for one announcement, end to end."""
    from gridapp.notifications.announcements import announce
    from gridapp.notifications.models import Delivery
    from gridapp.scope import scope_for

    before = Delivery.select().where(Delivery.status == "sent").count()
    w0, c0 = time.perf_counter(), time.process_time()
    announce(
        boss,
        scope_for(boss),
        title,
        "明天上午 8:00–12:00 停水，请提前储水。",
        community_id=community.id,
    )
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    sent = Delivery.select().where(Delivery.status == "sent").count() - before
    return wall, cpu, sent


def main(argv: list[str]) -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=None, help="subscriptions (default 10000; smoke 50)")
    p.add_argument("--rounds", type=int, default=None, help="fan-outs measured (default 3)")
    args = p.parse_args(argv)
    n = args.n or (50 if args.smoke else 10_000)
    proc, origin = start_push_service()
    try:
        for backend in backends(args.db):
            run(backend, n, origin, args.rounds or (1 if args.smoke else 3))
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
    return 0


def prepare_loop(n: int, pubs: list[bytes], jwt_cache: bool) -> float:
    """CPU seconds for ``n`` messages made ready to POST by our channel (payload, aes128gcm
    through webpush, VAPID header from the cache or signed anew, request header lines),
    without I/O."""
    import base64

    from gridapp.notifications.channels import Message, channels
    from gridapp.notifications.vapid import tokens

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    ch = channels()["webpush"]
    keys = ch.keys()
    messages = [
        Message(
            i,
            i,
            i,
            "announcement",
            "停水通知",
            BODY,
            "",
            False,
            f"https://push.example:8443/p/{i}",
            b64(pubs[i % len(pubs)]),
            b64(os.urandom(16)),
        )  # fmt: skip
        for i in range(n)
    ]
    tokens.clear()
    tokens.enabled = jwt_cache
    try:
        t0 = time.process_time()
        requests, _index, errors = ch.prepare(messages, keys)
        spent = time.process_time() - t0
        assert len(requests) == n and not errors, errors
        return spent
    finally:
        tokens.enabled = True


BODY = "明天上午 8:00–12:00 停水，请提前储水。"


def run(backend: str, n: int, origin: str, rounds: int) -> None:
    """Rounds of: crypto loop, one whole fan-out, crypto loop, preparation loops. Each round's
    fan-out is compared with the crypto measured just before and after it (the machine is
    shared and its speed drifts); the figures are medians over rounds. CPU is this process's
    ``time.process_time()`` (user + system, all threads); the push service's CPU is not in it."""
    from gridapp.notifications import rules
    from gridapp.notifications.channels import channels
    from gridapp.notifications.vapid import tokens

    with bench_app(backend, PUSH_ALLOW_LOCAL_HTTP=True) as _app:
        boss, community, pubs = seed(n, origin)
        payload = rules.build_payload(
            {"id": 1, "type": "announcement", "title": "停水通知", "body": BODY, "link": "",
             "urgent": False}
        )  # fmt: skip
        auth = os.urandom(16)
        k = max(20, min(n, 2000))
        crypto, prep, prep_nc, whole, walls, signed = [], [], [], [], [], 0
        for r in range(rounds):
            before = crypto_loop(k, pubs, auth, payload) / k
            tokens.clear()
            wall, cpu, sent = fan_out(boss, community, f"停水通知 {r + 1}")
            signed = tokens.signatures
            assert sent == n, (sent, n)
            after = crypto_loop(k, pubs, auth, payload) / k
            crypto.append((before + after) / 2)
            whole.append(cpu / n)
            walls.append(wall / n)
            prep.append(prepare_loop(k, pubs, jwt_cache=True) / k)
            prep_nc.append(prepare_loop(k, pubs, jwt_cache=False) / k)
        # The same fan-out signing a JWT for every message, once, between crypto loops.
        before = crypto_loop(k, pubs, auth, payload) / k
        tokens.clear()
        tokens.enabled = False
        try:
            wall_nc, cpu_nc, sent_nc = fan_out(boss, community, "停水通知（无缓存）")
        finally:
            tokens.enabled = True
        assert sent_nc == n, (sent_nc, n)
        crypto_nc = (before + crypto_loop(k, pubs, auth, payload) / k) / 2
        opened = channels()["webpush"].http.connections_opened
        channels()["webpush"].close()

    med = statistics.median

    def per_round(ours: list[float]) -> float:
        return med(o / b for o, b in zip(ours, crypto, strict=True))

    c, p, pnc, w = med(crypto), med(prep), med(prep_nc), med(whole)
    r_prep, r_prep_nc, r_whole = per_round(prep), per_round(prep_nc), per_round(whole)
    r_whole_nc = cpu_nc / n / crypto_nc
    report(
        [
            ("prepare (payload + aes128gcm + VAPID cached)", p, c, r_prep),
            ("prepare, JWT signed per message", pnc, c, r_prep_nc),
            ("whole fan-out (inbox + deliveries + HTTP)", w, c, r_whole),
            ("whole fan-out, JWT signed per message (1 run)", cpu_nc / n, crypto_nc, r_whole_nc),
        ],
        f"push fan-out to {n} subscriptions ({backend}); CPU per message, median of {rounds} "
        "round(s); baseline: bare RFC 8291 crypto (subscriber key + keygen + ECDH + HKDF + "
        "AES-GCM) measured around each round; ratio: median of the rounds' ratios",
    )

    def rate(sec: float) -> str:
        return f"{1 / sec:,.0f}/s"

    print("  messages per second per core (CPU of the delivering process):")
    print(f"    crypto alone (the limit)   {rate(c):>9}   1.00x")
    print(f"    preparation only           {rate(p):>9}   {1 / r_prep:.2f}x of the limit")
    print(f"    whole pipeline             {rate(w):>9}   {1 / r_whole:.2f}x of the limit")
    print(f"  wall clock, whole pipeline: {1 / med(walls):,.0f} messages/s "
          f"({n * rounds + n} messages over {opened} connection(s))")  # fmt: skip
    print(f"  JWT reuse: {signed} signature(s) for {n} messages; signing every message costs "
          f"{r_prep_nc / r_prep:.2f}x the CPU in preparation and {r_whole_nc / r_whole:.2f}x "
          "in the whole fan-out")  # fmt: skip
