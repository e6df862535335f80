"""Running a user's command: output streamed live, its tail kept, bounded in time."""

from __future__ import annotations

import collections
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from modelship.ci.errors import UsageError
from modelship.ci.log import Logger

TAIL_LINES = 40


@dataclass(frozen=True)
class Completed:
    returncode: int
    tail: str
    seconds: float
    timed_out: bool


def split_command(command: str, what: str = "command") -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise UsageError(f"input '{what}' is not a valid command line: {err}") from None
    if not argv:
        raise UsageError(f"input '{what}' is empty")
    return argv


def run_streaming(
    argv: list[str],
    cwd: Path,
    env: Mapping[str, str],
    log: Logger,
    timeout: float | None = None,
) -> Completed:
    """Run without a shell; stream stdout+stderr into the log, fenced as untrusted."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,  # so a timeout can stop the whole process group
        )
    except FileNotFoundError:
        raise UsageError(
            f"command not found: {argv[0]}", "install it or check the command input"
        ) from None
    except PermissionError:
        raise UsageError(f"command is not executable: {argv[0]}") from None

    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, stop) if timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        with log.fenced() as write:
            assert proc.stdout is not None
            for line in proc.stdout:
                write(line)
                tail.append(log.redact(line.rstrip("\n")))
        proc.wait()
    except KeyboardInterrupt:
        _kill_group(proc)
        raise
    finally:
        if timer:
            timer.cancel()
    return Completed(
        proc.returncode, "\n".join(tail), time.monotonic() - started, timed_out.is_set()
    )


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """A cancelled CI job gets SIGTERM: treat it as Ctrl-C, so the work in
    progress (a training process group, a Kubernetes Job) is stopped and
    cleaned up rather than left running. Only the main thread can set handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
