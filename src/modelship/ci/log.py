"""Logging, annotations and masking.

Everything goes to stderr, so that `--json` leaves stdout to the outputs
object alone; the Actions runner reads workflow commands from both streams.
Secrets are registered with `::add-mask::` before anything else is printed and
are also redacted by the logger itself, for GitLab and local runs where no
runner masks them.
"""

from __future__ import annotations

import json
import re
import secrets as _secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TextIO

from modelship.ci.redact import MIN_SECRET_LENGTH, derive_secrets, redact_urls_in_text

LogFormat = Literal["text", "json"]
Level = Literal["debug", "info", "notice", "warning", "error"]

_ANNOTATION_LEVELS = {"notice": "notice", "warning": "warning", "error": "error"}


def escape_data(text: str) -> str:
    """Workflow-command data escaping, as @actions/core does it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(neutralise(text)).replace(":", "%3A").replace(",", "%2C")


# Characters that end a line for some reader (the Actions runner splits on CR,
# browsers and Python on U+2028/U+0085 ...), steer a terminal (ESC) or reorder
# text (bidi controls). Tab is the only control character kept.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEPING_NEWLINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b"}
# GitLab folds a log on these markers; a value must not open or close a section.
_SECTION_MARKER = re.compile(r"section_(start|end):", re.IGNORECASE)
# What the Actions runner reads as a command once leading blanks are trimmed:
# `::name::` and the older `##[name]` form.
_COMMAND_START = ("::", "##[")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    named = _NAMED.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralise(text: str, keep_newlines: bool = False) -> str:
    """Text made inert for every CI log: no line break, control character or marker.

    Line breaks and control characters are shown escaped (`\\n`, `\\x1b`),
    GitLab section markers are broken, and with `keep_newlines` only `\\n`
    survives (for text whose every line is checked again by `inert_line`).
    """
    pattern = _UNSAFE_KEEPING_NEWLINES if keep_newlines else _UNSAFE
    text = pattern.sub(_escape_char, text)
    return _SECTION_MARKER.sub(lambda m: f"section_{m.group(1)}\\:", text)


def inert_line(line: str) -> str:
    """A log line that the Actions runner cannot read as a workflow command."""
    if line.lstrip().startswith(_COMMAND_START):
        return "\\" + line
    return line


class Logger:
    def __init__(
        self,
        platform: str = "local",
        fmt: LogFormat = "text",
        stream: TextIO | None = None,
        verbose: bool = False,
        stage: str = "",
    ) -> None:
        self.platform = platform
        self.fmt = fmt
        self.stream = stream if stream is not None else sys.stderr
        self.verbose = verbose
        self.stage = stage
        self._secrets: list[str] = []
        self._console: Any = None
        # The resume token of an open `::stop-commands::` fence, if any.
        self._fence: str | None = None

    # -- secrets -----------------------------------------------------------
    def mask(self, value: str) -> None:
        """Register a secret: the secret values it holds are masked and redacted.

        A multi-line value (a kubeconfig, a PEM key) is not masked line by
        line: only the values inside it that are secret are, so structural
        lines such as `apiVersion: v1` stay readable. See `derive_secrets`.
        """
        whole = value.strip()
        if "\n" in whole and len(whole) >= MIN_SECRET_LENGTH:
            # Our own redaction also covers the value whole (e.g. in a report).
            self._remember(whole)
        for secret in derive_secrets(value):
            if self._remember(secret) and self.platform == "github":
                self._github_command(f"::add-mask::{escape_data(secret)}")

    def _remember(self, secret: str) -> bool:
        if len(secret) < MIN_SECRET_LENGTH or secret in self._secrets:
            # A one- or two-character "secret" would redact half the log.
            return False
        self._secrets.append(secret)
        # Longest first, so a secret that contains another is redacted whole.
        self._secrets.sort(key=len, reverse=True)
        return True

    def redact(self, text: str) -> str:
        """Secrets and URL user-info replaced by `***`."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return redact_urls_in_text(text)

    def _github_command(self, line: str) -> None:
        """A command modelship means to issue, outside any `::stop-commands::` fence.

        The runner ignores commands inside a fence, an `::add-mask::` included;
        an open fence is closed for the command and opened again after it.
        """
        token = self._fence
        if token is not None:
            self.stream.write("\n")
            self._raw(f"::{token}::")
        self._raw(line)
        if token is not None:
            self._fence = _secrets.token_hex(16)
            self._raw(f"::stop-commands::{self._fence}")

    # -- plain logging -----------------------------------------------------
    def _raw(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def _console_for(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=True)
        return self._console

    def clean(self, text: str) -> str:
        """Outside text made safe for one log line: redacted, then neutralised."""
        return neutralise(self.redact(str(text)))

    def log(self, level: Level, message: str, **fields: Any) -> None:
        if level == "debug" and not self.verbose:
            return
        message = self.clean(message)
        if self.fmt == "json":
            record = {"ts": round(time.time(), 3), "level": level, "stage": self.stage}
            record["msg"] = message
            record.update({k: self.clean(str(v)) for k, v in fields.items()})
            self._raw(json.dumps(record, ensure_ascii=False))
            return
        styles = {
            "debug": "dim",
            "info": "",
            "notice": "cyan",
            "warning": "yellow",
            "error": "bold red",
        }
        prefix = {"warning": "warning: ", "error": "error: "}.get(level, "")
        extra = "".join(f" {self.clean(k)}={self.clean(str(v))}" for k, v in fields.items())
        console = self._console_for()
        from rich.text import Text

        console.print(Text(inert_line(prefix + message + extra), style=styles[level]))

    def debug(self, message: str, **fields: Any) -> None:
        self.log("debug", message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        self.log("info", message, **fields)

    def notice(self, message: str, **fields: Any) -> None:
        self.annotate("notice", message)

    def warning(self, message: str, **fields: Any) -> None:
        self.annotate("warning", message)

    def error(self, message: str, **fields: Any) -> None:
        self.annotate("error", message)

    def annotate(
        self,
        level: Literal["notice", "warning", "error"],
        message: str,
        file: str | None = None,
        line: int | None = None,
        title: str | None = None,
    ) -> None:
        """An annotation on GitHub; a coloured line elsewhere.

        The message keeps its line breaks only as `%0A` inside the one command
        line; every other control character is shown escaped.
        """
        message = neutralise(self.redact(message), keep_newlines=True)
        if self.platform == "github":
            props = []
            if file:
                props.append(f"file={escape_property(self.redact(file))}")
            if line:
                props.append(f"line={line}")
            if title:
                props.append(f"title={escape_property(self.redact(title))}")
            head = f"::{_ANNOTATION_LEVELS[level]}"
            head += (" " + ",".join(props)) if props else ""
            self._raw(f"{head}::{escape_data(message)}")
            if self.fmt != "json":
                return
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        self.log(level, where + message)

    # -- untrusted text ----------------------------------------------------
    def untrusted(self, text: str) -> None:
        """Echo text we did not write (file contents, command output).

        On GitHub it is fenced with `::stop-commands::` so that a line such as
        `::add-path::` or `::set-env::` inside it is printed, not obeyed.
        Elsewhere its control characters and GitLab section markers are escaped.
        """
        with self.fenced() as write:
            write(text if text.endswith("\n") else text + "\n")

    @contextmanager
    def fenced(self) -> Iterator[Callable[[str], None]]:
        """Stream untrusted text line by line inside one `::stop-commands::` fence."""
        github = self.platform == "github"
        if github:
            self._fence = _secrets.token_hex(16)
            self._raw(f"::stop-commands::{self._fence}")

        ended = [True]

        def write(text: str) -> None:
            text = self.redact(text)
            if not text:
                return
            self.stream.write(text if github else neutralise(text, keep_newlines=True))
            self.stream.flush()
            ended[0] = text.endswith("\n")

        try:
            yield write
        finally:
            if github and self._fence is not None:
                if not ended[0]:
                    # The resume command must start a line of its own.
                    self.stream.write("\n")
                self._raw(f"::{self._fence}::")
                self._fence = None

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible log group on GitHub, a section elsewhere."""
        title = self.clean(title)
        if self.platform == "github":
            self._raw(f"::group::{escape_data(title)}")
        elif self.platform == "gitlab":
            key = f"modelship_{_secrets.token_hex(4)}"
            self._raw(f"\x1b[0Ksection_start:{int(time.time())}:{key}\r\x1b[0K{title}")
        else:
            self.info(title)
        started = time.monotonic()
        try:
            yield
        finally:
            if self.platform == "github":
                self._raw("::endgroup::")
            elif self.platform == "gitlab":
                self._raw(f"\x1b[0Ksection_end:{int(time.time())}:{key}\r\x1b[0K")
            self.debug(f"{title} took {time.monotonic() - started:.1f}s")

    @contextmanager
    def progress(self, description: str) -> Iterator[None]:
        """A spinner on a terminal; a start line and a timing line on CI logs."""
        if self.fmt == "text" and self.platform == "local" and self.stream.isatty():
            with self._console_for().status(description):
                yield
            return
        self.info(description + " ...")
        started = time.monotonic()
        yield
        self.info(f"{description}: done in {time.monotonic() - started:.1f}s")
