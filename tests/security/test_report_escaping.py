"""Outside text in a report is shown as text, never read as markup.

Metric names come from thresholds, column names from the user's data, model
names from inputs. Each report is rendered with a name full of markup and
then read back as a reader sees it: HTML (and inline SVG) through an HTML
parser, Markdown through a CommonMark renderer with tables (markdown-it-py),
then the same parser. The name must come back as the exact text of its cell
or element, with no element of its own and without breaking its table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from modelship.ci.summary import Summary
from modelship.drift import check, issue
from modelship.drift import report as drift_report
from modelship.evaluation import report as evaluation_report

HOSTILE = (
    "<script>alert(1)</script> | pipes | ::set-output name=x::y "
    "`rm -rf /` **bold** _em_ [link](javascript:alert(1)) <img src=x onerror=alert(1)> &amp;"
)
# Elements the templates write themselves; anything else came from the text.
OWN_ELEMENTS = {
    "html", "head", "meta", "title", "style", "body", "h2", "h3", "h4", "p", "strong",
    "small", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "pre", "code", "em",
    "svg", "text", "rect", "line", "circle", "details", "summary",
}  # fmt: skip


@dataclass
class Page:
    """What a reader sees: the elements, and the text of each table cell and heading."""

    elements: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    tables: list[list[list[str]]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


TEXT_ELEMENTS = ("td", "th", "h2", "h3", "h4", "p", "li", "title", "code")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._open: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.page.elements.append(tag)
        self.page.attributes.extend(name for name, _ in attrs)
        if tag == "table":
            self.page.tables.append([])
        if tag == "tr":
            self.page.tables[-1].append([])
        if tag in TEXT_ELEMENTS:
            self._open.append((tag, []))

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1][0] != tag:
            return
        text = "".join(self._open.pop()[1]).strip()
        if tag in ("td", "th"):
            self.page.tables[-1][-1].append(text)
        self.page.texts.append(text)

    def handle_data(self, data: str) -> None:
        for _, parts in self._open:
            parts.append(data)


def read_html(text: str) -> Page:
    reader = _Reader()
    reader.feed(text)
    reader.close()
    return reader.page


def read_markdown(text: str) -> Page:
    return read_html(MarkdownIt("commonmark").enable("table").render(text))


def assert_inert(page: Page) -> None:
    assert set(page.elements) <= OWN_ELEMENTS, set(page.elements) - OWN_ELEMENTS
    assert not [a for a in page.attributes if a.startswith("on") or a == "src"]
    # Every row of a table has as many cells as its header: no pipe split a cell.
    for table in page.tables:
        assert {len(row) for row in table} == {len(table[0])}, table


def all_rows(page: Page) -> list[list[str]]:
    return [row for table in page.tables for row in table]


def _summary() -> Summary:
    summary = Summary(f"modelship evaluate {HOSTILE}")
    summary.heading(HOSTILE)
    summary.text(HOSTILE)
    summary.table(["metric", "value"], [[HOSTILE, HOSTILE], ["accuracy", "0.9"]])
    return summary


def test_hostile_names_in_a_stage_summary_render_as_text_in_markdown_and_html() -> None:
    summary = _summary()
    for page in (read_markdown(summary.render_markdown()), read_html(summary.render_html())):
        assert_inert(page)
        assert [HOSTILE, HOSTILE] in all_rows(page)
        assert ["accuracy", "0.9"] in all_rows(page)
        assert page.texts.count(HOSTILE) >= 4  # heading, paragraph, two cells


def test_a_hostile_metric_and_model_name_in_the_pr_comment_render_as_text() -> None:
    rows = evaluation_report.table_rows([HOSTILE], {HOSTILE: 0.9}, {HOSTILE: 0.8}, {}, [])
    body = evaluation_report.comment_body(
        f"model {HOSTILE}", "promote", True, rows=rows, confidence=0.95, notes=[HOSTILE]
    )
    page = read_markdown(body)
    assert_inert(page)
    assert [HOSTILE, "0.9000", "0.8000", "+0.1000", "—", "—", "—"] in all_rows(page)
    assert HOSTILE in page.texts  # the note
    # The model name sits in a code span, reduced to the characters a registered name has.
    assert "<script>" not in body
    assert page.elements.count("code") == 1


def test_hostile_class_labels_in_the_confusion_matrix_svg_render_as_text() -> None:
    import numpy as np

    svg = evaluation_report.confusion_svg(np.array([[3, 1], [0, 4]]), [HOSTILE, "b"], HOSTILE)
    page = read_html(svg)
    assert_inert(page)
    assert HOSTILE in page.texts  # the title


@pytest.fixture(scope="module")
def drifted_with_hostile_columns(tmp_path_factory: pytest.TempPathFactory) -> check.DriftResult:
    import numpy as np
    import pandas as pd

    folder: Path = tmp_path_factory.mktemp("drift")
    rng = np.random.default_rng(7)
    numeric, categorical = HOSTILE, f"category {HOSTILE}"
    reference = pd.DataFrame(
        {numeric: rng.normal(size=2000), categorical: rng.choice([HOSTILE, "a"], size=2000)}
    )
    current = reference.assign(**{numeric: reference[numeric] + 1.0})
    current[categorical] = rng.choice([HOSTILE, "b"], size=2000)
    reference.to_parquet(folder / "reference.parquet")
    current.to_parquet(folder / "current.parquet")
    return check.check(folder / "reference.parquet", folder / "current.parquet", check.Options())


def test_hostile_column_names_in_the_drift_report_render_as_text(
    drifted_with_hostile_columns: check.DriftResult,
) -> None:
    result = drifted_with_hostile_columns
    assert set(result.drifted_features) == {HOSTILE, f"category {HOSTILE}"}
    page = read_html(drift_report.render_html(result, f"model {HOSTILE}"))
    assert_inert(page)
    assert HOSTILE in [row[0] for row in all_rows(page)]
    assert f"Drift report: model {HOSTILE}" in page.texts


def test_hostile_column_names_in_the_drift_issue_render_as_text(
    drifted_with_hostile_columns: check.DriftResult,
) -> None:
    body = issue.issue_body(drifted_with_hostile_columns, f"model {HOSTILE}", True, "")
    page = read_markdown(body)
    assert_inert(page)
    assert HOSTILE in [row[0] for row in all_rows(page)]
    assert f"category {HOSTILE}" in [row[0] for row in all_rows(page)]
    # The model name is one code span showing the name as it is.
    assert page.elements.count("code") == 2  # the name, and `modelship monitor`
    assert f"model {HOSTILE}" in page.texts
