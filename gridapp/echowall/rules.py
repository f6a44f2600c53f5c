"""Pure rules of the echo wall (standard library only): input limits, phone validation, masking
of free text for the public wall, and the poster as SVG and as a one-page PDF.

The PDF is hand-made: the QR as filled rectangles (vector) and the text in the standard
``STSong-Light`` CID font with ``UniGB-UCS2-H`` encoding, which PDF viewers provide without
embedding (Adobe-GB1). Latin text uses Helvetica.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

TEXT_MIN = 5
TEXT_MAX = 1000
PHONE_MAX = 20
PHOTO_MAX_BYTES = 10 * 1024 * 1024

MOBILE = re.compile(r"1[3-9]\d{9}")
LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")


def normalise_phone(raw: str | None) -> str:
    """Strip spaces; the form accepts ``138 1234 1234`` and ``010-12345678``."""
    return re.sub(r"[\s\u3000]", "", raw or "")


def phone_ok(phone: str) -> bool:
    """An 11-digit mobile (1[3-9]…) or a landline with area code (0xx-xxxxxxx[x])."""
    return bool(MOBILE.fullmatch(phone) or LANDLINE.fullmatch(phone))


def normalise_code(raw: str | None) -> str:
    """A tracking code as typed on a phone: full-width letters and digits, spaces, dashes and
    lower case are all accepted (``7eppt twx`` → ``7EPPTTWX``); at most 16 characters."""
    value = unicodedata.normalize("NFKC", raw or "")
    return re.sub(r"[\s\-_]", "", value).upper()[:16]


# ---- masking free text for public pages -------------------------------------------------------
# Full-width digits and separators are matched as their ASCII twins: a one-to-one translation
# keeps every index, so the spans found in the translated copy are cut from the original text.
_HALF = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "\uff0b": "+",
        "\uff0d": "-",
        "\u2014": "-",
        "\u2013": "-",
        "\uff08": "(",
        "\uff09": ")",
        "\u3000": " ",
        "\uff38": "X",
        "\uff58": "x",
        "\uff0e": ".",
    }
)
_SEP = r"[ \-.]?"
_NOT_DIGIT_BEFORE = r"(?<![0-9])"
_NOT_DIGIT_AFTER = r"(?![0-9])"
_ID = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(?:\d{6}"
    + _SEP
    + r"\d{8}"
    + _SEP
    + r"\d{3}[\dXx]|\d{15})"
    + r"(?![0-9A-Za-z])"
)
_MOBILE = re.compile(
    r"(?:(?:\+|00)?86"
    + _SEP
    + r")?"
    + _NOT_DIGIT_BEFORE
    + r"1[3-9]\d"
    + _SEP
    + r"\d{4}"
    + _SEP
    + r"\d{4}"
    + _NOT_DIGIT_AFTER
)
_LANDLINE = re.compile(
    r"(?:(?:\+|00)?86" + _SEP + r")?"
    r"(?:\(0\d{2,3}\) ?|" + _NOT_DIGIT_BEFORE + r"0\d{2,3}" + _SEP + r")"
    r"\d{3,4}" + _SEP + r"\d{4}"
    r"(?:(?:-|转|ext\.?)\d{1,6})?" + _NOT_DIGIT_AFTER
)
# Whatever else looks like a number someone could call or look up: 7+ digits, maybe separated.
_DIGITS = re.compile(r"\d(?:[ \-.]?\d){6,}[Xx]?")
_HONORIFIC = re.compile(
    r"[\u4e00-\u9fff](?=(大爷|大妈|大娘|阿姨|奶奶|爷爷|先生|女士|师傅|老师|老人|叔|婶|姐|哥|总))"
)
MASK = "***"
NAME_MASK = "某某"


def _mask_spans(value: str, pattern: re.Pattern[str], probe: str) -> tuple[str, str]:
    """Replace each match of ``pattern`` in ``probe`` (the translated twin of ``value``) in both,
    so later patterns see what earlier ones left."""
    out, twin, last = [], [], 0
    for m in pattern.finditer(probe):
        out.append(value[last : m.start()])
        twin.append(probe[last : m.start()])
        out.append(MASK)
        twin.append(MASK)
        last = m.end()
    out.append(value[last:])
    twin.append(probe[last:])
    return "".join(out), "".join(twin)


def mask_numbers(text: str) -> str:
    """Every common notation of a Chinese phone or ID number becomes ``***``: mobiles with or
    without +86/0086 and spaces or dashes (138-1234-5678, 138 1234 5678, +86 13812345678),
    landlines with area code (010-12345678, (0571)8765 4321, extensions), ID numbers (18 digits
    with a final X, 15 digits), full-width digits, and any other run of seven or more digits."""
    value = text
    probe = value.translate(_HALF)
    for pattern in (_ID, _MOBILE, _LANDLINE, _DIGITS):
        value, probe = _mask_spans(value, pattern, probe)
    return value


def mask_names(text: str, names: Iterable[str]) -> str:
    """Names of people known to the record (reporter, household members, handlers) become
    ``某某``: the full name, and a given name of two or more characters on its own. Longest
    first, so 张三丰 is not left as 某某丰."""
    variants: set[str] = set()
    for raw in names:
        name = re.sub(r"\s+", "", raw or "")
        if len(name) < 2:
            continue
        variants.add(name)
        if len(name) >= 3 and _is_cjk(name):
            variants.add(name[1:])  # the given name, as neighbours say it
    for name in sorted(variants, key=len, reverse=True):
        # 张 三, Li Lei: spaces between the characters do not hide a name
        pattern = r"\s*".join(re.escape(c) for c in name)
        text = re.sub(pattern, NAME_MASK, text, flags=re.IGNORECASE)
    return text


def _is_cjk(name: str) -> bool:
    return all("\u4e00" <= c <= "\u9fff" for c in name)


def mask_free_text(text: str | None, limit: int = 200, names: Iterable[str] = ()) -> str:
    """Anonymise a resident's or handler's text for a public page: phones and ID numbers in any
    common notation become ``***``, names known to the record ``某某``, and a surname before an
    honorific ``某`` (``张大爷`` → ``某大爷``). Cut at ``limit``."""
    value = (text or "").strip()
    value = mask_names(value, names)
    value = mask_numbers(value)
    value = _HONORIFIC.sub("某", value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


# ---- poster -------------------------------------------------------------------------------------

A4_MM = (210.0, 297.0)
PT_PER_MM = 72 / 25.4


@dataclass(frozen=True)
class Poster:
    title: str  # e.g. "回音壁 · 有事找网格员"
    lines: Sequence[str]  # grid / community / worker / phone
    footer: str
    matrix: Sequence[Sequence[int]]  # QR modules including the quiet zone, 1 = dark
    lookup: str = ""  # where to look a tracking code up (the poster's promise)
    news: str = ""  # where the community's news (信息速递) is read


def _qr_runs(matrix: Sequence[Sequence[int]]) -> list[tuple[int, int, int]]:
    """Dark modules as horizontal runs ``(x, y, length)`` (fewer rectangles than modules)."""
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        n = len(row)
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                runs.append((start, y, x - start))
            else:
                x += 1
    return runs


QR_SIZE_MM = 120.0
QR_TOP_MM = 95.0


def poster_svg(p: Poster) -> str:
    """The A4 poster as SVG (mm user units); the QR is one ``<path class="qr">``."""
    w, h = A4_MM
    n = len(p.matrix)
    cell = QR_SIZE_MM / n
    x0 = (w - QR_SIZE_MM) / 2
    d = "".join(
        f"M{x0 + x * cell:.3f} {QR_TOP_MM + y * cell:.3f}h{k * cell:.3f}v{cell:.3f}h{-k * cell:.3f}z"
        for x, y, k in _qr_runs(p.matrix)
    )
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}mm" height="{h:g}mm" '
        f'viewBox="0 0 {w:g} {h:g}" font-family="Noto Sans CJK SC, Source Han Sans SC, '
        'PingFang SC, Microsoft YaHei, sans-serif">',
        f'<rect width="{w:g}" height="{h:g}" fill="#fff"/>',
        f'<rect x="0" y="0" width="{w:g}" height="40" fill="#c0392b"/>',
        f'<text x="{w / 2:g}" y="26" font-size="14" fill="#fff" text-anchor="middle" '
        f'font-weight="bold">{escape(p.title)}</text>',
    ]
    y = 55.0
    for i, line in enumerate(p.lines):
        size = 9 if i == 0 else 7
        out.append(
            f'<text x="{w / 2:g}" y="{y:g}" font-size="{size}" text-anchor="middle" '
            f'fill="#222">{escape(line)}</text>'
        )
        y += size + 3
    out.append(f'<path class="qr" fill="#000" d="{d}"/>')
    out.append(
        f'<text x="{w / 2:g}" y="{QR_TOP_MM + QR_SIZE_MM + 14:g}" font-size="7" '
        f'text-anchor="middle" fill="#444">{escape(p.footer)}</text>'
    )
    if p.lookup:
        out.append(
            f'<text x="{w / 2:g}" y="{QR_TOP_MM + QR_SIZE_MM + 26:g}" font-size="6" '
            f'text-anchor="middle" fill="#444" class="lookup">{escape(p.lookup)}</text>'
        )
    if p.news:
        out.append(
            f'<text x="{w / 2:g}" y="{QR_TOP_MM + QR_SIZE_MM + 36:g}" font-size="6" '
            f'text-anchor="middle" fill="#444" class="news">{escape(p.news)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _utf16_hex(text: str) -> str:
    """A string for the UniGB-UCS2-H CMap: big-endian UCS-2 as a hex string (BMP only)."""
    return "".join(f"{ord(c):04X}" for c in text if ord(c) <= 0xFFFF)


def _text_width_pt(text: str, size: float) -> float:
    """Approximate advance: CJK full width, ASCII half width (STSong-Light is monospaced-ish)."""
    return sum(size if ord(c) > 0x2E80 else size * 0.5 for c in text)


def poster_pdf(p: Poster) -> bytes:
    """The A4 poster as a one-page PDF 1.4 with a correct cross-reference table."""
    w_pt, h_pt = A4_MM[0] * PT_PER_MM, A4_MM[1] * PT_PER_MM
    mm = PT_PER_MM
    ops: list[str] = []
    # red band
    ops.append(f"0.753 0.224 0.169 rg 0 {h_pt - 40 * mm:.2f} {w_pt:.2f} {40 * mm:.2f} re f")

    def text(s: str, y_mm: float, size: float, rgb: str) -> None:
        x = (w_pt - _text_width_pt(s, size)) / 2
        ops.append(
            f"BT {rgb} rg /F1 {size:g} Tf {x:.2f} {h_pt - y_mm * mm:.2f} Td <{_utf16_hex(s)}> Tj ET"
        )

    text(p.title, 26, 14 * mm, "1 1 1")
    y = 55.0
    for i, line in enumerate(p.lines):
        size = 9 if i == 0 else 7
        text(line, y, size * mm, "0.13 0.13 0.13")
        y += size + 3
    n = len(p.matrix)
    cell = QR_SIZE_MM * mm / n
    x0 = (w_pt - QR_SIZE_MM * mm) / 2
    top = h_pt - QR_TOP_MM * mm
    ops.append("0 0 0 rg")
    for x, yy, k in _qr_runs(p.matrix):
        ops.append(f"{x0 + x * cell:.3f} {top - (yy + 1) * cell:.3f} {k * cell:.3f} {cell:.3f} re")
    ops.append("f")
    text(p.footer, QR_TOP_MM + QR_SIZE_MM + 14, 7 * mm, "0.27 0.27 0.27")
    if p.lookup:
        text(p.lookup, QR_TOP_MM + QR_SIZE_MM + 26, 6 * mm, "0.27 0.27 0.27")
    if p.news:
        text(p.news, QR_TOP_MM + QR_SIZE_MM + 36, 6 * mm, "0.27 0.27 0.27")
    content = "\n".join(ops).encode("ascii")

    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w_pt:.2f} {h_pt:.2f}] "
            "/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ).encode("ascii"),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        (
            b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
            b"/DescendantFonts [6 0 R] >>"
        ),
        (
            b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> "
            b"/FontDescriptor 7 0 R /DW 1000 /W [1 95 500] >>"
        ),
        (
            b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 "
            b"/FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 "
            b"/CapHeight 880 /StemV 93 >>"
        ),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
