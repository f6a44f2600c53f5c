"""The news body's small safe markup (pure; no app imports): never raw HTML from users.

The text is escaped first, then only these rules add markup:
- a blank line separates paragraphs; a single line break stays a line break;
- lines starting with ``- `` or ``• `` make a bulleted list;
- ``**bold**`` (one line) becomes <strong>;
- http(s) URLs become links (``rel="nofollow noopener"``, opened in a new tab).
Everything else (``<script>``, ``<a href=javascript:>``, entities) arrives as text.
"""

from __future__ import annotations

import re
from html import escape

MAX_BODY = 20_000
_URL = re.compile(r"https?://[^\s<>\"'\u3000-\u303f\uff01-\uff5e]+")
_BOLD = re.compile(r"\*\*([^*\n]{1,200})\*\*")
_BULLET = re.compile(r"^\s*[-•]\s+")


def _inline(line: str) -> str:
    """One escaped line with bold and links (URLs are matched on the raw text, then escaped)."""
    out, pos = [], 0
    for m in _URL.finditer(line):
        url = m.group(0).rstrip(".,;:!?)")
        out.append(_bold(escape(line[pos : m.start()])))
        out.append(
            f'<a href="{escape(url)}" rel="nofollow noopener" target="_blank">{escape(url)}</a>'
        )
        pos = m.start() + len(url)
    out.append(_bold(escape(line[pos:])))
    return "".join(out)


def _bold(escaped: str) -> str:
    return _BOLD.sub(r"<strong>\1</strong>", escaped)


def render(text: str) -> str:
    """The body as safe HTML: paragraphs, line breaks, lists, bold, links."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b for b in re.split(r"\n\s*\n", text) if b.strip()]
    html = []
    for block in blocks:
        lines = [ln.rstrip() for ln in block.strip("\n").split("\n")]
        if all(_BULLET.match(ln) for ln in lines if ln.strip()):
            items = "".join(
                f"<li>{_inline(_BULLET.sub('', ln))}</li>" for ln in lines if ln.strip()
            )
            html.append(f"<ul>{items}</ul>")
        else:
            html.append("<p>" + "<br>".join(_inline(ln) for ln in lines) + "</p>")
    return "\n".join(html)


def plain(text: str, limit: int = 120) -> str:
    """A one-line excerpt of the body (markup marks removed), for lists and pushes."""
    lines = [_BULLET.sub("", ln) for ln in (text or "").splitlines()]
    flat = _BOLD.sub(r"\1", " ".join(" ".join(lines).split()))
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
