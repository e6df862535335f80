"""The human report of a stage: one structure, rendered as Markdown and HTML.

Markdown goes to `$GITHUB_STEP_SUMMARY` (truncated with a visible note before
GitHub's 1 MiB limit) and, on every platform, to
`modelship-reports/<stage>.md` beside a standalone `<stage>.html`, which GitLab
keeps as artifacts. Stages add blocks; nothing here parses Markdown.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# GitHub rejects a step summary over 1 MiB; stay clear of it.
STEP_SUMMARY_LIMIT = 1024 * 1024 - 16 * 1024
TRUNCATION_NOTE = (
    "\n\n> **Note:** this summary was truncated; the full report is in the job's artifacts.\n"
)


def md_escape(text: str) -> str:
    """Make untrusted text inert in a Markdown table cell or line."""
    out = html.escape(str(text), quote=False)
    for char in "|`*_[]<>":
        out = out.replace(char, "\\" + char)
    # Any line or paragraph separator, not only \n, would end a table row for
    # some renderer; control characters have no place in a report either.
    return "".join(" " if (c.isspace() or not c.isprintable()) and c != " " else c for c in out)


@dataclass
class Block:
    markdown: str
    html: str


@dataclass
class Summary:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def heading(self, text: str, level: int = 3) -> None:
        self.blocks.append(
            Block(f"{'#' * level} {md_escape(text)}", f"<h{level}>{html.escape(text)}</h{level}>")
        )

    def text(self, text: str) -> None:
        """Plain text; escaped in both renderings."""
        self.blocks.append(Block(md_escape(text), f"<p>{html.escape(text)}</p>"))

    def markdown(self, markdown: str, html_text: str | None = None) -> None:
        """Trusted Markdown written by modelship itself (never user data)."""
        self.blocks.append(Block(markdown, html_text or f"<p>{html.escape(markdown)}</p>"))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        head = "| " + " | ".join(md_escape(h) for h in headers) + " |"
        rule = "|" + "|".join("---" for _ in headers) + "|"
        body = ["| " + " | ".join(md_escape(str(c)) for c in row) + " |" for row in rows]
        th = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        trs = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
            for row in rows
        )
        self.blocks.append(
            Block(
                "\n".join([head, rule, *body]),
                f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>",
            )
        )

    def code(self, text: str, title: str | None = None) -> None:
        """A fenced block of untrusted output, e.g. the tail of a failing command."""
        fence = "~~~~"
        while fence in text:
            fence += "~"
        md = f"{fence}\n{text.rstrip()}\n{fence}"
        if title:
            md = f"<details><summary>{html.escape(title)}</summary>\n\n{md}\n\n</details>"
        self.blocks.append(Block(md, f"<pre>{html.escape(text)}</pre>"))

    def html_only(self, fragment: str) -> None:
        """Rich content (plots) for the HTML report only."""
        self.blocks.append(Block("", fragment))

    def render_markdown(self) -> str:
        parts = [f"## {md_escape(self.title)}"]
        parts.extend(b.markdown for b in self.blocks if b.markdown)
        return "\n\n".join(parts) + "\n"

    def render_html(self) -> str:
        body = "\n".join(b.html for b in self.blocks)
        return (
            "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head>"
            f"<body><h2>{html.escape(self.title)}</h2>\n{body}\n</body></html>\n"
        )


def truncate_for_step_summary(markdown: str, limit: int = STEP_SUMMARY_LIMIT) -> str:
    encoded = markdown.encode("utf-8")
    if len(encoded) <= limit:
        return markdown
    budget = limit - len(TRUNCATION_NOTE.encode("utf-8"))
    cut = encoded[:budget].decode("utf-8", errors="ignore")
    # Cut at a line end so a table row is never half-rendered.
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return cut + TRUNCATION_NOTE


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


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#1f2328}"
    "table{border-collapse:collapse;margin:1rem 0}"
    "th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}"
    "th{background:#f6f8fa}pre{background:#f6f8fa;padding:1rem;overflow:auto}"
)
