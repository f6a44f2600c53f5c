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


@pytest.mark.parametrize(
    "text",
    [
        "请联系138-1234-5678",
        "请联系138 1234 5678",
        "请联系+86 13812345678",
        "请联系+86-138-1234-5678",
        "请联系0086 138 1234 5678",
        "请联系86 138 1234 5678",
        "请联系13812345678",
        "请联系１３８１２３４５６７８",
        "请联系１３８－１２３４－５６７８",
        "请联系010-12345678",
        "请联系01012345678",
        "请联系(0571)8765 4321",
        "请联系（0571）8765 4321",
        "请联系0571-87654321转123",
        "请联系８７６５４３２１",
        "身份证11010519491231002X",
        "身份证11010519491231002x",
        "身份证110105 19491231 002X",
        "身份证110105491231002",
        "身份证１１０１０５１９４９１２３１００２Ｘ",
    ],
)
def test_every_common_number_notation_is_masked(text):
    masked = rules.mask_free_text(text)
    assert not re.search(r"[0-9０-９]{3}", masked), masked
    assert masked.endswith("***") and masked.startswith(text[:2])


@pytest.mark.parametrize(
    "text, names, expected",
    [
        ("赵春花说灯坏了", ["赵春花"], "某某说灯坏了"),
        ("春花说灯坏了", ["赵春花"], "某某说灯坏了"),
        ("已联系王小网和赵春花", ["赵春花", "王小网"], "已联系某某和某某"),
        ("Li Lei called", ["Li Lei"], "某某 called"),
        ("李雷来过", ["李 雷"], "某某来过"),
        ("灯坏了", ["张"], "灯坏了"),  # a one-character name masks nothing
        ("3栋2单元灯坏了，2026年11月30日", [], "3栋2单元灯坏了，2026年11月30日"),
    ],
)
def test_names_known_to_the_record_are_masked(text, names, expected):
    assert rules.mask_free_text(text, names=names) == expected


@pytest.mark.parametrize(
    "raw, code",
    [
        ("7eppttwx", "7EPPTTWX"),
        (" 7EPP TTWX ", "7EPPTTWX"),
        ("７ＥＰＰ-ＴＴＷＸ", "7EPPTTWX"),
        ("", ""),
    ],
)
def test_normalise_code(raw, code):
    assert rules.normalise_code(raw) == code
