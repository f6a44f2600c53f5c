"""Fill msgstr entries of a .po catalog from a {msgid: msgstr} JSON on stdin, appending new msgids.

Usage: python scripts/po_fill.py gridapp/<feature>/translations/zh_Hans_CN/LC_MESSAGES/messages.po < new.json
The catalog is created when missing (each feature keeps its own catalog, merged at runtime).
"""

import json
import os
import sys

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po


def main() -> None:
    path = sys.argv[1]
    entries = json.load(sys.stdin)
    if os.path.exists(path):
        with open(path, "rb") as fh:
            catalog = read_po(fh)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        locale = path.split("/translations/")[1].split("/")[0]
        catalog = Catalog(locale=locale, project="gridapp")
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
