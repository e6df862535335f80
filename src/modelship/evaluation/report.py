"""The evaluation report: the comparison table, plots as inline SVG, JUnit gates.

The table (metric | candidate | champion | delta | interval | rule | result)
goes to the step summary, the Markdown/HTML reports and the PR/MR comment.
The HTML report adds a confusion matrix (classification) or a residual plot
(regression) drawn as SVG by hand: no plotting library, no external assets.
Each gate is a JUnit test case so that GitLab's test widget lists it.
"""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelship.ci.summary import md_escape

if TYPE_CHECKING:
    import numpy as np

    from modelship.evaluation.bootstrap import DeltaStats
    from modelship.evaluation.gates import GateResult


def fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return fmt(value, digits)
    return f"{value:+.{digits}f}"


@dataclass(frozen=True)
class Row:
    metric: str
    candidate: str
    champion: str
    delta: str
    interval: str
    rule: str
    result: str


def table_rows(
    metrics: Sequence[str],
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    deltas: Mapping[str, DeltaStats],
    gates: Sequence[GateResult],
) -> list[Row]:
    rows: list[Row] = []
    for name in metrics:
        cand = candidate.get(name)
        champ = champion.get(name) if champion else None
        stats = deltas.get(name)
        delta = signed(cand - champ) if cand is not None and champ is not None else "—"
        interval = (
            f"[{signed(stats.ci_low)}, {signed(stats.ci_high)}]"
            if stats and math.isfinite(stats.ci_low)
            else "—"
        )
        own = [g for g in gates if g.rule.metric == name]
        base = (name, fmt(cand), fmt(champ), delta, interval)
        if not own:
            rows.append(Row(*base, "—", "—"))
        for gate in own:
            rows.append(Row(*base, gate.rule.label, result_text(gate)))
    return rows


def result_text(gate: GateResult) -> str:
    icon = {"pass": "✅ pass", "fail": "❌ fail", "skipped": "⏭️ skipped"}[gate.outcome]
    return f"{icon} ({gate.reason})" if gate.reason else icon


HEADERS = ("metric", "candidate", "champion", "delta", "{level} interval", "rule", "result")


def headers(confidence: float) -> list[str]:
    level = f"{confidence * 100:g}%"
    return [h.format(level=level) for h in HEADERS]


def markdown_table(rows: Sequence[Row], confidence: float) -> str:
    head = headers(confidence)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        cells = [
            row.metric,
            row.candidate,
            row.champion,
            row.delta,
            row.interval,
            row.rule,
            row.result,
        ]
        lines.append("| " + " | ".join(md_escape(c) for c in cells) + " |")
    return "\n".join(lines)


def comment_body(
    model_name: str,
    decision: str,
    passed: bool,
    *,
    rows: Sequence[Row],
    confidence: float,
    notes: Sequence[str],
) -> str:
    verdict = {
        "promote": "✅ **promote**: the candidate passed every gate",
        "no-champion": "🆕 **no champion** yet: absolute gates passed",
        "reject": "❌ **reject**: the candidate failed a gate",
    }[decision if passed or decision == "reject" else "reject"]
    # Registered model names are [A-Za-z0-9._-]; anything else cannot reach a code span.
    shown = re.sub(r"[^A-Za-z0-9._-]", "-", model_name)
    parts = [
        f"### modelship evaluate: `{shown}`",
        verdict,
        markdown_table(rows, confidence),
    ]
    if notes:
        parts.append("\n".join(f"- {md_escape(n)}" for n in notes))
    return "\n\n".join(parts) + "\n"


# --- SVG ----------------------------------------------------------------------------


def confusion_svg(matrix: np.ndarray, labels: Sequence[Any], title: str) -> str:
    """A confusion matrix (rows: true label, columns: predicted) as inline SVG."""
    n = int(matrix.shape[0])
    cell = 44 if n <= 6 else 28
    left, top = 110, 58
    width, height = left + n * cell + 20, top + n * cell + 20
    peak = max(int(matrix.max()), 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{left}" y="14" font-weight="bold">{html.escape(title)}</text>',
        f'<text x="{left}" y="30">predicted →</text>',
        f'<text x="4" y="{top - 6}">true ↓</text>',
    ]
    for j, label in enumerate(labels):
        x = left + j * cell + cell / 2
        out.append(
            f'<text x="{x}" y="{top - 6}" text-anchor="middle">{html.escape(str(label)[:8])}</text>'
        )
    for i, label in enumerate(labels):
        y = top + i * cell
        out.append(
            f'<text x="{left - 6}" y="{y + cell / 2 + 4}" text-anchor="end">'
            f"{html.escape(str(label)[:14])}</text>"
        )
        for j in range(n):
            count = int(matrix[i, j])
            shade = count / peak
            fill = f"rgba(9,105,218,{0.08 + 0.85 * shade:.3f})"
            ink = "#fff" if shade > 0.55 else "#1f2328"
            x = left + j * cell
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" '
                'stroke="#d0d7de"/>'
                f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" '
                f'fill="{ink}">'
                f"{count}</text>"
            )
    out.append("</svg>")
    return "".join(out)


def residual_svg(
    predicted: np.ndarray, actual: np.ndarray, title: str, max_points: int = 1500
) -> str:
    """Residuals (actual - predicted) against the prediction, as inline SVG."""
    import numpy as np

    residual = actual - predicted
    if predicted.size > max_points:
        pick = np.linspace(0, predicted.size - 1, max_points).astype(np.int64)
        predicted, residual = predicted[pick], residual[pick]
    width, height, pad = 420, 260, 40
    x_lo, x_hi = float(predicted.min()), float(predicted.max())
    r_max = float(np.abs(residual).max()) or 1.0
    x_span = (x_hi - x_lo) or 1.0

    def px(v: float) -> float:
        return pad + (v - x_lo) / x_span * (width - 2 * pad)

    def py(r: float) -> float:
        return height / 2 - r / r_max * (height / 2 - pad / 2)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{pad}" y="14" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{pad}" y1="{height / 2}" x2="{width - pad}" y2="{height / 2}" '
        'stroke="#57606a"/>',
        f'<text x="{width / 2}" y="{height - 4}" text-anchor="middle">predicted '
        f"({x_lo:.3g} … {x_hi:.3g})</text>",
        f'<text x="4" y="{pad}">+{r_max:.3g}</text>',
        f'<text x="4" y="{height - pad / 2}">-{r_max:.3g}</text>',
    ]
    out.extend(
        f'<circle cx="{px(float(x)):.1f}" cy="{py(float(r)):.1f}" r="1.8" '
        'fill="rgba(9,105,218,0.55)"/>'
        for x, r in zip(predicted, residual, strict=True)
    )
    out.append("</svg>")
    return "".join(out)


# --- JUnit ----------------------------------------------------------------------------


def write_junit(
    path: Path, suite: str, gates: Sequence[GateResult], error: str | None = None
) -> Path:
    """One test case per gate; a fail-closed error is one failing case of its own."""
    cases = ET.Element("testsuite", name=suite)
    failures = skipped = 0
    if error is not None:
        case = ET.SubElement(cases, "testcase", classname=suite, name="evaluation")
        ET.SubElement(case, "failure", message=error, type="fail-closed").text = error
        failures += 1
    for gate in gates:
        case = ET.SubElement(cases, "testcase", classname=suite, name=gate.rule.label)
        detail = (
            f"candidate={fmt(gate.candidate)} champion={fmt(gate.champion)} "
            f"threshold={fmt(gate.threshold)} {gate.reason}".strip()
        )
        if gate.outcome == "fail":
            ET.SubElement(
                case, "failure", message=gate.reason or "failed", type="gate"
            ).text = detail
            failures += 1
        elif gate.outcome == "skipped":
            ET.SubElement(case, "skipped", message=gate.reason)
            skipped += 1
        else:
            ET.SubElement(case, "system-out").text = detail
    total = len(gates) + (1 if error is not None else 0)
    cases.set("tests", str(total))
    cases.set("failures", str(failures))
    cases.set("errors", "0")
    cases.set("skipped", str(skipped))
    root = ET.Element("testsuites", name="modelship evaluate")
    root.append(cases)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
