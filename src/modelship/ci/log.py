"""Logging, annotations and masking.

Everything goes to stderr, so that `--json` leaves stdout to the outputs
object alone; the Actions runner reads workflow commands from both streams.
Secrets are registered with `::add-mask::` before anything else is printed and
are also redacted by the logger itself, for GitLab and local runs where no
runner masks them.
"""

from __future__ import annotations

import json
import secrets as _secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]
Level = Literal["debug", "info", "notice", "warning", "error"]

_ANNOTATION_LEVELS = {"notice": "notice", "warning": "warning", "error": "error"}


def escape_data(text: str) -> str:
    """Workflow-command data escaping, as @actions/core does it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


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

    # -- secrets -----------------------------------------------------------
    def mask(self, value: str) -> None:
        """Register a secret: every line of it is masked and redacted."""
        for line in value.splitlines() or [value]:
            line = line.strip()
            if len(line) < 3 or line in self._secrets:
                # A one- or two-character "secret" would redact half the log.
                continue
            self._secrets.append(line)
            if self.platform == "github":
                self._raw(f"::add-mask::{escape_data(line)}")
        # Longest first, so a secret that contains another is redacted whole.
        self._secrets.sort(key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- plain logging -----------------------------------------------------
    def _raw(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def _console_for(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=True)
        return self._console

    def log(self, level: Level, message: str, **fields: Any) -> None:
        if level == "debug" and not self.verbose:
            return
        message = self.redact(message)
        if self.fmt == "json":
            record = {"ts": round(time.time(), 3), "level": level, "stage": self.stage}
            record["msg"] = message
            record.update({k: self.redact(str(v)) for k, v in fields.items()})
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
        extra = "".join(f" {k}={self.redact(str(v))}" for k, v in fields.items())
        console = self._console_for()
        from rich.text import Text

        console.print(Text(prefix + message + extra, style=styles[level]))

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
        """An annotation on GitHub; a coloured line elsewhere."""
        message = self.redact(message)
        if self.platform == "github":
            props = []
            if file:
                props.append(f"file={escape_property(file)}")
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
        """
        text = self.redact(text)
        if self.platform == "github":
            token = _secrets.token_hex(16)
            self._raw(f"::stop-commands::{token}")
            self.stream.write(text if text.endswith("\n") else text + "\n")
            self._raw(f"::{token}::")
        else:
            self.stream.write(text if text.endswith("\n") else text + "\n")
            self.stream.flush()

    @contextmanager
    def fenced(self) -> Iterator[Callable[[str], None]]:
        """Stream untrusted text line by line inside one `::stop-commands::` fence."""
        token = _secrets.token_hex(16)
        if self.platform == "github":
            self._raw(f"::stop-commands::{token}")

        def write(text: str) -> None:
            self.stream.write(self.redact(text))
            self.stream.flush()

        try:
            yield write
        finally:
            if self.platform == "github":
                self.stream.write("\n")
                self._raw(f"::{token}::")

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible log group on GitHub, a section elsewhere."""
        title = self.redact(title)
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
