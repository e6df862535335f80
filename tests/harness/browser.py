"""Open a report in headless Chromium, as a user's browser would, and read what it built.

`--dump-dom` prints the document Chromium made of the page after parsing it
(HTML and inline SVG), so a test sees the tables and charts a reader sees,
not the text modelship wrote.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

# Headless, no sandbox (tests run as root), and nothing that reaches the network.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
SHAPES = frozenset({"rect", "circle", "line", "path", "polyline", "polygon"})


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (make deps installs the Debian package chromium)")


def rendered_dom(page: Path, profile: Path) -> str:
    """The page's document as Chromium built it."""
    done = subprocess.run(
        [chromium_binary(), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@dataclass
class Table:
    headers: list[str] = field(default_factory=list)
    rows: int = 0


@dataclass
class Page(HTMLParser):
    """Tables (header texts, body rows) and charts (shapes per inline SVG) of a document."""

    tables: list[Table] = field(default_factory=list)
    charts: list[int] = field(default_factory=list)
    _open: list[str] = field(default_factory=list)
    _cell: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append(Table())
        elif tag == "svg":
            self.charts.append(0)
        elif tag in SHAPES and "svg" in self._open:
            self.charts[-1] += 1
        elif tag == "tr" and self.tables and "tbody" in self._open:
            self.tables[-1].rows += 1
        elif tag == "th":
            self._cell = []
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]
        if tag == "th" and self.tables:
            self.tables[-1].headers.append("".join(self._cell).strip())

    def handle_data(self, data: str) -> None:
        if "th" in self._open:
            self._cell.append(data)


def read_page(dom: str) -> Page:
    page = Page()
    page.feed(dom)
    page.close()
    return page
