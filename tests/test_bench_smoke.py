"""Every benchmark still runs (tiny sizes). Benchmarks report numbers; they assert nothing here."""

from __future__ import annotations

import pytest

from bench.__main__ import available
from tests.conftest import BACKEND


def test_every_named_benchmark_exists():
    assert {
        "registry",
        "matters",
        "push",
        "sync",
        "dashboard",
        "app_start",
        "morning",
        "news_fanout",
        "booking",
        "fanout_channels",
        "request_cpu",
    } <= set(available())


@pytest.mark.parametrize("name", available())
def test_benchmark_runs(name, capsys):
    import importlib

    from gridapp.db import db

    module = importlib.import_module(f"bench.{name}")
    assert module.main(["--smoke", "--db", BACKEND]) == 0
    assert "x" in capsys.readouterr().out  # printed its ratios
    if not db.is_closed():
        db.close()
