"""The README's production recipe ("Running at scale"), run as written: read the block from the
README, run ``gridapp db upgrade`` once, then gunicorn processes from ``gunicorn.conf.py`` (no
``--preload``) and ``gridapp worker``, each a real process on 127.0.0.1.

Shared by the deployment and fault tests (tests/test_deployment.py, tests/test_faults.py) and
the morning benchmark (bench/morning.py), so all three exercise the same thing the README says.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PG_URL = os.environ.get("GRIDAPP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

# What the recipe's ``export`` lines name; the caller supplies every one of them (a README
# that starts needing another variable fails here until the test and bench know it).
EXPECTED_EXPORTS = {
    "DATABASE_URL",
    "REDIS_URL",
    "GRIDAPP_SECRET_KEY",
    "GRIDAPP_INSTANCE",
    "GRIDAPP_BIND",
    "GRIDAPP_WEB_WORKERS",
}


def readme_recipe() -> tuple[list[str], dict[str, str]]:
    """(exported variable names, {"upgrade"|"web"|"worker": command line}) from the README."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Running at scale\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    exports: list[str] = []
    commands: dict[str, str] = {}
    for raw in block.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            exports.append(line.removeprefix("export ").split("=", 1)[0])
            continue
        kind = (
            "upgrade"
            if "db upgrade" in line
            else "web"
            if "gunicorn" in line
            else "worker"
            if line.endswith("gridapp worker")
            else None
        )
        if kind is None or kind in commands:
            raise AssertionError(f"README recipe line not understood: {line!r}")
        commands[kind] = line
    if set(commands) != {"upgrade", "web", "worker"}:
        raise AssertionError(f"README recipe lacks a step: has {sorted(commands)}")
    if set(exports) != EXPECTED_EXPORTS:
        raise AssertionError(
            f"README exports {sorted(exports)}, expected {sorted(EXPECTED_EXPORTS)}"
        )
    if "--preload" in commands["web"]:
        raise AssertionError("the recipe must boot without --preload")
    return exports, commands


def argv(command: str) -> list[str]:
    """The command's words, ``.venv/bin/X`` taken from the virtualenv running us."""
    parts = shlex.split(command)
    if parts[0].startswith(".venv/bin/"):
        parts[0] = str(Path(sys.executable).parent / parts[0].removeprefix(".venv/bin/"))
    return parts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_pg_database(prefix: str = "gridapp_deploy") -> tuple[str, str]:
    """A new, empty PostgreSQL database: (name, url)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, urlunparse(urlparse(PG_URL)._replace(path="/" + name))


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reachable(pg: bool = True, redis_url: str | None = None) -> str | None:
    """Why the recipe cannot run here (None when it can)."""
    if pg:
        try:
            import psycopg

            psycopg.connect(PG_URL, connect_timeout=3).close()
        except Exception as exc:
            return f"PostgreSQL unreachable at {PG_URL}: {exc}"
    if redis_url:
        try:
            import redis

            redis.Redis.from_url(redis_url, socket_timeout=3).ping()
        except Exception as exc:
            return f"Redis unreachable at {redis_url}: {exc}"
    return None


class Recipe:
    """The processes of one deployment. ``env`` holds the values of the README's exports
    (all but ``GRIDAPP_BIND``, which is per web process)."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        _, self.commands = readme_recipe()
        missing = EXPECTED_EXPORTS - {"GRIDAPP_BIND"} - set(env)
        if missing:
            raise AssertionError(f"recipe values missing: {sorted(missing)}")
        self.env = {**os.environ, **env}
        self.env.pop("GRIDAPP_BIND", None)
        self.logdir = logdir
        logdir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: list[IO[bytes]] = []
        self.urls: list[str] = []

    def _popen(self, name: str, command: str, extra: dict[str, str]) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115  (closed in stop())
        self._logs.append(log)
        proc = subprocess.Popen(
            argv(command),
            cwd=ROOT,
            env={**self.env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def upgrade(self) -> None:
        with open(self.logdir / "upgrade.log", "ab") as log:
            done = subprocess.run(
                argv(self.commands["upgrade"]),
                cwd=ROOT,
                env=self.env,
                timeout=180,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if done.returncode:
            raise AssertionError(f"db upgrade failed: {self.log('upgrade')}")

    def start_web(self, name: str, port: int, app: str = "wsgi:app", **extra: str) -> str:
        """A web process from the README's command (``app`` swaps the WSGI target, for the
        benchmark's bare-Flask ceiling on the same gunicorn settings)."""
        command = self.commands["web"].replace("wsgi:app", app)
        self._popen(name, command, {"GRIDAPP_BIND": f"127.0.0.1:{port}", **extra})
        url = f"http://127.0.0.1:{port}"
        self.urls.append(url)
        return url

    def start_worker(self, name: str = "worker") -> subprocess.Popen:
        return self._popen(name, self.commands["worker"], {})

    def wait_ready(
        self, timeout: float = 90.0, urls: list[str] | None = None, path: str = "/healthz"
    ) -> None:
        """Every web process answers /healthz (so each gunicorn worker booted the app)."""
        import requests

        deadline = time.monotonic() + timeout
        for url in urls or self.urls:
            while True:
                for name, proc in self.procs.items():
                    if proc.poll() is not None:
                        raise AssertionError(f"{name} exited ({proc.returncode}): {self.log(name)}")
                try:
                    if requests.get(url + path, timeout=5).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{url} not ready in {timeout:.0f} s")
                time.sleep(0.3)

    def log(self, name: str) -> str:
        path = self.logdir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self, name: str | None = None, sig: int = signal.SIGTERM) -> None:
        names = [name] if name else list(self.procs)
        for n in names:
            proc = self.procs.get(n)
            if proc is not None and proc.poll() is None:
                proc.send_signal(sig)
        for n in names:
            proc = self.procs.pop(n, None)
            if proc is None:
                continue
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if name is None:
            for log in self._logs:
                log.close()
            self._logs.clear()
