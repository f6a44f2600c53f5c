"""Fill msgstr entries of a .po catalog from a {msgid: msgstr} JSON on stdin, appending new msgids.

Usage: python scripts/po_fill.py gridapp/translations/zh_CN/LC_MESSAGES/messages.po < new.json
Safe to run from several shells: it rewrites the file in one write after reading it fresh.
"""

import json
import sys

from babel.messages.pofile import read_po, write_po


def main() -> None:
    path = sys.argv[1]
    entries = json.load(sys.stdin)
    with open(path, "rb") as fh:
        catalog = read_po(fh)
    for msgid, msgstr in entries.items():
        msg = catalog.get(msgid)
        if msg is None:
            catalog.add(msgid, msgstr)
        else:
            msg.string = msgstr
            msg.flags.discard("fuzzy")
    with open(path, "wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True)


if __name__ == "__main__":
    main()
