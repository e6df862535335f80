"""Rolling, canary and blue-green deploys, each with its smoke test and rollback.

* rolling: apply everything, watch the rollout, smoke-test the Service; on
  failure re-apply the previous ReplicaSet's template and wait for it.
* canary: a `<name>-canary` Deployment beside the stable one, sized so that
  its share of the pods behind the shared Service is the canary weight;
  smoke-tested through its own `<name>-canary` Service, then promoted (the
  stable Deployment rolls to the new version, the canary goes) or removed.
* blue-green: the idle colour (`<name>-blue`/`<name>-green`) is rolled out and
  smoke-tested through `<name>-preview`; then the Service's selector switches
  to it. The old colour keeps running for an instant switch back, which
  happens by itself when the smoke test through the live Service fails.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelship.deploy import smoke
from modelship.deploy.result import DeployResult
from modelship.kube import rollout
from modelship.kube.api import Kube, KubeError, KubeUnreachable
from modelship.kube.manifests import apply_order, describe, primary_deployment, service_for
from modelship.kube.render import (
    CHANGE_CAUSE,
    COLOR_LABEL,
    TRACK_LABEL,
    Manifest,
    with_labels,
)


@dataclass(frozen=True)
class SmokeSpec:
    payload: smoke.Payload | None
    expected: list[Any] | None
    budget_ms: float | None
    requests: int = 3


@dataclass(frozen=True)
class Plan:
    namespace: str
    manifests: list[Manifest]
    strategy: str = "rolling"
    canary_weight: int = 20
    timeout: float = 600.0
    smoke: SmokeSpec = SmokeSpec(None, None, None)
    smoke_url: str | None = None
    rollback: bool = True


@dataclass
class Timeline:
    started: float = field(default_factory=time.monotonic)
    events: list[tuple[float, str]] = field(default_factory=list)
    echo: Callable[[str], None] | None = None

    def add(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        self.events.append((elapsed, text))
        if self.echo:
            self.echo(f"[{elapsed:6.1f}s] {text}")


class DeployFailed(Exception):
    pass


class Deployer:
    def __init__(self, kube: Kube, plan: Plan, timeline: Timeline) -> None:
        self.kube = kube
        self.plan = plan
        self.timeline = timeline
        self.ns = plan.namespace
        self.primary = primary_deployment(plan.manifests)
        self.service = service_for(plan.manifests, self.primary)

    # -- helpers -----------------------------------------------------------
    def _apply(self, manifest: Manifest) -> dict[str, Any]:
        result = self.kube.apply(manifest)
        self.timeline.add(f"applied {describe(manifest)} (server-side, field manager modelship)")
        return result

    def _get_deployment(self, name: str) -> dict[str, Any] | None:
        return self.kube.get("apps/v1", "Deployment", self.ns, name)

    def _wait(self, name: str, seconds: float | None = None) -> rollout.RolloutResult:
        deadline = time.monotonic() + (seconds if seconds is not None else self.plan.timeout)
        self.timeline.add(f"watching the rollout of Deployment/{name}")
        outcome = rollout.wait(
            self.kube,
            self.ns,
            name,
            deadline,
            lambda message: self.timeline.add(f"Deployment/{name}: {message}"),
        )
        self.timeline.add(
            f"rollout of Deployment/{name} "
            + ("complete" if outcome.ok else f"failed: {outcome.message}")
        )
        if not outcome.ok:
            current = self._get_deployment(name)
            problems = rollout.pod_problems(self.kube, current) if current else []
            for problem in problems:
                self.timeline.add(f"pod {problem[:300]}")
            if problems:
                outcome = rollout.RolloutResult(
                    False, f"{outcome.message} (pod {problems[0][:200]})", outcome.timed_out
                )
        return outcome

    def _port_of(self, service: Manifest) -> str:
        ports = service.get("spec", {}).get("ports") or [{}]
        port = ports[0]
        return str(port.get("name") or port.get("port") or "80")

    def endpoint_of(self, service: Manifest | None) -> str:
        if self.plan.smoke_url:
            return self.plan.smoke_url.rstrip("/").removesuffix("/invocations")
        if service is None:
            return ""
        ports = service.get("spec", {}).get("ports") or [{}]
        port = ports[0].get("port", 80)
        name = service["metadata"]["name"]
        return f"http://{name}.{self.ns}.svc.cluster.local:{port}"

    def _transport(self, service: Manifest | None) -> smoke.Transport | None:
        if self.plan.smoke_url:
            return smoke.http_transport(self.plan.smoke_url)
        if service is None:
            return None
        service_name = service["metadata"]["name"]
        port = self._port_of(service)

        def send(body: bytes, content_type: str) -> tuple[int, bytes]:
            data: Any = json.loads(body) if content_type == "application/json" else body.decode()
            try:
                response = self.kube.proxy(
                    "POST", self.ns, service_name, port, "invocations", data, content_type
                )
            except KubeUnreachable as err:
                raise OSError(str(err)) from None
            return response.status, response.body

        return send

    def _smoke(self, service: Manifest | None, where: str) -> smoke.SmokeResult:
        transport = self._transport(service)
        if transport is None:
            result = smoke.SmokeResult(True, "skipped: no Service and no smoke-url")
            self.timeline.add(f"smoke test {where}: {result.reason}")
            return result
        spec = self.plan.smoke
        if spec.payload is None:
            # Without a payload, the smoke test is the scoring server's health check.
            result = self._ping(service)
        else:
            result = smoke.run(
                transport, spec.payload, spec.expected, spec.budget_ms, spec.requests
            )
        self.timeline.add(
            f"smoke test {where}: {'passed' if result.passed else 'FAILED'}, {result.reason}"
        )
        return result

    def _ping(self, service: Manifest | None) -> smoke.SmokeResult:
        started = time.perf_counter()
        if self.plan.smoke_url:
            ok = smoke.ping(self.plan.smoke_url)
            status = 200 if ok else None
        else:
            assert service is not None
            try:
                status = self.kube.proxy(
                    "GET", self.ns, service["metadata"]["name"], self._port_of(service), "ping"
                ).status
            except KubeUnreachable:
                status = None
        latency = (time.perf_counter() - started) * 1000
        if status == 200:
            return smoke.SmokeResult(True, "/ping answered 200 (no smoke-payload given)", [latency])
        return smoke.SmokeResult(False, f"/ping answered {status}", [latency], status=status)

    # -- entry -------------------------------------------------------------
    def run(self) -> DeployResult:
        strategy = self.plan.strategy
        if strategy == "canary":
            return self._canary()
        if strategy == "blue-green":
            return self._blue_green()
        return self._rolling()

    # -- rolling -----------------------------------------------------------
    def _stable(self) -> Manifest:
        return with_labels(self.primary, {TRACK_LABEL: "stable"}, selector=True)

    def _rolling(self, outcome: DeployResult | None = None) -> DeployResult:
        outcome = outcome or DeployResult()
        stable = self._stable()
        name = stable["metadata"]["name"]
        before = self._get_deployment(name)
        outcome.previous_revision = rollout.revision_of(before)
        outcome.endpoint = self.endpoint_of(self.service)
        outcome.serving = name
        manifests = [stable if m is self.primary else m for m in self.plan.manifests]
        for manifest in apply_order(manifests):
            self._apply(manifest)
        waited = self._wait(name)
        current = self._get_deployment(name)
        outcome.revision = rollout.revision_of(current)
        if waited.ok:
            result = self._smoke(self.service, f"through Service/{self._service_name()}")
            outcome.smoke = result
            if result.passed:
                outcome.status = "succeeded"
                return outcome
            reason = f"smoke test failed: {result.reason}"
        else:
            reason = f"rollout failed: {waited.message}"
        return self._roll_back(stable, current, outcome, reason)

    def _service_name(self) -> str:
        return self.service["metadata"]["name"] if self.service else "-"

    def _roll_back(
        self, body: Manifest, current: dict[str, Any] | None, outcome: DeployResult, reason: str
    ) -> DeployResult:
        outcome.reason = reason
        outcome.status = "failed"
        name = body["metadata"]["name"]
        if not self.plan.rollback:
            self.timeline.add("rollback-on-failure is false: leaving the failed rollout in place")
            return outcome
        if current is None or not outcome.previous_revision:
            self.timeline.add(f"no previous revision of Deployment/{name} to roll back to")
            return outcome
        if outcome.revision == outcome.previous_revision:
            self.timeline.add("the pod template did not change; nothing to roll back")
            return outcome
        previous = rollout.previous_template(self.kube, current)
        if previous is None:
            self.timeline.add(f"no ReplicaSet of an earlier revision of Deployment/{name} is left")
            return outcome
        revision, template = previous
        restored = copy.deepcopy(body)
        restored["spec"]["template"] = template
        annotations = dict(template.get("metadata", {}).get("annotations", {}) or {})
        annotations[CHANGE_CAUSE] = f"modelship: rollback to revision {revision} ({reason[:120]})"
        restored["metadata"]["annotations"] = annotations
        self.timeline.add(f"rolling back Deployment/{name} to the template of revision {revision}")
        self._apply(restored)
        waited = self._wait(name)
        outcome.revision = rollout.revision_of(self._get_deployment(name))
        if waited.ok:
            outcome.rolled_back = True
            outcome.status = "rolled-back"
            self.timeline.add(f"rolled back: Deployment/{name} serves revision {outcome.revision}")
        else:
            self.timeline.add(f"the rollback did not complete either: {waited.message}")
        return outcome

    # -- canary ------------------------------------------------------------
    def canary_replicas(self, stable_replicas: int) -> int:
        weight = min(max(self.plan.canary_weight, 1), 99)
        return max(1, math.ceil(stable_replicas * weight / (100 - weight)))

    def _canary(self) -> DeployResult:
        outcome = DeployResult()
        stable = self._stable()
        name = stable["metadata"]["name"]
        before = self._get_deployment(name)
        if before is None:
            self.timeline.add(
                f"no stable Deployment/{name} yet: the first version rolls out directly"
            )
            return self._rolling(outcome)
        outcome.previous_revision = rollout.revision_of(before)
        stable_replicas = int(before.get("spec", {}).get("replicas") or 1)
        replicas = self.canary_replicas(stable_replicas)
        canary = with_labels(self.primary, {TRACK_LABEL: "canary"}, selector=True)
        canary["metadata"]["name"] = f"{name}-canary"
        canary["metadata"].setdefault("labels", {})[TRACK_LABEL] = "canary"
        canary["spec"]["replicas"] = replicas
        share = 100 * replicas / (replicas + stable_replicas)
        self.timeline.add(
            f"canary: {replicas} pod(s) beside {stable_replicas} stable, "
            f"{share:.0f}% of the traffic"
        )
        canary_service = None
        if self.service is not None:
            canary_service = copy.deepcopy(self.service)
            canary_service["metadata"]["name"] = f"{self.service['metadata']['name']}-canary"
            canary_service["spec"]["selector"] = {
                **(self.service["spec"].get("selector") or {}),
                TRACK_LABEL: "canary",
            }
            if self.kube.get("v1", "Service", self.ns, self.service["metadata"]["name"]) is None:
                self._apply(self.service)
            self._apply(canary_service)
        self._apply(canary)
        waited = self._wait(canary["metadata"]["name"])
        result = self._smoke(canary_service, "of the canary") if waited.ok else None
        outcome.smoke = result
        if not waited.ok or result is None or not result.passed:
            reason = (
                f"canary rollout failed: {waited.message}"
                if not waited.ok
                else f"canary smoke test failed: {result.reason if result else ''}"
            )
            self._remove_canary(canary, canary_service)
            outcome.reason = reason
            outcome.revision = outcome.previous_revision
            outcome.serving = name
            outcome.endpoint = self.endpoint_of(self.service)
            outcome.rolled_back = True
            outcome.status = "rolled-back"
            self.timeline.add(
                f"canary aborted; Deployment/{name} still serves revision {outcome.revision}"
            )
            return outcome
        self.timeline.add("canary healthy: promoting it to stable")
        promoted = self._rolling(outcome)
        self._remove_canary(canary, canary_service)
        return promoted

    def _remove_canary(self, canary: Manifest, service: Manifest | None) -> None:
        for item in (canary, service):
            if item is None:
                continue
            try:
                name = item["metadata"]["name"]
                # A Deployment goes in the foreground: its pods first, so no canary pod
                # lingers behind the shared Service once we say it is removed.
                policy = "Foreground" if item["kind"] == "Deployment" else "Background"
                if not self.kube.delete(item["apiVersion"], item["kind"], self.ns, name, policy):
                    continue
                if item["kind"] == "Deployment" and not rollout.wait_gone(
                    self.kube, self.ns, name, 120
                ):
                    self.timeline.add(f"{describe(item)} is still terminating")
                    continue
                self.timeline.add(f"removed {describe(item)}")
            except KubeError as err:
                self.timeline.add(f"could not remove {describe(item)}: {err.message}")

    # -- blue-green --------------------------------------------------------
    def _blue_green(self) -> DeployResult:
        outcome = DeployResult()
        if self.service is None:
            raise DeployFailed(
                "blue-green needs a Service whose selector picks the Deployment's pods"
            )
        service_name = self.service["metadata"]["name"]
        live_service = self.kube.get("v1", "Service", self.ns, service_name)
        live = (live_service or {}).get("spec", {}).get("selector", {}).get(COLOR_LABEL)
        idle = "green" if live == "blue" else "blue"
        base = self.primary["metadata"]["name"]
        idle_name = f"{base}-{idle}"
        live_name = f"{base}-{live}" if live else ""
        live_deployment = self._get_deployment(live_name) if live_name else None
        outcome.previous_revision = rollout.revision_of(live_deployment)
        self.timeline.add(f"blue-green: live colour {live or 'none'}, deploying {idle}")

        preview = self._selecting(idle, f"{service_name}-preview")
        for manifest in apply_order([*self._colour_manifests(idle), preview]):
            self._apply(manifest)
        waited = self._wait(idle_name)
        outcome.revision = rollout.revision_of(self._get_deployment(idle_name))
        result = (
            self._smoke(preview, f"of {idle} through Service/{preview['metadata']['name']}")
            if waited.ok
            else None
        )
        outcome.smoke = result
        if not waited.ok or result is None or not result.passed:
            outcome.reason = (
                f"{idle} rollout failed: {waited.message}"
                if not waited.ok
                else f"smoke test of {idle} failed: {result.reason if result else ''}"
            )
            return self._idle_rejected(outcome, live, idle, live_name)
        return self._switch(outcome, live, idle, live_name)

    def _selecting(self, colour: str, name: str | None = None) -> Manifest:
        """The Service (or a copy named `name`) with its selector on one colour."""
        assert self.service is not None
        service = copy.deepcopy(self.service)
        if name:
            service["metadata"]["name"] = name
        service["spec"]["selector"] = {
            **(self.service["spec"].get("selector") or {}),
            COLOR_LABEL: colour,
        }
        return service

    def _colour_manifests(self, colour: str) -> list[Manifest]:
        """The Deployment as `<name>-<colour>`, with the other manifests (its HPA follows it)."""
        base = self.primary["metadata"]["name"]
        deployment = with_labels(self.primary, {COLOR_LABEL: colour}, selector=True)
        deployment["metadata"]["name"] = f"{base}-{colour}"
        deployment["metadata"].setdefault("labels", {})[COLOR_LABEL] = colour
        manifests = [deployment]
        for manifest in self.plan.manifests:
            if manifest is self.primary or manifest is self.service:
                continue
            item = copy.deepcopy(manifest)
            target = item.get("spec", {}).get("scaleTargetRef", {})
            if item["kind"] == "HorizontalPodAutoscaler" and target.get("name") == base:
                item["metadata"]["name"] = f"{item['metadata']['name']}-{colour}"
                target["name"] = f"{base}-{colour}"
            manifests.append(item)
        return manifests

    def _idle_rejected(
        self, outcome: DeployResult, live: str | None, idle: str, live_name: str
    ) -> DeployResult:
        """The new colour failed before it got traffic: the live colour keeps serving."""
        assert self.service is not None
        outcome.revision = outcome.previous_revision
        outcome.serving = live_name
        outcome.endpoint = self.endpoint_of(self.service)
        if live:
            # Traffic never left the live colour: that is the rollback.
            outcome.rolled_back = True
            outcome.status = "rolled-back"
            self.timeline.add(
                f"Service/{self.service['metadata']['name']} stays on {live}; "
                f"{idle} receives no traffic"
            )
        else:
            outcome.status = "failed"
            self.timeline.add("no live colour to keep serving")
        return outcome

    def _switch(
        self, outcome: DeployResult, live: str | None, idle: str, live_name: str
    ) -> DeployResult:
        """Point the Service at the new colour, smoke-test it live, switch back if it fails."""
        assert self.service is not None
        service_name = self.service["metadata"]["name"]
        switched = self._selecting(idle)
        self._apply(switched)
        self.timeline.add(f"switched Service/{service_name} from {live or 'nothing'} to {idle}")
        outcome.serving = f"{self.primary['metadata']['name']}-{idle}"
        outcome.endpoint = self.endpoint_of(self.service)
        result = self._smoke(switched, f"through the live Service/{service_name}")
        outcome.smoke = result
        if result.passed:
            outcome.status = "succeeded"
            return outcome
        outcome.reason = f"smoke test through the live Service failed: {result.reason}"
        if live and self.plan.rollback:
            self._apply(self._selecting(live))
            self.timeline.add(f"switched Service/{service_name} back to {live}")
            outcome.serving = live_name
            outcome.revision = outcome.previous_revision
            outcome.rolled_back = True
            outcome.status = "rolled-back"
        else:
            outcome.status = "failed"
        return outcome
