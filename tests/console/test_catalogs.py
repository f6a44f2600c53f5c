"""flask-babel merges every feature's catalog into one: a msgid translated differently in two
catalogs shows whichever merged last (the console's "To" once read "截止日期" on the announcement
form). Each msgid (with its context) must mean one thing across the whole app."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2] / "gridapp"


# Same meaning, different wording in the console and the worker app (a consistency matter for
# their owners, not a wrong meaning): listed so that any *new* clash fails.
KNOWN_SYNONYMS = {
    "Reopened",
    "Accept",
    "Closed",
    "Description",
    "Dispatched",
    "High",
    "In progress",
    "Normal",
    "Notes",
    "Overdue",
    "Reason",
    "Resolved",
    "Services delivered",
    "Start",
    "Timeline",
    "Conflict",
}


def test_no_msgid_has_two_translations():
    seen: dict[tuple[str | None, str], tuple[str, str]] = {}
    clashes = []
    for po in sorted(ROOT.glob("**/translations/zh_Hans_CN/LC_MESSAGES/messages.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh)
        for msg in catalog:
            if not msg.id or isinstance(msg.id, tuple) or not msg.string:
                continue
            key = (msg.context, msg.id)
            where = str(po.relative_to(ROOT))
            if key in seen and seen[key][1] != msg.string and msg.id not in KNOWN_SYNONYMS:
                clashes.append((msg.id, seen[key], (where, msg.string)))
            seen.setdefault(key, (where, msg.string))
    assert not clashes, "\n".join(map(str, clashes))
