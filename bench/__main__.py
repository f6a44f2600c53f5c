"""Run a benchmark: ``python -m bench NAME [--smoke] [--db sqlite|postgres|both]``.

Each ``bench/NAME.py`` has ``main(argv) -> int`` and prints its figures as ratios against a
baseline measured in the same run (these machines are noisy; absolute times drift). ``--smoke``
runs a tiny size so the test suite can check that every benchmark still works.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(here)])
        if not m.name.startswith("_") and m.name != "common"
    )


def main(argv: list[str]) -> int:
    names = available()
    if not argv or argv[0] in {"-h", "--help"}:
        print("benchmarks: " + ", ".join(names))
        print("usage: python -m bench NAME [--smoke] [--db sqlite|postgres|both]   (or 'all')")
        return 0
    name, rest = argv[0], argv[1:]
    targets = names if name == "all" else [name]
    rc = 0
    for target in targets:
        if target not in names:
            print(f"unknown benchmark {target!r}; have: {', '.join(names)}", file=sys.stderr)
            return 2
        module = importlib.import_module(f"bench.{target}")
        rc |= module.main(rest)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
