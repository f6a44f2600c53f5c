"""Pure rules: phone validation, masking of free text, the hand-made PDF's structure."""

from __future__ import annotations

import re

import pytest

from gridapp.echowall import rules


@pytest.mark.parametrize(
    "raw, ok",
    [
        ("13812341234", True),
        ("138 1234 1234", True),
        ("010-12345678", True),
        ("0351-1234567", True),
        ("02112345678", True),
        ("12812341234", False),
        ("1381234123", False),
        ("138123412345", False),
        ("12345678", False),
        ("abc", False),
        ("+8613812341234", False),
    ],
)
def test_phone(raw, ok):
    assert rules.phone_ok(rules.normalise_phone(raw)) is ok


@pytest.mark.parametrize(
    "text, expected",
    [
        ("张大爷家门口灯坏了", "某大爷家门口灯坏了"),
        ("请联系13812341234", "请联系***"),
        ("身份证14010119900101123X丢了", "身份证***丢了"),
        ("3栋楼道灯坏了", "3栋楼道灯坏了"),
    ],
)
def test_mask_free_text(text, expected):
    assert rules.mask_free_text(text) == expected


def test_mask_free_text_cuts_long_text():
    assert len(rules.mask_free_text("长" * 500, limit=50)) == 50


def test_pdf_xref_offsets_point_at_objects():
    p = rules.Poster(
        "回音壁", ["东城水岸社区 · 第1网格", "电话 13812341234"], "扫码", [[1, 0], [0, 1]]
    )
    pdf = rules.poster_pdf(p)
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    startxref = int(re.search(rb"startxref\n(\d+)", pdf).group(1))
    assert pdf[startxref:].startswith(b"xref")
    offsets = re.findall(rb"(\d{10}) 00000 n", pdf)
    for i, off in enumerate(offsets, start=1):
        assert pdf[int(off) :].startswith(b"%d 0 obj" % i)
    # the grid name is in the page's text as UCS-2 for STSong-Light
    assert "第1网格".encode("utf-16-be").hex().upper().encode() in pdf
    length = int(re.search(rb"/Length (\d+)", pdf).group(1))
    stream = pdf.split(b"stream\n", 1)[1]
    assert stream[length:].startswith(b"\nendstream")
