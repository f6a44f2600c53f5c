"""Pure registry rules, without an app."""

from __future__ import annotations

import datetime as dt

import pytest

from gridapp.registry.rules import (
    household_interval,
    next_visit_due,
    normalise_phone,
    parse_birth_year,
    parse_gender,
    parse_id_number,
    split_tags,
)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("11010519491231002X", ("11010519491231002X", 1949, "F")),
        ("11010519491231002x", ("11010519491231002X", 1949, "F")),
        ("440304199003071512", ("440304199003071512", 1990, "M")),
        ("440304199003071513", None),  # wrong check digit
        ("440304199002301512", None),  # 30 February
        ("44030419900307151", None),  # 17 characters
        ("", None),
    ],
)
def test_id_number(value, expected):
    assert parse_id_number(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0351-1234567", "0351-1234567"),
        ("010 12345678", "010-12345678"),
        ("12345678901", None),  # not a mobile prefix
        ("1381234567", None),  # 10 digits
        ("abc", None),
    ],
)
def test_phone(value, expected):
    assert normalise_phone(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("独居老人、高龄", ["独居老人", "高龄"]),
        ("低保，残疾,低保", ["低保", "残疾"]),
        ("", []),
    ],
)
def test_split_tags(value, expected):
    assert split_tags(value) == expected


@pytest.mark.parametrize(
    "intervals, expected", [([], 180), ([30, 7], 7), ([0, 365], 180), ([30], 30)]
)
def test_household_interval(intervals, expected):
    assert household_interval(intervals) == expected


def test_next_visit_due():
    created = dt.datetime(2026, 1, 1)
    assert next_visit_due(None, created, 7) == created
    assert next_visit_due(dt.datetime(2026, 2, 1), created, 7) == dt.datetime(2026, 2, 8)


@pytest.mark.parametrize(
    "value, expected",
    [
        (dt.datetime(1950, 3, 1), 1950),
        ("1950-03-01", 1950),
        ("1950年3月", 1950),
        ("19500301", 1950),
        (1950, 1950),
        ("3月1日", None),
        ("2999", None),
    ],
)
def test_birth_year(value, expected):
    assert parse_birth_year(value, this_year=2026) == expected


@pytest.mark.parametrize("value, expected", [("男", "M"), ("女", "F"), ("", ""), ("x", None)])
def test_gender(value, expected):
    assert parse_gender(value) == expected
