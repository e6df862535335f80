"""What the Job's and its pods' watch events mean: running, stuck, finished or timed out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Waiting reasons that do not go away by waiting longer.
STUCK = {
    "ErrImagePull": "the image cannot be pulled",
    "ImagePullBackOff": "the image cannot be pulled",
    "InvalidImageName": "the image name is invalid",
    "CreateContainerConfigError": "the container cannot be configured",
    "CreateContainerError": "the container cannot be created",
}


@dataclass
class JobResult:
    """How following a Job ended; `delete` when the Job must not run on."""

    exit_code: int
    reason: str = ""
    timed_out: bool = False
    delete: bool = False
    pod: str = ""


@dataclass
class PodView:
    """What the events said so far about one of the Job's pods."""

    name: str
    phase: str = ""
    waiting: str = ""
    waiting_message: str = ""
    unschedulable: str = ""
    exit_code: int | None = None
    terminated_reason: str = ""
    started: bool = False


@dataclass
class JobState:
    """The Job's pods as the watch events describe them, oldest first."""

    pods: dict[str, PodView] = field(default_factory=dict)

    def pod_changed(self, etype: str, pod: dict[str, Any]) -> PodView:
        name = str(pod.get("metadata", {}).get("name", ""))
        view = self.pods.setdefault(name, PodView(name))
        if etype != "DELETED":
            _update(view, pod.get("status") or {})
        return view

    def last_pod(self) -> PodView | None:
        return next(reversed(self.pods.values()), None) if self.pods else None

    def finished(self, job: dict[str, Any]) -> JobResult | None:
        """The result once the Job has a true Complete or Failed condition."""
        for cond in (job.get("status") or {}).get("conditions") or []:
            if cond.get("status") != "True":
                continue
            if cond.get("type") == "Complete":
                return JobResult(0)
            if cond.get("type") == "Failed":
                return self._failed(str(cond.get("reason", "Failed")), str(cond.get("message", "")))
        return None

    def _failed(self, reason: str, message: str) -> JobResult:
        last = self.last_pod()
        code = last.exit_code if last and last.exit_code else 1
        text = f"the Job failed: {reason}" + (f" ({message})" if message else "")
        if last and last.exit_code:
            text += f"; the training exited with code {last.exit_code}"
        return JobResult(code, text, pod=last.name if last else "")

    def timed_out(self, timeout: float) -> JobResult:
        last = self.last_pod()
        if last is None or last.unschedulable or last.phase in ("", "Pending"):
            why = f": {last.unschedulable}" if last and last.unschedulable else ""
            what = last.waiting if last and last.waiting else "never scheduled"
            return JobResult(
                1,
                f"the training pod did not start within {timeout:g}s ({what}{why})",
                timed_out=True,
                delete=True,
                pod=last.name if last else "",
            )
        return JobResult(
            1, f"training timed out after {timeout:g}s", timed_out=True, delete=True, pod=last.name
        )


def stuck(view: PodView) -> JobResult | None:
    """A result when the pod waits for something that will not come (a bad image, a config)."""
    if view.waiting not in STUCK:
        return None
    detail = f": {view.waiting_message}" if view.waiting_message else ""
    return JobResult(
        1, f"{STUCK[view.waiting]} ({view.waiting}{detail})", delete=True, pod=view.name
    )


def _update(view: PodView, status: dict[str, Any]) -> None:
    view.phase = str(status.get("phase", ""))
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            view.unschedulable = str(cond.get("message") or cond.get("reason") or "")
        elif cond.get("type") == "PodScheduled":
            view.unschedulable = ""
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state:
            view.waiting = str(state["waiting"].get("reason", ""))
            view.waiting_message = str(state["waiting"].get("message", ""))
        if "running" in state or "terminated" in state:
            view.started = True
            view.waiting = ""
        if "terminated" in state:
            view.exit_code = int(state["terminated"].get("exitCode", 1))
            view.terminated_reason = str(state["terminated"].get("reason", ""))
