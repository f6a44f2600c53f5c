"""Charts as inline SVG drawn on the server: no chart library, nothing loaded from outside.

Pure: standard library only, so it is tested without an app. Every bar may carry a link (the
list behind the number), and every chart has a <title>/<desc> for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

PALETTE = ("#c0392b", "#2e86c1", "#27ae60", "#f39c12", "#8e44ad", "#16a085", "#7f8c8d", "#d35400")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    href: str = ""
    text: str = ""  # what to print beside the bar (defaults to the value)
    color: str = ""


@dataclass(frozen=True)
class Segment:
    name: str
    value: float
    href: str = ""
    color: str = ""


@dataclass(frozen=True)
class StackRow:
    label: str
    segments: tuple[Segment, ...] = field(default_factory=tuple)
    href: str = ""


def _a(href: str, inner: str) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _text_width(text: str, size: float = 13) -> int:
    """CJK glyphs are about one em wide, Latin about half: an estimate without fonts."""
    return int(sum(size if ord(ch) > 0x2E7F else size * 0.58 for ch in text))


def _label_width(labels: list[str]) -> int:
    return int(min(220, max([60] + [_text_width(s) for s in labels]) + 10))


def _legend_lines(legend: list[tuple[str, str]], width: int) -> int:
    lines, x = 1, 4
    for name, _color in legend:
        step = 24 + _text_width(name, 12)
        if x + step > width:
            lines, x = lines + 1, 4
        x += step
    return lines


def bar_chart(
    bars: list[Bar],
    *,
    title: str,
    width: int = 560,
    row: int = 26,
    max_value: float | None = None,
    chart_id: str = "",
) -> str:
    """Horizontal bars, one per item, each a link when it has an ``href``."""
    left = _label_width([b.label for b in bars])
    # Room for the longest value text past a full bar ("96% (287/300)" was cut off at 64).
    right = max([64] + [_text_width(b.text or _fmt(b.value)) + 12 for b in bars])
    top = 6
    height = top * 2 + row * max(1, len(bars))
    top_value = max_value if max_value is not None else max([b.value for b in bars] + [0])
    scale = (width - left - right) / top_value if top_value > 0 else 0
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-t"'
        + (f' id="{escape(chart_id)}"' if chart_id else "")
        + ">",
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
    ]
    if not bars:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle" fill="#5b6470">—</text>'
        )
    for i, b in enumerate(bars):
        y = top + i * row
        w = max(0.0, b.value * scale)
        color = b.color or PALETTE[i % len(PALETTE)]
        text = b.text or _fmt(b.value)
        inner = (
            f'<text x="{left - 8}" y="{y + row * 0.65:.1f}" text-anchor="end" font-size="13" '
            f'fill="#1f2328">{escape(b.label)}</text>'
            f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="3" fill="{color}">'
            f"<title>{escape(b.label)}: {escape(text)}</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + row * 0.65:.1f}" font-size="13" '
            f'fill="#1f2328">{escape(text)}</text>'
        )
        parts.append(_a(b.href, f"<g>{inner}</g>"))
    parts.append("</svg>")
    return "".join(parts)


def stacked_bars(
    rows: list[StackRow],
    *,
    title: str,
    legend: list[tuple[str, str]],
    width: int = 560,
    row: int = 28,
    chart_id: str = "",
) -> str:
    """One horizontal bar per row, split into segments (e.g. a category's matters by state).

    ``legend`` is ``[(name, color)]`` in drawing order; each segment links to its list."""
    left = _label_width([r.label for r in rows])
    right = 50
    legend_h = 22 * _legend_lines(legend, width)
    top = legend_h + 4
    height = top + row * max(1, len(rows)) + 6
    total_max = max([sum(s.value for s in r.segments) for r in rows] + [0])
    scale = (width - left - right) / total_max if total_max > 0 else 0
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-t"'
        + (f' id="{escape(chart_id)}"' if chart_id else "")
        + ">",
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
    ]
    x, y = 4, 4
    for name, color in legend:
        step = 24 + _text_width(name, 12)
        if x + step > width:
            x, y = 4, y + 22
        parts.append(
            f'<rect x="{x}" y="{y + 3}" width="12" height="12" rx="2" fill="{color}"/>'
            f'<text x="{x + 16}" y="{y + 13}" font-size="12" fill="#1f2328">{escape(name)}</text>'
        )
        x += step
    for i, r in enumerate(rows):
        y = top + i * row
        parts.append(
            _a(
                r.href,
                f'<text x="{left - 8}" y="{y + row * 0.62:.1f}" text-anchor="end" font-size="13" '
                f'fill="#1f2328">{escape(r.label)}</text>',
            )
        )
        x0 = float(left)
        for s in r.segments:
            if s.value <= 0:
                continue
            w = s.value * scale
            rect = (
                f'<rect x="{x0:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
                f'fill="{s.color or "#7f8c8d"}"><title>{escape(r.label)} · {escape(s.name)}: '
                f"{_fmt(s.value)}</title></rect>"
            )
            if w >= 22:
                rect += (
                    f'<text x="{x0 + w / 2:.1f}" y="{y + row * 0.62:.1f}" text-anchor="middle" '
                    f'font-size="11" fill="#fff">{_fmt(s.value)}</text>'
                )
            parts.append(_a(s.href, f"<g>{rect}</g>"))
            x0 += w
        total = sum(s.value for s in r.segments)
        parts.append(
            f'<text x="{x0 + 6:.1f}" y="{y + row * 0.62:.1f}" font-size="13" '
            f'fill="#1f2328">{_fmt(total)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
