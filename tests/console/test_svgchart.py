"""Pure checks of the console's SVG charts: nothing drawn past the chart's own box."""

from __future__ import annotations

import re

import pytest

from gridapp.console.svgchart import Bar, _text_width, bar_chart


@pytest.mark.parametrize(
    "text",
    ["96% (287/300)", "100% (12345/12345)", "7", "满意率 100%（300 件）"],
)
def test_value_text_of_a_full_bar_stays_inside_the_chart(text):
    svg = bar_chart([Bar("第16网格", 100, text=text)], title="t", max_value=100)
    width = float(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))
    xs = [float(x) for x in re.findall(r'<text x="([\d.]+)" y="[\d.]+" font-size="13" fill', svg)]
    value_x = max(xs)  # the value label sits right of its bar
    assert value_x + _text_width(text) <= width
