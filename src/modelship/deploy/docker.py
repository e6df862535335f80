"""The `docker` deploy target: the serving image as a container on one Docker host.

Blue-green on one host, through the engine's API (the `docker` SDK):

1. a candidate container `<name>-candidate` starts beside the serving one, on
   a port the engine picks, and must become healthy and pass the smoke test;
2. only then does the serving container step aside (stopped, renamed
   `<name>-previous`) and a container of the new image take the stable name
   and port, checked again before the candidate goes;
3. when the candidate fails, it is removed and the old container, never
   touched, keeps serving; when the final container fails, the previous one
   gets its name back and starts again.

A port binding cannot move between containers, so step 2 costs a gap of
one server start (seconds) on the stable port; the candidate has proven the
image by then. For no gap at all, put a proxy in front of the candidate's port.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from modelship.ci.errors import ExternalError, UsageError
from modelship.deploy import smoke
from modelship.deploy.result import DeployResult
from modelship.kube.deployer import SmokeSpec, Timeline

CANDIDATE_SUFFIX = "-candidate"
PREVIOUS_SUFFIX = "-previous"
MANAGED_LABEL = "io.modelship.deploy"
ENVIRONMENT_LABEL = "io.modelship.environment"
REVISION_LABEL = "io.modelship.revision"
# Health probes of a deployed container: often enough for a deploy to see
# "healthy" within seconds, rare enough to cost nothing while it serves.
HEALTH_INTERVAL_NS = 5_000_000_000


@dataclass(frozen=True)
class DockerPlan:
    name: str
    image: str
    environment: str
    container_port: int
    host_port: int | None
    bind_address: str
    timeout: float
    smoke: SmokeSpec
    rollback: bool


class CandidateFailed(Exception):
    """The new container did not become healthy or failed its smoke test."""


def connect(env: Mapping[str, str]) -> Any:
    """A client of the engine at `DOCKER_HOST` (default socket); exit 3 when it does not answer."""
    import docker

    try:
        client = docker.from_env(environment=dict(env), timeout=30)
        client.ping()
    except Exception as err:  # any failure to connect means "no engine"
        host = env.get("DOCKER_HOST") or "the default socket"
        raise ExternalError(
            f"the Docker engine at {host} does not answer: {str(err)[:200]}",
            "start the engine or set DOCKER_HOST to one that runs; nothing was changed",
        ) from None
    return client


def image_revision(client: Any, reference: str) -> tuple[Any, str]:
    """The image (pulled when the engine lacks it) and its digest, the revision it deploys."""
    import docker.errors

    try:
        image = client.images.get(reference)
    except docker.errors.ImageNotFound:
        try:
            image = client.images.pull(reference)
        except docker.errors.APIError as err:
            raise ExternalError(
                f"the engine has no image {reference} and cannot pull it: "
                f"{str(err.explanation or err)[:300]}",
                "build it on this engine, or push it and pass the `image-ref` of the build",
            ) from None
    if "@" in reference:
        return image, reference.split("@", 1)[1]
    from modelship.images.builders import split_ref

    repository, _ = split_ref(reference)
    for repo_digest in image.attrs.get("RepoDigests") or []:
        if repo_digest.split("@", 1)[0] == repository:
            return image, repo_digest.split("@", 1)[1]
    return image, str(image.id)


def endpoint_host(env: Mapping[str, str], bind_address: str) -> str:
    """The host a client reaches the published port on: the engine's host, or loopback."""
    host = env.get("DOCKER_HOST", "")
    if host.startswith(("tcp://", "ssh://", "http://", "https://")):
        found = urlsplit(host).hostname
        if found:
            return found
    # A port published on every interface is reached on loopback from here.
    return "127.0.0.1" if bind_address in ("0.0.0.0", "", "::") else bind_address  # noqa: S104


class DockerDeployer:
    def __init__(self, client: Any, plan: DockerPlan, timeline: Timeline, host: str) -> None:
        self.client = client
        self.plan = plan
        self.timeline = timeline
        self.host = host

    # -- containers -------------------------------------------------------------

    def _get(self, name: str) -> Any | None:
        import docker.errors

        try:
            return self.client.containers.get(name)
        except docker.errors.NotFound:
            return None

    def _remove(self, name: str) -> None:
        container = self._get(name)
        if container is not None:
            container.remove(force=True)

    def _start(self, name: str, image: Any, revision: str, port: int | None) -> Any:
        plan = self.plan
        health = (image.attrs.get("Config") or {}).get("Healthcheck") or {}
        healthcheck = None
        if health.get("Test"):
            healthcheck = {
                "test": health["Test"],
                "interval": HEALTH_INTERVAL_NS,
                "timeout": health.get("Timeout") or 5_000_000_000,
                "retries": health.get("Retries") or 3,
                "start_period": health.get("StartPeriod") or 0,
            }
        return self.client.containers.run(
            image.id,
            name=name,
            detach=True,
            ports={f"{plan.container_port}/tcp": (plan.bind_address, port)},
            environment={"PORT": str(plan.container_port)},
            labels={
                MANAGED_LABEL: plan.name,
                ENVIRONMENT_LABEL: plan.environment,
                REVISION_LABEL: revision,
            },
            healthcheck=healthcheck,
            restart_policy={"Name": "unless-stopped"} if port is not None else None,
        )

    def _published_port(self, container: Any) -> int:
        deadline = time.monotonic() + 10
        while True:
            container.reload()
            bindings = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
            found = bindings.get(f"{self.plan.container_port}/tcp") or []
            if found and found[0].get("HostPort"):
                return int(found[0]["HostPort"])
            if time.monotonic() > deadline:
                raise ExternalError(f"the engine published no port for {container.name}")
            time.sleep(0.2)

    def _configured_port(self, container: Any) -> int | None:
        """The host port a container keeps across restarts: its binding, else the live one."""
        bindings = (container.attrs.get("HostConfig") or {}).get("PortBindings") or {}
        for binding in bindings.get(f"{self.plan.container_port}/tcp") or []:
            if str(binding.get("HostPort") or "").isdigit():
                return int(binding["HostPort"])
        if container.status == "running":
            return self._published_port(container)
        return None

    # -- checks -----------------------------------------------------------------

    def _wait_ready(self, container: Any, url: str) -> None:
        """Until the engine calls it healthy (or, without a HEALTHCHECK, `/ping` answers).

        `unhealthy` is not final: a server slower to start than the image's
        start period turns healthy at its first passing probe. `timeout` bounds it.
        """
        deadline = time.monotonic() + self.plan.timeout
        health: str | None = None
        while time.monotonic() < deadline:
            container.reload()
            state = container.attrs.get("State") or {}
            if state.get("Status") in ("exited", "dead"):
                raise CandidateFailed(
                    f"{container.name} exited with {state.get('ExitCode')}: " + _tail(container)
                )
            health = (state.get("Health") or {}).get("Status")
            if health == "healthy" or (health is None and smoke.ping(url)):
                return
            time.sleep(1)
        raise CandidateFailed(
            f"{container.name} was not healthy within {self.plan.timeout:.0f}s "
            f"({health or 'no answer on /ping'}): " + _tail(container)
        )

    def _smoke(self, url: str) -> smoke.SmokeResult:
        spec = self.plan.smoke
        if spec.payload is None:
            ok = smoke.ping(url)
            return smoke.SmokeResult(
                ok, "/ping answered 200 (no smoke-payload given)" if ok else "/ping failed"
            )
        transport = smoke.http_transport(url)
        return smoke.run(transport, spec.payload, spec.expected, spec.budget_ms, spec.requests)

    def _prove(self, container: Any, where: str) -> tuple[str, smoke.SmokeResult]:
        url = f"http://{self.host}:{self._published_port(container)}"
        self._wait_ready(container, url)
        self.timeline.add(f"{container.name} is healthy on {url}")
        result = self._smoke(url)
        self.timeline.add(
            f"smoke test of {where}: {'passed' if result.passed else 'FAILED'}, {result.reason}"
        )
        if not result.passed:
            raise CandidateFailed(f"smoke test of {where} failed: {result.reason}")
        return url, result

    # -- the deploy -------------------------------------------------------------

    def run(self) -> DeployResult:
        plan = self.plan
        image, revision = image_revision(self.client, plan.image)
        current = self._get(plan.name)
        previous_revision = str((current.labels or {}).get(REVISION_LABEL, "")) if current else ""
        stable_port = plan.host_port or (self._configured_port(current) if current else None)
        candidate_name = plan.name + CANDIDATE_SUFFIX
        self._remove(candidate_name)
        candidate = self._start(candidate_name, image, revision, None)
        self.timeline.add(f"started {candidate_name} from {plan.image} ({revision[:19]})")
        try:
            self._prove(candidate, "the candidate")
        except CandidateFailed as err:
            if plan.rollback:
                self._remove(candidate_name)
                self.timeline.add(f"removed {candidate_name}; {plan.name} was not touched")
            else:
                self.timeline.add(f"left {candidate_name} for inspection (rollback-on-failure)")
            return self._failed(str(err), previous_revision, current)
        try:
            return self._switch(image, revision, previous_revision, current, stable_port)
        finally:
            self._remove(candidate_name)

    def _switch(
        self,
        image: Any,
        revision: str,
        previous_revision: str,
        current: Any | None,
        port: int | None,
    ) -> DeployResult:
        plan = self.plan
        previous_name = plan.name + PREVIOUS_SUFFIX
        if current is not None:
            self._remove(previous_name)
            current.stop(timeout=10)
            current.rename(previous_name)
            self.timeline.add(f"stopped {plan.name} ({previous_revision[:19]}) as {previous_name}")
        final = self._start(plan.name, image, revision, port)
        try:
            url, result = self._prove(final, plan.name)
        except CandidateFailed as err:
            if not plan.rollback:
                self.timeline.add(f"left the failing {plan.name} (rollback-on-failure is false)")
                return self._failed(str(err), previous_revision, None)
            self._remove(plan.name)
            if current is not None:
                current.rename(plan.name)
                current.start()
                self.timeline.add(f"{plan.name} failed; the previous container serves again")
            return self._failed(str(err), previous_revision, current)
        self.timeline.add(f"{plan.name} serves {revision[:19]} on {url}")
        return DeployResult(
            "succeeded", url, revision, previous_revision, False, plan.name, "", result
        )

    def _failed(self, reason: str, previous_revision: str, current: Any | None) -> DeployResult:
        port = self._configured_port(current) if current is not None else None
        endpoint = f"http://{self.host}:{port}" if port else ""
        rolled_back = current is not None and self.plan.rollback
        return DeployResult(
            "rolled-back" if rolled_back else "failed",
            endpoint,
            previous_revision if current is not None else "",
            previous_revision,
            rolled_back,
            self.plan.name if current is not None else "",
            reason,
        )


def _tail(container: Any) -> str:
    try:
        text = container.logs(tail=5).decode("utf-8", "replace").strip()
    except Exception:  # the logs are only a hint in an error message
        return "(no logs)"
    return text.replace("\n", " | ")[-400:] or "(no logs)"


def validate_name(name: str) -> str:
    if not name:
        raise UsageError("cannot derive a container name", "set `name` or `model-name`")
    return name
