"""Following a Job: its and its pods' watch events and the pods' logs, through one queue.

Two threads watch (the Job, its pods), one more per started pod follows its
log; they only put what they see into the queue. The caller's thread takes
from it, writes the log lines and decides, so all decisions happen in one place.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from modelship.kube.api import Kube, KubeError
from modelship.kube.jobs.manifest import CONTAINER
from modelship.kube.jobs.result import JobResult, JobState, stuck
from modelship.kube.watching import ObjectWatch, follow_log, new_watch

# Seconds to let the log streams drain after the Job has finished.
LOG_DRAIN = 10.0
# Each watch request lasts this long, then resumes from its last resourceVersion.
WATCH_SECONDS = 30


class JobFollower:
    def __init__(self, kube: Kube, namespace: str, name: str, created: dict[str, Any]) -> None:
        self.kube = kube
        self.namespace = namespace
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.state = JobState()
        self.stopping = threading.Event()
        self.followers = 0
        self._followed: set[str] = set()
        self._log_watches: list[Any] = []
        version = str(created.get("metadata", {}).get("resourceVersion", "")) or None
        self._watches = {
            "jobs": ObjectWatch(
                kube, "batch/v1", "Job", namespace, field_selector=f"metadata.name={name}"
            ),
            "pods": ObjectWatch(kube, "v1", "Pod", namespace, label_selector=f"job-name={name}"),
        }
        for watch in self._watches.values():
            watch.restart_from(version)

    def start(self) -> None:
        # Discover before the threads start, so they do not race to fill the cache.
        for watch in self._watches.values():
            self.kube.resource(watch.api_version, watch.kind)
        for topic, watch in self._watches.items():
            threading.Thread(
                target=self._watch, args=(topic, watch), daemon=True, name="modelship-kube-watch"
            ).start()

    def stop(self) -> None:
        self.stopping.set()
        for watch in self._watches.values():
            watch.stop()
        for log_watch in list(self._log_watches):
            log_watch.stop()

    def _watch(self, topic: str, watch: ObjectWatch) -> None:
        """Put watch events into the queue, resuming from the last resourceVersion."""
        while not self.stopping.is_set():
            try:
                for etype, obj in watch.events(WATCH_SECONDS, bookmarks=True):
                    self.events.put((topic, (etype, obj)))
            except KubeError as err:
                if err.status == 410:  # too old: start again from now
                    watch.restart_from(None)
                    continue
                self._report(err)
                return
            except Exception as err:  # reported to the main thread, which decides
                self._report(err)
                return

    def _report(self, err: Exception) -> None:
        if not self.stopping.is_set():
            self.events.put(("error", err))

    def _follow_log(self, pod: str) -> None:
        log_watch = new_watch()
        self._log_watches.append(log_watch)
        try:
            for line in follow_log(self.kube, self.namespace, pod, CONTAINER, log_watch):
                if self.stopping.is_set():
                    break
                self.events.put(("log", (pod, line)))
        except Exception as err:  # a pod deleted meanwhile; the Job's status still decides
            text = str(err)[:200]
            if getattr(err, "status", None) == 403:
                text += " (the Role needs get on pods/log: docs/training-at-scale.md)"
            self.events.put(("log-error", (pod, text)))
        finally:
            self.events.put(("log-end", pod))

    def wait(
        self,
        timeout: float | None,
        write: Callable[[str], Any],
        tail: collections.deque[str],
        note: Callable[[str], Any],
    ) -> JobResult:
        """Write the pods' output as it comes and return once the Job has a result."""
        deadline = time.monotonic() + timeout if timeout else None
        finished: JobResult | None = None
        drain_until = 0.0
        while True:
            now = time.monotonic()
            if finished is not None and (self.followers == 0 or now >= drain_until):
                return finished
            if finished is None and deadline is not None and now >= deadline:
                return self.state.timed_out(timeout or 0.0)
            limit = drain_until if finished is not None else deadline
            try:
                kind, payload = self.events.get(
                    timeout=None if limit is None else max(0.0, limit - now)
                )
            except queue.Empty:
                continue
            decided = self._handle(kind, payload, write, tail, note)
            if decided is None or finished is not None:
                continue
            result, drain_logs = decided
            if not drain_logs:
                return result
            finished = result
            drain_until = time.monotonic() + LOG_DRAIN

    def _handle(
        self,
        kind: str,
        payload: Any,
        write: Callable[[str], Any],
        tail: collections.deque[str],
        note: Callable[[str], Any],
    ) -> tuple[JobResult, bool] | None:
        """Act on one queued event; (result, drain the logs first) when it decides the end."""
        if kind == "log":
            _pod, line = payload
            write(line + "\n")
            tail.append(line)
        elif kind == "log-end":
            self.followers -= 1
        elif kind == "log-error":
            note(f"cannot follow the log of pod {payload[0]}: {payload[1]}")
        elif kind == "error":
            raise payload
        elif kind == "pods":
            blocked = self._pod_event(payload[0], payload[1], note)
            return (blocked, False) if blocked else None
        elif kind == "jobs":
            etype, job = payload
            if etype == "DELETED":
                return JobResult(1, "the Job was deleted by someone else"), False
            done = self.state.finished(job)
            return (done, True) if done else None
        return None

    def _pod_event(
        self, etype: str, pod: dict[str, Any], note: Callable[[str], Any]
    ) -> JobResult | None:
        view = self.state.pod_changed(etype, pod)
        if etype == "DELETED":
            return None
        if view.started and view.name not in self._followed:
            self._followed.add(view.name)
            self.followers += 1
            note(f"pod {view.name} started; its output follows")
            threading.Thread(
                target=self._follow_log, args=(view.name,), daemon=True, name="modelship-pod-log"
            ).start()
        return stuck(view)
