"""Every HTML, SVG and Markdown report is a Jinja2 template in `modelship/templates`.

HTML and SVG templates escape every value (autoescape; a template whose kind
is unknown is escaped too). Jinja2 has no Markdown escaping, so the Markdown
environment escapes every value with `md_escape` on its way out, unless the
template marks it with a filter saying why it is safe as it stands:

* `trusted`: text modelship wrote itself, or text placed where Markdown does
  not read it (inside a fence longer than any run of `~` in the text);
* `html_text`: text inside an HTML element of the Markdown (`<summary>`);
* `cell`: text from a stage declaration, in a table cell;
* `model_name`: a registered model name, in a code span;
* `code_span`: any text as a code span, fenced by more backticks than it holds.

A value left unmarked is escaped, so a forgotten filter shows a backslash,
never becomes markup or breaks a table. jinja2 is imported on the
first render: every stage writes a summary, but `--help` must stay light.
"""

from __future__ import annotations

import functools
import html
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

MARKDOWN_SUFFIX = ".md.j2"


class TrustedMarkdown(str):
    """Markdown that goes out as it is: a template said why it is safe."""

    __slots__ = ()


def md_escape(text: object) -> str:
    """Make untrusted text inert in a Markdown table cell or line."""
    out = html.escape(str(text), quote=False)
    for char in "|`*_[]<>":
        out = out.replace(char, "\\" + char)
    # Any line or paragraph separator, not only \n, would end a table row for
    # some renderer; control characters have no place in a report either.
    return "".join(" " if (c.isspace() or not c.isprintable()) and c != " " else c for c in out)


def _escape_unless_trusted(value: object) -> str:
    return value if isinstance(value, TrustedMarkdown) else md_escape(value)


def _trusted(value: object) -> TrustedMarkdown:
    return TrustedMarkdown(value)


def _html_text(value: object) -> TrustedMarkdown:
    return TrustedMarkdown(html.escape(str(value)))


def _cell(value: object) -> TrustedMarkdown:
    return TrustedMarkdown(str(value).replace("|", "\\|").replace("\n", " "))


def _model_name(value: object) -> TrustedMarkdown:
    # Registered model names are [A-Za-z0-9._-]; anything else cannot reach a code span.
    return TrustedMarkdown(re.sub(r"[^A-Za-z0-9._-]", "-", str(value)))


def _code_span(value: object) -> TrustedMarkdown:
    # A code span shows its content literally, up to a backtick run as long as
    # its fence; a line break could still end the paragraph, so none stays.
    text = "".join(c if c.isprintable() else " " for c in str(value))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return TrustedMarkdown(f"{fence}{padded}{fence}")


@functools.cache
def _environment(markdown: bool) -> jinja2.Environment:
    import jinja2

    common: dict[str, Any] = {
        "loader": jinja2.PackageLoader("modelship", "templates"),
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
        "undefined": jinja2.StrictUndefined,
    }
    if not markdown:
        # Every HTML or SVG template is escaped, and so is any template of another kind.
        return jinja2.Environment(
            autoescape=jinja2.select_autoescape(default_for_string=True, default=True), **common
        )
    # Markdown: HTML escaping would be the wrong rules; finalize escapes every value instead.
    env = jinja2.Environment(autoescape=False, finalize=_escape_unless_trusted, **common)  # noqa: S701
    env.filters.update(
        trusted=_trusted,
        html_text=_html_text,
        cell=_cell,
        model_name=_model_name,
        code_span=_code_span,
    )
    return env


def render(template: str, **context: Any) -> str:
    """Render `template` from modelship/templates; `.md.j2` is Markdown, the rest HTML/SVG."""
    return _environment(template.endswith(MARKDOWN_SUFFIX)).get_template(template).render(context)
