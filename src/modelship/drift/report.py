"""The drift report: a per-feature table and inline SVG histograms.

Everything shown comes from the data (column names, category values), so all
text is escaped; the SVG is inline, so the HTML file is standalone (no
scripts, no external assets) and can be opened from CI artifacts.
"""

from __future__ import annotations

import html
import math
from typing import Any

from modelship.drift.check import DriftResult, FeatureResult, Histogram

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


def svg_histogram(hist: Histogram, title: str, width: int = 560, height: int = 180) -> str:
    """Reference against current shares per bin, as grouped bars."""
    bins = len(hist.labels)
    top = max([*hist.reference, *hist.current, 1e-12])
    left, bottom, plot_h = 40, 40, height - 60
    plot_w = width - left - 10
    slot = plot_w / max(bins, 1)
    bar = max(slot / 2 - 1, 0.5)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f"<title>{html.escape(title)}</title>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
        'stroke="#888"/>',
        f'<text x="4" y="18" font-size="11">{number(top, 2)}</text>',
    ]
    for i in range(bins):
        x = left + i * slot
        for offset, share, colour, which in (
            (0.0, hist.reference[i], REF_COLOUR, "reference"),
            (bar, hist.current[i], CUR_COLOUR, "current"),
        ):
            h = plot_h * share / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{html.escape(hist.labels[i])}: '
                f"{which} {share:.2%}</title></rect>"
            )
    if hist.edges:
        parts.append(
            f'<text x="{left}" y="{height - bottom + 14}" font-size="11">'
            f"{html.escape(number(hist.edges[0]))}</text>"
        )
        parts.append(
            f'<text x="{width - 10}" y="{height - bottom + 14}" font-size="11" '
            f'text-anchor="end">{html.escape(number(hist.edges[-1]))}</text>'
        )
    else:
        for i, label in enumerate(hist.labels):
            short = label if len(label) <= 14 else label[:13] + "…"
            parts.append(
                f'<text x="{left + i * slot + slot / 2:.1f}" y="{height - bottom + 14}" '
                f'font-size="10" text-anchor="middle">{html.escape(short)}</text>'
            )
    parts.append(
        f'<rect x="{left}" y="{height - 16}" width="10" height="10" fill="{REF_COLOUR}"/>'
        f'<text x="{left + 14}" y="{height - 7}" font-size="11">reference</text>'
        f'<rect x="{left + 90}" y="{height - 16}" width="10" height="10" fill="{CUR_COLOUR}"/>'
        f'<text x="{left + 104}" y="{height - 7}" font-size="11">current</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def feature_section(item: FeatureResult) -> str:
    if item.judged:
        shown = "drifted" if item.drifted else "no drift"
        how = f"{html.escape(item.method)}: {shown}"
    else:
        how = f"{'drifted, ' if item.drifted else ''}not judged: {html.escape(item.note)}"
    head = f"<h4>{html.escape(item.name)} <small>({html.escape(item.kind)}, {how})</small></h4>"
    if item.histogram is None:
        return head
    return head + svg_histogram(item.histogram, f"{item.name}: reference vs current")


def render_html(result: DriftResult, model: str, extra_html: str = "") -> str:
    heads = "".join(f"<th>{html.escape(h)}</th>" for h in TABLE_HEADERS)
    body = "".join(
        "<tr"
        + (
            ' class="drift"'
            if row[1].startswith("yes")
            else ' class="unjudged"'
            if row[1] == "not judged"
            else ""
        )
        + ">"
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in row)
        + "</tr>"
        for row in table_rows(result)
    )
    skipped = ""
    if result.skipped:
        skipped = (
            "<h3>Features not judged</h3><ul>"
            + "".join(f"<li>{html.escape(n)}: {html.escape(r)}</li>" for n, r in result.skipped)
            + "</ul>"
        )
    sections = "\n".join(feature_section(f) for f in result.ordered())
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>Drift report: {html.escape(model)}</title><style>{_CSS}</style></head><body>"
        f"<h2>Drift report: {html.escape(model)}</h2>"
        f"<p><strong>{verdict(result)}</strong>: {len(result.drifted_features)} of "
        f"{len(result.features)} features drifted ({len(result.skipped)} could not be tested; "
        f"share {result.drift_share:.3f}, "
        f"threshold {result.drift_share_threshold}). Reference {result.reference_rows:,} rows, "
        f"current {result.current_rows:,} rows, method {html.escape(result.method)}.</p>"
        f"{extra_html}"
        f"<table><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>{skipped}"
        f"<h3>Distributions</h3>{sections}</body></html>\n"
    )


def as_json(result: DriftResult, model: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "model": model, **result.as_json(), **extra}


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#1f2328}"
    "table{border-collapse:collapse;margin:1rem 0}"
    "th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}"
    "th{background:#f6f8fa}tr.drift td{background:#fff1e5}tr.unjudged td{background:#f3f0ff}"
    "h4{margin:1.2rem 0 .3rem}"
)
