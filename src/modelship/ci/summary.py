"""The human report of a stage: one structure, rendered as Markdown and HTML.

Markdown goes to `$GITHUB_STEP_SUMMARY` (truncated with a visible note before
GitHub's 1 MiB limit) and, on every platform, to
`modelship-reports/<stage>.md` beside a standalone `<stage>.html`, which GitLab
keeps as artifacts. Stages add blocks; nothing here parses Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from modelship.templating import render

# GitHub rejects a step summary over 1 MiB; stay clear of it.
STEP_SUMMARY_LIMIT = 1024 * 1024 - 16 * 1024


@dataclass(frozen=True)
class Block:
    """One part of a report; the templates summary.md.j2 and summary.html.j2 lay it out.

    `fragment` (kind "html") is markup rendered by a modelship template, shown
    in the HTML report only.
    """

    kind: Literal["heading", "text", "table", "code", "html"]
    text: str = ""
    level: int = 3
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    title: str = ""
    fence: str = ""


@dataclass
class Summary:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def heading(self, text: str, level: int = 3) -> None:
        self.blocks.append(Block("heading", text=text, level=level))

    def text(self, text: str) -> None:
        """Plain text; escaped in both renderings."""
        self.blocks.append(Block("text", text=text))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.blocks.append(
            Block(
                "table",
                headers=tuple(str(h) for h in headers),
                rows=tuple(tuple(str(c) for c in row) for row in rows),
            )
        )

    def code(self, text: str, title: str | None = None) -> None:
        """A fenced block of untrusted output, e.g. the tail of a failing command."""
        fence = "~~~~"
        while fence in text:
            fence += "~"
        self.blocks.append(Block("code", text=text, title=title or "", fence=fence))

    def html_only(self, fragment: str) -> None:
        """Rich content (plots) rendered by a modelship template, for the HTML report only."""
        self.blocks.append(Block("html", text=fragment))

    def render_markdown(self) -> str:
        return render("summary.md.j2", title=self.title, blocks=self.blocks)

    def render_html(self) -> str:
        return render("summary.html.j2", title=self.title, blocks=self.blocks)


def truncate_for_step_summary(markdown: str, limit: int = STEP_SUMMARY_LIMIT) -> str:
    encoded = markdown.encode("utf-8")
    if len(encoded) <= limit:
        return markdown
    note = render("summary-truncated.md.j2")
    budget = limit - len(note.encode("utf-8"))
    cut = encoded[:budget].decode("utf-8", errors="ignore")
    # Cut at a line end so a table row is never half-rendered.
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return cut + note


def write_reports(summary: Summary, directory: Path, stage: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    md_path = directory / f"{stage}.md"
    html_path = directory / f"{stage}.html"
    md_path.write_text(summary.render_markdown(), encoding="utf-8")
    html_path.write_text(summary.render_html(), encoding="utf-8")
    return md_path, html_path


def append_step_summary(path: Path, markdown: str) -> None:
    existing = path.stat().st_size if path.exists() else 0
    text = truncate_for_step_summary(markdown, max(STEP_SUMMARY_LIMIT - existing, 4096))
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
