"""The indicators' server-side bar charts: a scale that reads well, escaped labels, nothing the
page's Content-Security-Policy would block (no style attribute, no script)."""

from __future__ import annotations

from app.web.charts import bar_chart, nice_max


def test_the_scale_rounds_up_to_1_2_or_5_times_a_power_of_ten() -> None:
    assert [nice_max(v) for v in (0, 1, 3, 7, 12, 55, 101, 4000)] == [1, 1, 5, 10, 20, 100, 200, 5000]


def test_a_chart_is_svg_with_classes_only_and_escaped_text() -> None:
    series = [("00", [55, 0]), ("01 & co", [0, 4])]
    svg = str(bar_chart("c1", "Appels <INSi>", ["2026-01", "2026-02"], series))
    assert svg.startswith('<svg class="chart" id="c1"') and svg.endswith("</svg>")
    assert "style" not in svg and "<script" not in svg
    assert "<title id=\"c1-t\">Appels &lt;INSi&gt;</title>" in svg and "01 &amp; co : 4" in svg
    assert svg.count("<rect ") == 4 and 'class="s0"' in svg and 'class="s1"' in svg
    assert '>100</text>' in svg  # the top of the scale above 55
