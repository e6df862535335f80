"""Errors that end a stage, each with the exit code the architecture assigns."""

from __future__ import annotations

EXIT_OK = 0
EXIT_GATE = 1
EXIT_USAGE = 2
EXIT_EXTERNAL = 3


class ModelshipError(Exception):
    """A failure with one clear line for the user, and optionally what to do."""

    exit_code = EXIT_EXTERNAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class GateFailed(ModelshipError):
    """A gate said no: tests failed, the candidate is worse, drift was found."""

    exit_code = EXIT_GATE


class UsageError(ModelshipError):
    """Bad input or usage: the user has to change what they passed."""

    exit_code = EXIT_USAGE


class ExternalError(ModelshipError):
    """An external system (tracking server, registry, cluster) failed."""

    exit_code = EXIT_EXTERNAL
