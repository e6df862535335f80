"""Any failure as one `error:` line and an exit code: never a traceback.

A `ModelshipError` already says what went wrong. Anything else is named by the
system it came from (the library that raised it) or, when it is bad input in
disguise (a file that is not UTF-8, a folder where a file was expected), as a
usage error; what remains is a bug in modelship, named with where it happened
so that it can be reported without a traceback in the log.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

from modelship.ci.errors import EXIT_EXTERNAL, EXIT_USAGE, ModelshipError

# The library an exception comes from, as the system a user recognises.
_SYSTEMS = {
    "mlflow": "MLflow",
    "requests": "an HTTP server",
    "urllib3": "an HTTP server",
    "http": "an HTTP server",
    "kubernetes": "the Kubernetes API",
    "docker": "the Docker Engine",
    "sqlalchemy": "the MLflow store",
    "dvc": "DVC",
    "git": "git",
    "prometheus_client": "the Pushgateway",
    "botocore": "object storage",
    "boto3": "object storage",
}
# Libraries whose errors mean the user's input could not be read.
_INPUT_FORMATS = {
    "yaml": "YAML",
    "json": "JSON",
    "pandas": "the data file",
    "pyarrow": "the data file",
}

MAX_MESSAGE = 500


@dataclass(frozen=True)
class Failure:
    line: str
    exit_code: int


def describe(err: BaseException, stage: str) -> Failure:
    """The one line and the exit code for `err`, raised while running `stage`."""
    if isinstance(err, ModelshipError):
        return Failure(err.line(), err.exit_code)
    message = _message(err)
    if isinstance(err, UnicodeError):
        return Failure(f"{stage}: a file or value is not valid UTF-8 text: {message}", EXIT_USAGE)
    if isinstance(err, (IsADirectoryError, NotADirectoryError)):
        return Failure(f"{stage}: {_os_line(err)} (a file was expected)", EXIT_USAGE)
    root = type(err).__module__.split(".")[0]
    if root in _INPUT_FORMATS:
        return Failure(f"{stage}: {_INPUT_FORMATS[root]} could not be read: {message}", EXIT_USAGE)
    if root in _SYSTEMS:
        return Failure(f"{stage}: {_SYSTEMS[root]} failed: {message}", EXIT_EXTERNAL)
    if isinstance(err, OSError):
        return Failure(f"{stage}: system error: {_os_line(err)}", EXIT_EXTERNAL)
    return Failure(
        f"{stage}: unexpected error {type(err).__name__}: {message} at {_where(err)} "
        "(this is a bug in modelship; please report it with this line)",
        EXIT_EXTERNAL,
    )


def _message(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _os_line(err: OSError) -> str:
    name = f" {err.filename!s}" if err.filename else ""
    return f"{err.strerror or _message(err)}:{name}" if name else (err.strerror or _message(err))


def _where(err: BaseException) -> str:
    """Where it was raised, as `module.py:line`, and the innermost modelship frame."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return "an unknown place"
    raised = frames[-1]
    where = f"{Path(raised.filename).name}:{raised.lineno}"
    ours = [f for f in frames if "modelship" in Path(f.filename).parts]
    if ours and ours[-1] is not raised:
        where += f" (in {Path(ours[-1].filename).name}:{ours[-1].lineno})"
    return where
