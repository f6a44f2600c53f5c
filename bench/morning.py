"""A city's grid workers start their day, against the README's production recipe.

    python -m bench morning [--workers 3000] [--households 300] [--concurrency 64]
                            [--web-workers 2] [--db postgres|sqlite] [--profile DIR] [--smoke]

Seeds a city with bulk inserts (``gridapp.db.insert_rows``): one grid per worker, about
``--households`` households and 1.1 residents per household in each (3,000 grids → about a million
residents), a change-log row for each record. Starts ``gridapp db upgrade`` and gunicorn from
``gunicorn.conf.py`` exactly as README "Running at scale" says (bench/_recipe.py), on PostgreSQL +
Redis by default. Before the morning, 85 % of the workers log in ("a saved device session", with
yesterday's cursor); then every worker, 64 at a time (threads in this process, keep-alive HTTP on
loopback), starts the day as the app does, the new phones spread through the morning at random
(a fixed seed; ``--new-first`` sends them all first instead, a burst of 64 logins at once):

- a new phone (15 %): ``GET /auth/csrf``, ``POST /auth/login``, ``GET /me``, a cold pull (all pages);
- a saved session: ``GET /me``, a warm pull from yesterday's cursor;
- then each pushes 5 visits (one ``POST /sync``) and pulls warm again.

Prints requests/s over the morning, p50/p95/p99 and the mean (and max) number of SQL statements
per request kind (the servers run with ``GRIDAPP_QUERY_COUNT=1``: ``X-Query-Count``; a robust
figure on a noisy machine), errors, bytes per cold pull (raw JSON and gzip as sent), and the
throughput of ``/api/v1/me`` and of a warm pull with nothing
new (each request from the next saved phone, through all of them), each as a share of a bare
Flask endpoint on the same gunicorn settings measured in the same run (the ceiling,
bench/_bare.py), with the Redis ``MGET``s per request (the rest answered from the web process's
own copy, gridapp/nearcache.py) and the CPU each process spent per request meanwhile (the web
workers, Redis, PostgreSQL and this load generator, from /proc: the share is the CPU share, the
two cores being busy throughout). ``--profile DIR`` records each web worker with py-spy during the
morning (raw collapsed stacks; the top frames are printed).
"""

from __future__ import annotations

import gzip
import http.client
import itertools
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench._recipe import Recipe, drop_pg_database, free_port, fresh_pg_database, reachable
from bench.common import parser

PASSWORD = "bench-pass-1"
REDIS_URL = os.environ.get("GRIDAPP_TEST_REDIS", "redis://127.0.0.1:6379/15")
HOUSEHOLDS_PER_BUILDING = 25
GRIDS_PER_COMMUNITY = 10
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


# ---- the city -------------------------------------------------------------------------------


def _bulk(model, dicts: list[dict[str, Any]]) -> None:
    """``insert_rows`` with the model's defaults filled in (ids given by the caller)."""
    from gridapp.db import insert_rows

    fields = list(model._meta.sorted_fields)
    defaults = {}
    for f in fields:
        if f.default is not None:
            defaults[f.name] = f.default
    rows = []
    for d in dicts:
        row = []
        for f in fields:
            if f.name in d:
                v = d[f.name]
            elif f.name in defaults:
                v = defaults[f.name]() if callable(defaults[f.name]) else defaults[f.name]
            else:
                v = None
            row.append(f.db_value(v))
        rows.append(tuple(row))
    for i in range(0, len(rows), 20000):
        insert_rows(model, [f.column_name for f in fields], rows[i : i + 20000])


def seed_city(n_workers: int, households: int) -> dict[str, Any]:
    """Bulk-insert the city; returns each worker's username and household ids."""
    from gridapp.accounts.service import hash_password
    from gridapp.changes import Change, ChangeCounter
    from gridapp.db import db, is_postgres, reserve_ids, utcnow
    from gridapp.org.models import Community, Grid, Street, User, UserGrid
    from gridapp.registry.models import Building, Household, Resident
    from gridapp.registry.names import name_keys

    now = utcnow()
    pw_hash = hash_password(PASSWORD)  # one hash for all: the morning, not the seeding, is timed
    n_buildings = -(-households // HOUSEHOLDS_PER_BUILDING)
    with db.atomic():
        street = Street.create(name="基准街道", code="bench")
        n_comm = -(-n_workers // GRIDS_PER_COMMUNITY)
        comm_ids = reserve_ids(Community, n_comm)
        _bulk(
            Community,
            [{"id": c, "street": street.id, "name": f"社区{c}", "code": f"c{c}"} for c in comm_ids],
        )
        grid_ids = reserve_ids(Grid, n_workers)
        _bulk(
            Grid,
            [
                {"id": g, "community": comm_ids[i // GRIDS_PER_COMMUNITY], "name": f"第{i}网格"}
                | {"code": f"g{i}", "sort": i}
                for i, g in enumerate(grid_ids)
            ],
        )
        user_ids = reserve_ids(User, n_workers)
        _bulk(
            User,
            [
                {"id": u, "username": f"w{i:05d}", "password_hash": pw_hash, "role": "grid_worker"}
                | {"display_name": f"网格员{i}"}
                for i, u in enumerate(user_ids)
            ],
        )
        _bulk(UserGrid, [{"user": u, "grid": g} for u, g in zip(user_ids, grid_ids, strict=True)])
    seq = 0
    workers = []
    for i, gid in enumerate(grid_ids):
        with db.atomic():
            bids = reserve_ids(Building, n_buildings)
            hids = reserve_ids(Household, households)
            extra = [h for h in hids if h % 9 == 0]
            rids = reserve_ids(Resident, households + len(extra))
            buildings = [{"id": b, "grid": gid, "name": f"{k + 1}号楼"} for k, b in enumerate(bids)]
            homes, people, changes = [], [], []
            for k, h in enumerate(hids):
                homes.append(
                    {
                        "id": h,
                        "grid": gid,
                        "building": bids[k // HOUSEHOLDS_PER_BUILDING],
                        "unit": str(k % 4 + 1),
                        "room": f"{k // 4 + 1}0{k % 4 + 1}",
                        "address": f"幸福路{gid}号",
                        "phone": f"138{h:08d}"[:11],
                    }
                )
            r_iter = iter(rids)
            for h in hids + extra:
                r = next(r_iter)
                name = SURNAMES[r % 20] + GIVEN[r % 24] + GIVEN[(r // 7) % 24]
                pinyin, initials = name_keys(name)
                phone = f"139{r:08d}"[:11]
                people.append(
                    {
                        "id": r,
                        "grid": gid,
                        "household": h,
                        "name": name,
                        "name_pinyin": pinyin,
                        "name_initials": initials,
                        "gender": "MF"[r % 2],
                        "birth_year": 1930 + r % 90,
                        "phone": phone,
                        "phone_tail": phone[-4:],
                        "relation": "户主",
                    }
                )
            for entity, ids in (("building", bids), ("household", hids), ("resident", rids)):
                for eid in ids:
                    seq += 1
                    changes.append(
                        {"seq": seq, "entity": entity, "entity_id": str(eid), "grid_id": gid}
                        | {"at": now}
                    )
            _bulk(Building, buildings)
            _bulk(Household, homes)
            _bulk(Resident, people)
            cids = reserve_ids(Change, len(changes))
            for c, row in zip(cids, changes, strict=True):
                row["id"] = c
            _bulk(Change, changes)
        workers.append({"username": f"w{i:05d}", "households": hids})
    with db.atomic():
        ChangeCounter.delete().execute()
        ChangeCounter.insert(id=1, value=seq).execute()
    if is_postgres():
        db.execute_sql("ANALYZE")
    return {"workers": workers, "seq": seq}


# ---- the load generator ---------------------------------------------------------------------


class Phone:
    """One grid worker's phone: its cookies, CSRF token and sync cursor."""

    def __init__(self, username: str, households: list[int]) -> None:
        self.username = username
        self.households = households
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.cursor: str | None = None


class Client:
    """Keep-alive HTTP/1.1 on loopback, one connection per thread; records every request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        # Statements each answer's request sent (``X-Query-Count``, GRIDAPP_QUERY_COUNT=1).
        self.queries: dict[str, list[int]] = defaultdict(list)
        self.errors: list[str] = []
        self.cold_bytes: list[tuple[int, int]] = []
        self.conns: list[http.client.HTTPConnection] = []

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            with self.lock:
                self.conns.append(conn)
        return conn

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.conns.clear()

    def request(
        self, kind: str, phone: Phone | None, method: str, path: str, body: Any = None
    ) -> tuple[int, Any, int, int]:
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip"}
        if phone is not None:
            if phone.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in phone.cookies.items())
            if phone.csrf:
                headers["X-CSRFToken"] = phone.csrf
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        try:
            conn = self._conn()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()  # a keep-alive connection the server closed: once more, fresh
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
            raw = resp.read()
        except Exception as exc:
            conn.close()
            self.local.conn = None
            with self.lock:
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            return 0, None, 0, 0
        elapsed = time.perf_counter() - t0
        sent = len(raw)
        if resp.getheader("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        if phone is not None:
            for header in resp.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                value = rest.split(";", 1)[0]
                if value:
                    phone.cookies[name.strip()] = value
                else:
                    phone.cookies.pop(name.strip(), None)
        count = resp.getheader("X-Query-Count")
        with self.lock:
            self.latency[kind].append(elapsed)
            if count is not None:
                self.queries[kind].append(int(count))
            if resp.status >= 400:
                self.errors.append(f"{kind}: HTTP {resp.status} {raw[:200]!r}")
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        return resp.status, payload, len(raw), sent


def login(client: Client, phone: Phone) -> None:
    _, body, *_ = client.request("csrf", phone, "GET", "/api/v1/auth/csrf")
    phone.csrf = (body or {}).get("csrf_token", "")
    status, body, *_ = client.request(
        "login",
        phone,
        "POST",
        "/api/v1/auth/login",
        {"username": phone.username, "password": PASSWORD},
    )
    if status == 200:
        phone.csrf = body["csrf_token"]


def pull(client: Client, phone: Phone, kind: str) -> None:
    raw_total = sent_total = 0
    while True:
        q = {"limit": 500, **({"cursor": phone.cursor} if phone.cursor else {})}
        status, body, raw, sent = client.request(kind, phone, "GET", "/api/v1/sync?" + urlencode(q))
        if status != 200:
            return
        raw_total, sent_total = raw_total + raw, sent_total + sent
        phone.cursor = body["cursor"]
        if not body["more"]:
            break
    if kind == "pull_cold":
        with client.lock:
            client.cold_bytes.append((raw_total, sent_total))


def morning(client: Client, phone: Phone, new_phone: bool) -> None:
    if new_phone:
        phone.cookies, phone.cursor = {}, None
        login(client, phone)
    status, body, *_ = client.request("me", phone, "GET", "/api/v1/me")
    if status == 200:
        phone.csrf = body["csrf_token"]
    pull(client, phone, "pull_cold" if phone.cursor is None else "pull_warm")
    ops = [
        {
            "op_id": str(uuid.uuid4()),
            "type": "visit.create",
            "payload": {
                "id": str(uuid.uuid4()),
                "household_id": phone.households[(k * 37) % len(phone.households)],
                "mode": "home",
                "notes": "上门走访，量了血压",
                "visited_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        }
        for k in range(5)
    ]
    status, body, *_ = client.request("push", phone, "POST", "/api/v1/sync", {"ops": ops})
    if status == 200:
        bad = [r for r in body["results"] if r["status"] != "applied"]
        if bad:
            with client.lock:
                client.errors.append(f"push: {bad[0]}")
    pull(client, phone, "pull_warm")


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 when it is gone or there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def named_pids(name: str) -> list[int]:
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _mget_calls() -> int:
    """Redis's count of ``MGET``s so far: the session lookups that went to Redis (the rest were
    answered from the web process's own copy, gridapp/nearcache.py)."""
    import redis

    try:
        stats = redis.Redis.from_url(REDIS_URL).info("commandstats")
    except redis.RedisError:
        return 0
    return int(stats.get("cmdstat_mget", {}).get("calls", 0))


def hammer(
    port: int,
    path: str,
    seconds: float,
    threads: int,
    phones: list[Phone],
    cpu_of: dict[str, list[int]] | None = None,
    rotate: bool = True,
) -> tuple[float, float | None, dict[str, float]]:
    """Requests/s of ``GET path`` with ``threads`` in flight for ``seconds``, the mean
    number of statements per request (None for an app that does not count them), and the CPU
    each group of processes in ``cpu_of`` spent per request, in µs (with "generator": this
    process, the load itself). A pull's answer moves its phone's cursor, as on a phone
    (nothing new: the same cursor back). ``rotate``: each request from the next phone, through
    all of them (their entries expire, their touches come due, as on a morning); otherwise each
    thread sends all its requests from one phone (the steady cost of a read, nothing cold)."""
    client = Client(port)
    stop = time.monotonic() + seconds
    counts = [0] * threads
    turn = itertools.count()  # each request from the next phone, as many phones do on a morning

    def run(i: int) -> None:
        while time.monotonic() < stop:
            n = next(turn) if rotate else i
            phone = phones[n % len(phones)] if phones else None
            _, body, *_ = client.request("x", phone, "GET", path(phone) if callable(path) else path)
            if phone is not None and isinstance(body, dict) and "cursor" in body:
                phone.cursor = body["cursor"]
            counts[i] += 1

    groups = cpu_of or {}
    mgets = _mget_calls()
    before = {k: sum(_cpu_seconds(p) for p in pids) for k, pids in groups.items()}
    own = time.process_time()
    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))
    done = sum(counts)
    rate = done / (time.monotonic() - t0)
    cpu = {
        k: (sum(_cpu_seconds(p) for p in pids) - before[k]) / max(done, 1) * 1e6
        for k, pids in groups.items()
    }
    cpu["generator"] = (time.process_time() - own) / max(done, 1) * 1e6
    cpu["mget"] = (_mget_calls() - mgets) / max(done, 1)
    client.close()
    if client.errors:
        print(f"  ! {len(client.errors)} errors hammering {path}: {client.errors[0]}")
    counted = client.queries.get("x")
    return rate, (statistics.mean(counted) if counted else None), cpu


# ---- the run --------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def web_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def py_spy() -> Path:
    spy = Path(sys.executable).parent / "py-spy"
    if spy.exists():
        return spy
    found = shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install -e '.[bench]'")
    return Path(found)


def start_profilers(pids: list[int], outdir: Path) -> list[subprocess.Popen]:
    spy = py_spy()
    outdir.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [str(spy), "record", "--pid", str(pid), "--format", "raw", "--rate", "50"]
            + ["--output", str(outdir / f"web-{pid}.txt"), "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]


class Profiled:
    """py-spy on every web worker while the block runs (nothing when ``outdir`` is None)."""

    def __init__(self, outdir: Path | None, master: int, title: str) -> None:
        self.outdir, self.master, self.title = outdir, master, title
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Profiled:
        if self.outdir is not None:
            self.procs = start_profilers(web_pids(self.master), self.outdir)
        return self

    def __exit__(self, *exc: object) -> None:
        for prof in self.procs:
            prof.send_signal(signal.SIGINT)
        for prof in self.procs:
            try:
                prof.wait(timeout=60)
            except subprocess.TimeoutExpired:
                prof.kill()
        if self.outdir is not None:
            summarise_profiles(self.outdir, self.title)


def summarise_profiles(outdir: Path, title: str, top: int = 25) -> None:
    """Inclusive share of samples per gridapp/flask/werkzeug/peewee/psycopg frame."""
    inclusive: dict[str, int] = defaultdict(int)
    leaf: dict[str, int] = defaultdict(int)
    total = 0
    for path in outdir.glob("web-*.txt"):
        for line in path.read_text(errors="replace").splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            count = int(n)
            frames = stack.split(";")
            if any("wait" in f and ("select" in f or "poll" in f) for f in frames[-2:]):
                continue  # idle threads waiting for a request
            total += count
            leaf[frames[-1]] += count
            for frame in dict.fromkeys(frames):
                inclusive[frame] += count
    if not total:
        print("  (no profile samples: py-spy may need ptrace permission)")
        return
    print(f"\npy-spy, web workers during {title} ({total} busy samples), inclusive share:")
    interesting = sorted(
        ((n, f) for f, n in inclusive.items() if "site-packages" in f or "gridapp" in f),
        reverse=True,
    )
    for n, frame in interesting[:top]:
        print(f"  {n / total:6.1%}  {frame[:110]}")
    print("  self (leaf frames):")
    for n, frame in sorted(((n, f) for f, n in leaf.items()), reverse=True)[:12]:
        print(f"  {n / total:6.1%}  {frame[:110]}")


def main(argv: list[str]) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=3000)
    p.add_argument("--households", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn processes")
    p.add_argument("--new-phones", type=float, default=0.15)
    p.add_argument(
        "--new-first",
        action="store_true",
        help="the new phones start the morning together (a burst of logins), not spread",
    )
    p.add_argument("--ceiling-seconds", type=float, default=10.0)
    p.add_argument("--profile", type=Path, default=None, help="py-spy the web workers into DIR")
    p.set_defaults(db="postgres")
    args = p.parse_args(argv)
    if args.smoke:
        args.workers, args.households, args.concurrency, args.ceiling_seconds = 6, 12, 4, 0.5
    if args.profile:
        py_spy()  # before anything starts: say now if it is missing
    backend = "postgres" if args.db in ("postgres", "both") else "sqlite"
    why = reachable(
        pg=backend == "postgres", redis_url=REDIS_URL if backend == "postgres" else None
    )
    if why:
        print(f"morning: cannot run ({why})", file=sys.stderr)
        return 1
    import logging

    from gridapp import create_app
    from gridapp.db import close_pools, db

    # Stopped with SIGTERM: still stop the servers and drop the database (the finally below).
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="gridapp-morning-"))
    pg_name = None
    if backend == "postgres":
        pg_name, url = fresh_pg_database("gridapp_morning")
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    else:
        url = f"sqlite:///{tmp / 'instance' / 'gridapp.db'}"
    recipe = Recipe(
        {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL if backend == "postgres" else "",
            "GRIDAPP_SECRET_KEY": uuid.uuid4().hex,
            "GRIDAPP_INSTANCE": str(tmp / "instance"),
            "GRIDAPP_WEB_WORKERS": str(args.web_workers),
            "GRIDAPP_SECURE_COOKIES": "0",
            "GRIDAPP_ACCESS_LOG": "0",
            "GRIDAPP_QUERY_COUNT": "1",  # X-Query-Count: statements per request, printed below
            # Every phone logs in from 127.0.0.1: one address, 3,000 usernames (the limit is
            # per address and username, so it does not bite; kept as configured).
        },
        tmp / "logs",
    )
    try:
        recipe.upgrade()
        for noisy in ("huey", "peewee.migrations"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        t0 = time.perf_counter()
        app = create_app(
            {
                "INSTANCE_PATH": tmp / "seed",
                "DATABASE_URL": url,
                "HUEY_IMMEDIATE": True,
                "REDIS_URL": None,
            }
        )
        with app.app_context(), db.connection_context():
            city = seed_city(args.workers, args.households)
        close_pools()
        n_res = args.workers * (args.households + args.households // 9)
        print(
            f"morning on {backend}: {args.workers} workers, {args.households} households each "
            f"(~{n_res:,} residents), {args.web_workers} gunicorn workers × "
            f"{os.environ.get('GRIDAPP_THREADS', '4')} threads, concurrency {args.concurrency}, "
            f"new phones {'first' if args.new_first else 'spread'}; "
            f"seeded in {time.perf_counter() - t0:.0f} s"
        )
        port, bare_port = free_port(), free_port()
        recipe.start_web("web", port)
        recipe.start_web("bare", bare_port, app="bench._bare:app")
        recipe.start_worker()
        recipe.wait_ready(urls=[f"http://127.0.0.1:{port}"])
        recipe.wait_ready(urls=[f"http://127.0.0.1:{bare_port}"], path="/bare")

        phones = [Phone(w["username"], w["households"]) for w in city["workers"]]
        n_new = max(1, round(len(phones) * args.new_phones))
        # Which phones are new: spread at random through the morning as on a real one (the
        # same every run), or all at its start with --new-first.
        new = (
            set(range(n_new))
            if args.new_first
            else set(random.Random(15).sample(range(len(phones)), n_new))
        )
        saved = [ph for i, ph in enumerate(phones) if i not in new]
        setup = Client(port)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(lambda ph: login(setup, ph), saved))
        setup.close()
        for ph in saved:
            ph.cursor = str(city["seq"])  # yesterday's cursor
        if setup.errors:
            print(f"  ! setup errors: {len(setup.errors)}: {setup.errors[0]}")
        print(f"  saved sessions: {len(saved)} logins in {time.perf_counter() - t0:.0f} s")

        client = Client(port)
        master = recipe.procs["web"].pid

        def profiled(name: str, title: str) -> Profiled:
            return Profiled(args.profile / name if args.profile else None, master, title)

        t0 = time.perf_counter()
        with profiled("morning", "the morning"):
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(lambda i: morning(client, phones[i], i in new), range(len(phones))))
            wall = time.perf_counter() - t0
        client.close()
        total = sum(len(v) for v in client.latency.values())
        print(
            f"\nthe morning: {total} requests in {wall:.1f} s = {total / wall:.0f} requests/s, "
            f"errors: {len(client.errors)}"
        )
        for e in client.errors[:5]:
            print(f"  ! {e[:300]}")
        print(
            f"  {'kind':<10} {'n':>6} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}"
            f" {'queries':>8} {'(max)':>6}"
        )
        for kind in ("csrf", "login", "me", "pull_cold", "pull_warm", "push"):
            v = client.latency.get(kind, [])
            q = client.queries.get(kind, [])
            print(
                f"  {kind:<10} {len(v):>6} {pct(v, 0.5) * 1000:>7.0f}ms {pct(v, 0.95) * 1000:>7.0f}ms"
                f" {pct(v, 0.99) * 1000:>7.0f}ms {max(v or [0]) * 1000:>7.0f}ms"
                f" {statistics.mean(q) if q else float('nan'):>8.1f} {max(q or [0]):>6}"
            )
        if client.cold_bytes:
            raw = statistics.median(r for r, _ in client.cold_bytes)
            sent = statistics.median(s for _, s in client.cold_bytes)
            print(f"  cold pull: {raw / 1024:.0f} KiB of JSON, {sent / 1024:.0f} KiB gzip as sent")

        # The ceiling and the authenticated reads, one at a time, same threads and settings.
        # The CPU each process spends per request shows where a share comes from: the load
        # generator and the two cores are shared by everything here.
        secs, conc = args.ceiling_seconds, args.concurrency
        shared = {"redis": named_pids("redis-server"), "postgres": named_pids("postgres")}
        bare_cpu = {"web": web_pids(recipe.procs["bare"].pid), **shared}
        ours_cpu = {"web": web_pids(master), **shared}
        bare, _, bare_use = hammer(bare_port, "/bare", secs, conc, [], bare_cpu)
        sessions = saved or phones

        def pulls(phone: Phone) -> str:
            return f"/api/v1/sync?cursor={phone.cursor}"

        with profiled("me", "GET /api/v1/me"):
            me = hammer(port, "/api/v1/me", secs, conc, sessions, ours_cpu)
        # Each phone's cursor from its last pull: nothing new in its grid since.
        with profiled("warm", "warm pulls"):
            warm = hammer(port, pulls, secs, conc, sessions, ours_cpu)
        me_steady = hammer(port, "/api/v1/me", secs, conc, sessions, ours_cpu, rotate=False)
        warm_steady = hammer(port, pulls, secs, conc, sessions, ours_cpu, rotate=False)
        print(f"\nthroughput against the ceiling ({secs:g} s each, {conc} in flight):")
        print(
            f"  {'endpoint':<44} {'req/s':>8} {'share':>7} {'queries':>8}"
            f"   CPU µs/request: {'web':>5} {'redis':>5} {'pg':>5} {'load':>5}"
            f"   Redis MGETs/request"
        )
        each = f"through all {len(sessions):,} phones"
        for name, (rate, q, use) in (
            ("bare Flask GET /bare (ceiling)", (bare, 0.0, bare_use)),
            (f"GET /api/v1/me, {each}", me),
            (f"warm pull (nothing new), {each}", warm),
            (f"GET /api/v1/me, {conc} phones again and again", me_steady),
            (f"warm pull, {conc} phones again and again", warm_steady),
        ):
            qs = f"{q:>8.1f}" if q is not None else f"{'?':>8}"
            parts = (use.get(k, 0.0) for k in ("web", "redis", "postgres", "generator"))
            print(
                f"  {name:<44} {rate:>8.0f} {rate / bare:>6.2f}x {qs}"
                f"   {'':>16}"
                + "".join(f" {v:>5.0f}" for v in parts)
                + f"   {use.get('mget', 0.0):>19.2f}"
            )
        return 0 if not client.errors else 1
    finally:
        recipe.stop()
        close_pools()
        if pg_name:
            drop_pg_database(pg_name)
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
        shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
