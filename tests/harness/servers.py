"""The one way tests run a server process: start it with its own environment,
wait until it answers, stop it and everything it started, and show the end
of its log when it fails to come up."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

LOG_TAIL_CHARS = 3000
T = TypeVar("T")


class ServerFailed(RuntimeError):
    """The server exited or did not answer in time; the message ends with its log."""


def http_answers(url: str) -> bool:
    """True once `url` gives any HTTP answer (an error status counts: it is listening)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class ServerProcess:
    """`argv` in a process group of its own, its output in `log`.

    Use as a context manager, or call `start` and `stop`. `env` is the whole
    environment of the process (None: this process's own); the group is
    stopped with SIGTERM, then SIGKILL after `stop_timeout` seconds, so
    workers the server forked go with it.
    """

    def __init__(
        self,
        argv: Sequence[str],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_timeout: float = 30,
    ) -> None:
        self.argv = [str(arg) for arg in argv]
        self.log = log
        self.env = None if env is None else dict(env)
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self) -> ServerProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        if not self.log.exists():
            return ""
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]

    def wait_until(self, ready: Callable[[], T], timeout: float, what: str) -> T:
        """Poll `ready` until it gives a true value, and return that; fail
        with the log tail when the process exits first or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while not (answer := ready()):
            if not self.running():
                code = None if self.proc is None else self.proc.returncode
                self._fail(f"exited ({code}) before {what}")
            if time.monotonic() > deadline:
                self._fail(f"no {what} within {timeout}s")
            time.sleep(0.2)
        return answer

    def _fail(self, why: str) -> NoReturn:
        raise ServerFailed(f"{self.argv[0]}: {why}; the end of its log:\n{self.log_tail()}")

    def wait_http(self, url: str, timeout: float = 60) -> None:
        self.wait_until(lambda: http_answers(url), timeout, f"answer at {url}")

    def wait_log(self, pattern: str, timeout: float = 60) -> None:
        """Wait until a line of the log matches the regular expression `pattern`."""
        found = re.compile(pattern, re.MULTILINE)
        self.wait_until(lambda: bool(found.search(self.log_tail(1 << 20))), timeout, repr(pattern))

    def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait()

    def _signal_group(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # the whole group is already gone
            os.killpg(self.pid, signum)

    def __enter__(self) -> ServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
