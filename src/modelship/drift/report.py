"""The drift report: a per-feature table and inline SVG histograms.

Everything shown comes from the data (column names, category values), so all
text is escaped; the SVG is inline, so the HTML file is standalone (no
scripts, no external assets) and can be opened from CI artifacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelship.drift.check import DriftResult, FeatureResult, Histogram
from modelship.templating import render

if TYPE_CHECKING:
    from modelship.drift.performance import Performance

REF_COLOUR = "#4c78a8"
CUR_COLOUR = "#f58518"


def number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


VERDICTS = {
    "drift": "Dataset drift detected",
    "stable": "No dataset drift",
    "insufficient-data": "Not enough data to judge",
}


def verdict(result: DriftResult) -> str:
    return VERDICTS[result.status]


def feature_verdict(item: FeatureResult) -> str:
    if not item.judged:
        return "yes (not tested)" if item.drifted else "not judged"
    return "yes" if item.drifted else "no"


def table_rows(result: DriftResult) -> list[list[str]]:
    rows = []
    for item in result.ordered():
        judged = item.judged
        rows.append(
            [
                item.name,
                feature_verdict(item),
                item.kind,
                item.method,
                number(item.statistic) if judged or item.drifted else "",
                number(item.p_value) if item.p_value is not None else "",
                number(item.distance) if item.distance is not None else "",
                number(item.threshold) if judged or item.drifted else "",
                f"{item.reference_missing:,} / {item.current_missing:,}",
                item.note,
            ]
        )
    return rows


TABLE_HEADERS = [
    "feature",
    "drifted",
    "type",
    "method",
    "statistic",
    "p-value",
    "distance",
    "threshold",
    "missing ref / cur",
    "why",
]


@dataclass(frozen=True)
class Bar:
    """One bar of a histogram, placed in SVG units; `tip` is its tooltip."""

    x: str
    y: str
    width: str
    height: str
    colour: str
    tip: str


def histogram_bars(hist: Histogram, top: float, slot: float, bar: float, box: Box) -> list[Bar]:
    """Reference and current share of each bin, side by side."""
    bars = []
    for i, label in enumerate(hist.labels):
        x = box.left + i * slot
        for offset, share, colour, which in (
            (0.0, hist.reference[i], REF_COLOUR, "reference"),
            (bar, hist.current[i], CUR_COLOUR, "current"),
        ):
            h = box.plot_height * share / top
            bars.append(
                Bar(
                    f"{x + offset:.1f}",
                    f"{box.axis_y - h:.1f}",
                    f"{bar:.1f}",
                    f"{h:.1f}",
                    colour,
                    f"{label}: {which} {share:.2%}",
                )
            )
    return bars


@dataclass(frozen=True)
class Box:
    width: int
    height: int
    left: int = 40
    bottom: int = 40

    @property
    def plot_height(self) -> int:
        return self.height - 60

    @property
    def axis_y(self) -> int:
        return self.height - self.bottom


def svg_histogram(hist: Histogram, title: str, width: int = 560, height: int = 180) -> str:
    """Reference against current shares per bin, as grouped bars (drift/histogram.svg.j2)."""
    box = Box(width, height)
    top = max([*hist.reference, *hist.current, 1e-12])
    slot = (width - box.left - 10) / max(len(hist.labels), 1)
    bar = max(slot / 2 - 1, 0.5)
    ticks = [
        (f"{box.left + i * slot + slot / 2:.1f}", label if len(label) <= 14 else label[:13] + "…")
        for i, label in enumerate(hist.labels)
    ]
    return render(
        "drift/histogram.svg.j2",
        title=title,
        box=box,
        top=number(top, 2),
        bars=histogram_bars(hist, top, slot, bar, box),
        edges=(number(hist.edges[0]), number(hist.edges[-1])) if hist.edges else None,
        ticks=ticks,
        ref_colour=REF_COLOUR,
        cur_colour=CUR_COLOUR,
    )


def feature_section(item: FeatureResult) -> str:
    """A feature's heading and histogram (drift/feature.html.j2)."""
    histogram = None
    if item.histogram is not None:
        histogram = svg_histogram(item.histogram, f"{item.name}: reference vs current")
    return render("drift/feature.html.j2", item=item, histogram=histogram)


def render_html(result: DriftResult, model: str, performance: Performance | None = None) -> str:
    """The standalone drift report (drift/report.html.j2)."""
    return render(
        "drift/report.html.j2",
        result=result,
        model=model,
        verdict=verdict(result),
        performance=performance,
        headers=TABLE_HEADERS,
        rows=table_rows(result),
        sections=[feature_section(item) for item in result.ordered()],
    )


def as_json(result: DriftResult, model: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "model": model, **result.as_json(), **extra}
