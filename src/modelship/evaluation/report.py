"""The evaluation report: the comparison table, plots as inline SVG, JUnit gates.

The table (metric | candidate | champion | delta | interval | rule | result)
goes to the step summary, the Markdown/HTML reports and the PR/MR comment.
The HTML report adds a confusion matrix (classification) or a residual plot
(regression) drawn as SVG from templates: no plotting library, no external assets.
Each gate is a JUnit test case so that GitLab's test widget lists it.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelship.templating import render

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


def comment_body(
    model_name: str,
    decision: str,
    passed: bool,
    *,
    rows: Sequence[Row],
    confidence: float,
    notes: Sequence[str],
) -> str:
    """The PR/MR comment: verdict, comparison table, notes (templates/evaluation/comment.md.j2)."""
    return render(
        "evaluation/comment.md.j2",
        model_name=model_name,
        verdict=decision if passed else "reject",
        headers=headers(confidence),
        rows=rows,
        notes=notes,
    )


# --- SVG ----------------------------------------------------------------------------


def confusion_svg(matrix: np.ndarray, labels: Sequence[Any], title: str) -> str:
    """A confusion matrix (rows: true label, columns: predicted) as inline SVG."""
    return render(
        "evaluation/confusion.svg.j2",
        title=title,
        labels=[str(label) for label in labels],
        counts=[[int(count) for count in row] for row in matrix.tolist()],
        peak=max(int(matrix.max()), 1),
        cell=44 if int(matrix.shape[0]) <= 6 else 28,
        left=110,
        top=58,
    )


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
    xs = pad + (predicted - x_lo) / x_span * (width - 2 * pad)
    ys = height / 2 - residual / r_max * (height / 2 - pad / 2)
    return render(
        "evaluation/residuals.svg.j2",
        title=title,
        width=width,
        height=height,
        pad=pad,
        x_range=f"{x_lo:.3g} … {x_hi:.3g}",
        r_max=f"{r_max:.3g}",
        points=[(f"{x:.1f}", f"{y:.1f}") for x, y in zip(xs.tolist(), ys.tolist(), strict=True)],
    )


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
