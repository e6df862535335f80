"""The train stage's `kubernetes` backend: the training runs as a Kubernetes Job.

modelship opens the MLflow run on the runner, as for a local training; the
Job's pod runs the same training command with `MLFLOW_TRACKING_URI`,
`MLFLOW_EXPERIMENT_NAME` and `MLFLOW_RUN_ID`, so whatever the training logs
lands in that run. The pod's output is streamed into the CI log as it comes;
waiting is done by watching the Job and its pods (no polling loop). A cancelled
CI job (SIGTERM/SIGINT) deletes the Job, so no pod keeps a GPU.

`JobPlan.from_inputs` checks the inputs before MLflow is contacted (exit 2);
`JobPlan.run` creates the Job, follows it and returns what the local runner
returns (`Completed`), with the Kubernetes reason when it failed.
"""

from __future__ import annotations

import collections
import json
import queue
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelship.ci.errors import ExternalError, UsageError
from modelship.process import TAIL_LINES, Completed, sigterm_as_interrupt
from modelship.tracking import lineage

if TYPE_CHECKING:
    from modelship.ci.context import StageContext
    from modelship.kube.api import Kube
    from modelship.tracking.runs import RunStore

# The variables of the run hand-over; nothing else of the runner's environment
# goes into the Job (the runner's environment holds CI secrets).
POD_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID", "MODELSHIP_PARAMS")
CONTAINER = "train"
DURATION = r"[0-9]+(\.[0-9]+)?(ms|s|m|h)?"
QUANTITY = re.compile(
    r"\+?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?|\+?\.[0-9]+"
)
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# Waiting reasons that do not go away by waiting longer.
STUCK = {
    "ErrImagePull": "the image cannot be pulled",
    "ImagePullBackOff": "the image cannot be pulled",
    "InvalidImageName": "the image name is invalid",
    "CreateContainerConfigError": "the container cannot be configured",
    "CreateContainerError": "the container cannot be created",
}
# Seconds to let the log streams drain after the Job has finished.
LOG_DRAIN = 10.0


@dataclass(frozen=True)
class JobCompleted(Completed):
    """`Completed` with the Kubernetes side of the story."""

    reason: str = ""
    job: str = ""


@dataclass
class JobPlan:
    """The Job to create, from the stage inputs (checked before the run opens)."""

    image: str
    namespace: str | None
    kubeconfig: str | None
    context: str | None
    resources: dict[str, dict[str, str]]
    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]]
    service_account: str
    env_from_secrets: list[str]
    backoff_limit: int
    active_deadline: int | None
    timeout: float | None

    @classmethod
    def from_inputs(cls, ctx: StageContext, tracking_uri: str, metrics_files: list[Any]) -> JobPlan:
        import importlib.util

        from modelship.ci.inputs import parse_key_values

        if importlib.util.find_spec("kubernetes") is None:
            raise UsageError(
                "backend kubernetes needs the Kubernetes client, which is not installed",
                "install the kube extra: pip install 'modelship-ci[mlflow,kube]'",
            )
        image = ctx.inputs.optional("image")
        if not image:
            raise UsageError(
                "input 'image' is required with backend kubernetes: the training image the "
                "Job's pod runs",
                "set image, e.g. ghcr.io/acme/churn-train:1.4.0 (an image with the project, "
                "Python and its requirements, and mlflow)",
            )
        if tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri:
            raise UsageError(
                f"tracking URI {tracking_uri.partition('?')[0]!r} is a file on this runner: the "
                "Job's pod cannot reach it, so the training would log nowhere",
                "use a tracking server the pod can reach: an in-cluster MLflow service "
                "(http://mlflow.mlflow.svc:5000) or a public https URI; see "
                "docs/training-at-scale.md",
            )
        from urllib.parse import urlsplit

        if urlsplit(tracking_uri).password:
            raise UsageError(
                "the tracking URI carries a password, which would be written into the Job",
                "put MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in a Secret, pass "
                "it with env-from-secret, and drop the password from the URI",
            )
        if ctx.inputs.optional("metrics-file"):
            raise UsageError(
                "input 'metrics-file' cannot be used with backend kubernetes: the pod's files "
                "do not come back to the runner",
                "log the metrics to MLflow in the training (mlflow.log_metrics), then they "
                "are in the metrics output",
            )
        # DVC metrics files in the checkout are not what the pod wrote: read none.
        metrics_files.clear()
        if (ctx.inputs.text("working-directory") or ".").strip("./"):
            ctx.log.warning(
                "input 'working-directory' is a folder of this checkout; the Job's pod runs "
                "the command in the image's working directory"
            )
        deadline = ctx.inputs.optional("active-deadline")
        backoff = ctx.inputs.optional("backoff-limit")
        timeout = ctx.inputs.number("timeout")
        return cls(
            image=image,
            namespace=ctx.inputs.optional("namespace"),
            kubeconfig=ctx.inputs.optional("kubeconfig"),
            context=ctx.inputs.optional("kube-context"),
            resources=parse_resources(ctx.inputs.text("resources")),
            node_selector=parse_key_values("node-selector", ctx.inputs.text("node-selector")),
            tolerations=parse_tolerations(ctx.inputs.text("tolerations")),
            service_account=ctx.inputs.optional("service-account") or "",
            env_from_secrets=ctx.inputs.items("env-from-secret"),
            backoff_limit=_integer(backoff, "backoff-limit") if backoff else 0,
            active_deadline=max(1, round(parse_duration(deadline))) if deadline else None,
            timeout=timeout or None,
        )

    # -- manifest ----------------------------------------------------------------------------

    def manifest(
        self,
        name: str,
        namespace: str,
        argv: list[str],
        env: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> dict[str, Any]:
        run_id = env.get("MLFLOW_RUN_ID", "")
        labels = {
            "app.kubernetes.io/name": "modelship-train",
            "app.kubernetes.io/managed-by": "modelship",
            "app.kubernetes.io/component": "training",
            "modelship.io/run-id": run_id,
        }
        for key, label in (
            (lineage.GIT_SHA, "modelship.io/git-sha"),
            (lineage.BRANCH, "modelship.io/branch"),
            (lineage.DATA_VERSION, "modelship.io/data-version"),
            (lineage.CI_PLATFORM, "modelship.io/ci-platform"),
        ):
            value = tags.get(key, "")
            if value and LABEL_VALUE.fullmatch(value) and len(value) <= 63:
                labels[label] = value
        # The full lineage record, values unrestricted, under the same keys as the run's tags.
        annotations = {key: tags[key] for key in lineage.LINEAGE_TAGS if tags.get(key)}
        annotations["modelship.io/experiment"] = env.get("MLFLOW_EXPERIMENT_NAME", "")
        container: dict[str, Any] = {
            "name": CONTAINER,
            "image": self.image,
            "command": argv,
            "env": [{"name": k, "value": env[k]} for k in POD_ENV if env.get(k)],
        }
        if self.resources:
            container["resources"] = self.resources
        if self.env_from_secrets:
            container["envFrom"] = [{"secretRef": {"name": s}} for s in self.env_from_secrets]
        pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
        if self.node_selector:
            pod_spec["nodeSelector"] = self.node_selector
        if self.tolerations:
            pod_spec["tolerations"] = self.tolerations
        if self.service_account:
            pod_spec["serviceAccountName"] = self.service_account
        spec: dict[str, Any] = {
            "backoffLimit": self.backoff_limit,
            # A finished Job holds no resources; it stays a day for `kubectl logs`.
            "ttlSecondsAfterFinished": 86400,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        }
        if self.active_deadline is not None:
            spec["activeDeadlineSeconds"] = self.active_deadline
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": annotations,
            },
            "spec": spec,
        }

    # -- run ---------------------------------------------------------------------------------

    def run(
        self,
        ctx: StageContext,
        store: RunStore,
        run_id: str,
        argv: list[str],
        env: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> JobCompleted:
        from modelship.kube import config as kube_config
        from modelship.kube.api import Kube, KubeError, KubeUnreachable

        command = pod_command(argv)
        name = f"modelship-train-{run_id}"[:63]
        try:
            with kube_config.kubeconfig(
                self.kubeconfig, self.context, ctx.env, ctx.cwd, ctx.log.mask
            ) as config:
                api = kube_config.api_client(config, ctx.log.mask)
                kube = Kube(api)
                namespace = self.namespace or _context_namespace(config.path, config.context)
                try:
                    return self._follow(ctx, kube, name, namespace, command, env, tags)
                except KubeUnreachable as err:
                    raise ExternalError(
                        f"the Kubernetes API server does not answer: {err}"
                    ) from None
                except KubeError as err:
                    raise _kube_error(err, namespace) from None
                finally:
                    api.close()
        except KeyboardInterrupt:
            _finish_run(ctx, store, run_id, "KILLED")
            raise
        except (UsageError, ExternalError):
            _finish_run(ctx, store, run_id, "FAILED")
            raise

    def _follow(
        self,
        ctx: StageContext,
        kube: Kube,
        name: str,
        namespace: str,
        argv: list[str],
        env: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> JobCompleted:
        started = time.monotonic()
        manifest = self.manifest(name, namespace, argv, env, tags)
        created = kube.request(
            "POST",
            kube.path("batch/v1", "Job", namespace),
            query=[("fieldManager", "modelship")],
            body=manifest,
            content_type="application/json",
        )
        ctx.log.info(
            f"created Job {namespace}/{name} (image {self.image}); "
            f"`kubectl -n {namespace} logs -f job/{name}` follows it"
        )
        watcher = JobWatcher(kube, namespace, name, created)
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        outcome: Outcome | None = None
        try:
            with sigterm_as_interrupt(), ctx.log.group(f"training on Kubernetes: {' '.join(argv)}"):
                watcher.start()
                with ctx.log.fenced() as write:
                    outcome = watcher.wait(self.timeout, write, tail, ctx.log.info)
        finally:
            watcher.stop()
            if outcome is None or outcome.delete:
                # Cancelled, timed out or stuck: nothing may keep running (and hold a GPU).
                _delete_job(ctx, kube, namespace, name)
        seconds = time.monotonic() - started
        text = "\n".join(tail)
        rows = [
            ["Job", f"{namespace}/{name}"],
            ["image", self.image],
            ["result", outcome.reason or "succeeded"],
        ]
        if outcome.pod:
            rows.append(["last pod", outcome.pod])
        ctx.summary.table(["Kubernetes", "value"], rows)
        return JobCompleted(
            returncode=outcome.exit_code,
            tail=ctx.log.redact(text),
            seconds=seconds,
            timed_out=outcome.timed_out,
            reason=outcome.reason,
            job=f"{namespace}/{name}",
        )


# -- following a Job ---------------------------------------------------------------------------


@dataclass
class Outcome:
    exit_code: int
    reason: str = ""
    timed_out: bool = False
    delete: bool = False
    pod: str = ""


@dataclass
class PodView:
    name: str
    phase: str = ""
    waiting: str = ""
    waiting_message: str = ""
    unschedulable: str = ""
    exit_code: int | None = None
    terminated_reason: str = ""
    following: bool = False


@dataclass
class JobWatcher:
    """Watches the Job and its pods and follows each pod's log; all events go through one queue."""

    kube: Kube
    namespace: str
    name: str
    created: dict[str, Any]
    events: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)
    pods: dict[str, PodView] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    followers: int = 0

    def start(self) -> None:
        version = str(self.created.get("metadata", {}).get("resourceVersion", "")) or None
        for target in (
            lambda: self._watch("jobs", f"metadata.name={self.name}", None, version),
            lambda: self._watch("pods", None, f"job-name={self.name}", version),
        ):
            threading.Thread(target=target, daemon=True, name="modelship-kube-watch").start()

    def stop(self) -> None:
        self.stopping.set()

    def _watch(
        self,
        plural: str,
        field_selector: str | None,
        label_selector: str | None,
        version: str | None,
    ) -> None:
        """Stream watch events into the queue, resuming from the last resourceVersion."""
        from modelship.kube.api import KubeError

        base = "/api/v1" if plural == "pods" else "/apis/batch/v1"
        path = f"{base}/namespaces/{self.namespace}/{plural}"
        while not self.stopping.is_set():
            query = [("watch", "true"), ("timeoutSeconds", "30"), ("allowWatchBookmarks", "true")]
            if field_selector:
                query.append(("fieldSelector", field_selector))
            if label_selector:
                query.append(("labelSelector", label_selector))
            if version:
                query.append(("resourceVersion", version))
            try:
                for event in self._stream(path, query):
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        if obj.get("code") == 410:  # too old: start again from now
                            version = None
                            break
                        raise KubeError(int(obj.get("code", 500)), str(obj.get("reason", "")),
                                        str(obj.get("message", "")))  # fmt: skip
                    version = str(obj.get("metadata", {}).get("resourceVersion", "")) or version
                    if event.get("type") != "BOOKMARK":
                        self.events.put((plural, (event.get("type"), obj)))
            except Exception as err:  # reported to the main thread, which decides
                if not self.stopping.is_set():
                    self.events.put(("error", err))
                return

    def _stream(self, path: str, query: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        for line in self._lines(path, query, read_timeout=60):
            try:
                loaded = json.loads(line)
            except ValueError:
                continue
            if isinstance(loaded, dict):
                yield loaded

    def _lines(self, path: str, query: list[tuple[str, str]], read_timeout: float) -> Iterator[str]:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        from modelship.kube.api import REQUEST_TIMEOUT, KubeError, KubeUnreachable

        api = self.kube.api
        request = api.param_serialize(
            method="GET",
            resource_path=path,
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        try:
            response = api.call_api(*request, _request_timeout=(REQUEST_TIMEOUT[0], read_timeout))
        except ApiException as err:
            if not err.status:
                raise KubeUnreachable(str(err.reason or err)[:300]) from None
            raise KubeError(int(err.status), str(err.reason or ""), _message(err.body)) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise KubeUnreachable(str(err)[:300]) from None
        raw = response.response
        try:
            if not 200 <= response.status <= 299:
                body = raw.read()
                raise KubeError(response.status, "", _message(body))
            pending = b""
            for chunk in raw.stream(4096, decode_content=True):
                if self.stopping.is_set():
                    return
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
            if pending:
                yield pending.decode("utf-8", "replace")
        finally:
            raw.release_conn()

    def _follow_log(self, pod: str) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods/{pod}/log"
        query = [("container", CONTAINER), ("follow", "true")]
        try:
            for line in self._lines(path, query, read_timeout=24 * 3600):
                self.events.put(("log", (pod, line)))
        except Exception as err:  # a pod deleted meanwhile; the Job's status still decides
            text = str(err)[:200]
            if getattr(err, "status", None) == 403:
                text += " (the Role needs get on pods/log: docs/training-at-scale.md)"
            self.events.put(("log-error", (pod, text)))
        finally:
            self.events.put(("log-end", pod))

    def wait(
        self, timeout: float | None, write: Any, tail: collections.deque[str], note: Any
    ) -> Outcome:
        deadline = time.monotonic() + timeout if timeout else None
        finished: Outcome | None = None
        drain_until = 0.0
        while True:
            now = time.monotonic()
            if finished is not None and (self.followers == 0 or now >= drain_until):
                return finished
            if finished is None and deadline is not None and now >= deadline:
                return self._timed_out(timeout or 0.0)
            limit = drain_until if finished is not None else deadline
            try:
                kind, payload = self.events.get(
                    timeout=None if limit is None else max(0.0, limit - now)
                )
            except queue.Empty:
                continue
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
                stuck = self._pod_event(payload[0], payload[1], note)
                if stuck is not None and finished is None:
                    return stuck
            elif kind == "jobs":
                etype, job = payload
                if etype == "DELETED" and finished is None:
                    return Outcome(1, "the Job was deleted by someone else")
                done = self._job_finished(job)
                if done is not None and finished is None:
                    finished = done
                    drain_until = time.monotonic() + LOG_DRAIN

    def _pod_event(self, etype: str, pod: dict[str, Any], note: Any) -> Outcome | None:
        name = str(pod.get("metadata", {}).get("name", ""))
        view = self.pods.setdefault(name, PodView(name))
        if etype == "DELETED":
            return None
        status = pod.get("status") or {}
        view.phase = str(status.get("phase", ""))
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                view.unschedulable = str(cond.get("message") or cond.get("reason") or "")
            elif cond.get("type") == "PodScheduled":
                view.unschedulable = ""
        started = False
        for cs in status.get("containerStatuses") or []:
            state = cs.get("state") or {}
            if "waiting" in state:
                view.waiting = str(state["waiting"].get("reason", ""))
                view.waiting_message = str(state["waiting"].get("message", ""))
            if "running" in state or "terminated" in state:
                started = True
                view.waiting = ""
            if "terminated" in state:
                view.exit_code = int(state["terminated"].get("exitCode", 1))
                view.terminated_reason = str(state["terminated"].get("reason", ""))
        if started and not view.following:
            view.following = True
            self.followers += 1
            note(f"pod {name} started; its output follows")
            threading.Thread(
                target=self._follow_log, args=(name,), daemon=True, name="modelship-pod-log"
            ).start()
        if view.waiting in STUCK:
            detail = f": {view.waiting_message}" if view.waiting_message else ""
            return Outcome(
                1, f"{STUCK[view.waiting]} ({view.waiting}{detail})", delete=True, pod=name
            )
        return None

    def _job_finished(self, job: dict[str, Any]) -> Outcome | None:
        for cond in (job.get("status") or {}).get("conditions") or []:
            if cond.get("status") != "True":
                continue
            if cond.get("type") == "Complete":
                return Outcome(0)
            if cond.get("type") == "Failed":
                reason = str(cond.get("reason", "Failed"))
                message = str(cond.get("message", ""))
                last = self._last_pod()
                code = last.exit_code if last and last.exit_code else 1
                text = f"the Job failed: {reason}" + (f" ({message})" if message else "")
                if last and last.exit_code:
                    text += f"; the training exited with code {last.exit_code}"
                return Outcome(code, text, pod=last.name if last else "")
        return None

    def _last_pod(self) -> PodView | None:
        return next(reversed(self.pods.values()), None) if self.pods else None

    def _timed_out(self, timeout: float) -> Outcome:
        last = self._last_pod()
        if last is None or last.unschedulable or last.phase in ("", "Pending"):
            why = f": {last.unschedulable}" if last and last.unschedulable else ""
            what = last.waiting if last and last.waiting else "never scheduled"
            return Outcome(
                1,
                f"the training pod did not start within {timeout:g}s ({what}{why})",
                timed_out=True,
                delete=True,
                pod=last.name if last else "",
            )
        return Outcome(
            1, f"training timed out after {timeout:g}s", timed_out=True, delete=True, pod=last.name
        )


# -- inputs --------------------------------------------------------------------------------------


def parse_resources(text: str) -> dict[str, dict[str, str]]:
    """`name=quantity` lines: the request and the limit; `requests.x=` or `limits.x=` for one."""
    from modelship.ci.inputs import parse_key_values

    out: dict[str, dict[str, str]] = {}
    for key, value in parse_key_values("resources", text).items():
        sides = ("requests", "limits")
        side, _, resource = key.partition(".")
        if side in sides and resource:
            targets: tuple[str, ...] = (side,)
        else:
            targets, resource = sides, key
        if not QUANTITY.fullmatch(value):
            raise UsageError(
                f"input 'resources': {value!r} is not a Kubernetes quantity (for {resource})",
                "e.g. nvidia.com/gpu=1, memory=16Gi, cpu=500m",
            )
        for target in targets:
            out.setdefault(target, {})[resource] = value
    return out


def parse_tolerations(text: str) -> list[dict[str, Any]]:
    """`key[=value][:Effect]` lines (as `kubectl taint` writes taints), or a YAML list."""
    text = text.strip()
    if not text:
        return []
    if text.startswith(("[", "- ", "-\n")):
        import yaml

        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise UsageError(f"input 'tolerations' is not valid YAML: {err}") from None
        if not isinstance(loaded, list) or not all(isinstance(t, dict) for t in loaded):
            raise UsageError("input 'tolerations' must be a list of tolerations")
        return loaded
    found: list[dict[str, Any]] = []
    for line in text.replace(",", "\n").splitlines():
        line = line.strip()
        if not line:
            continue
        rest, _, effect = line.rpartition(":") if ":" in line else (line, "", "")
        if effect and effect not in EFFECTS:
            raise UsageError(
                f"input 'tolerations': unknown effect {effect!r} in {line!r}",
                f"one of {', '.join(EFFECTS)}, e.g. nvidia.com/gpu:NoSchedule",
            )
        key, eq, value = rest.partition("=")
        toleration: dict[str, Any] = {"key": key.strip()}
        toleration.update(
            {"operator": "Equal", "value": value.strip()} if eq else {"operator": "Exists"}
        )
        if effect:
            toleration["effect"] = effect
        found.append(toleration)
    return found


def parse_duration(text: str) -> float:
    match = re.fullmatch(DURATION, text.strip())
    if not match:
        raise UsageError(f"{text!r} is not a duration", "e.g. 90s, 30m, 6h")
    unit = match.group(2) or ""
    number = float(text.strip().removesuffix(unit))
    return number * {"ms": 0.001, "s": 1.0, "": 1.0, "m": 60.0, "h": 3600.0}[unit]


def _integer(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"input '{name}' must be a whole number, not {text!r}") from None
    if value < 0:
        raise UsageError(f"input '{name}' must not be negative")
    return value


def pod_command(argv: list[str]) -> list[str]:
    """The training command as the pod runs it: tools by name, not by this runner's paths."""
    if (
        len(argv) >= 3
        and argv[0] == sys.executable
        and argv[1] == "-m"
        and argv[2] in ("dvc", "mlflow")
    ):
        return [argv[2], *argv[3:]]
    head = argv[0].rsplit("/", 1)[-1]
    if argv[0].startswith("/") and head in ("dvc", "mlflow"):
        return [head, *argv[1:]]
    return list(argv)


# -- helpers -------------------------------------------------------------------------------------


def _context_namespace(path: Any, context: str | None) -> str:
    import yaml

    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return "default"
    wanted = context or config.get("current-context")
    for entry in config.get("contexts") or []:
        if isinstance(entry, dict) and entry.get("name") == wanted:
            return str((entry.get("context") or {}).get("namespace") or "default")
    return "default"


def _delete_job(ctx: StageContext, kube: Kube, namespace: str, name: str) -> None:
    """Delete the Job and its pods (Background: the Job goes at once, the pods right after)."""
    try:
        if kube.delete("batch/v1", "Job", namespace, name, propagation="Background"):
            ctx.log.info(f"deleted Job {namespace}/{name} and its pods")
    except Exception as err:  # best effort on the way out; say what is left behind
        ctx.log.error(
            f"could not delete Job {namespace}/{name}: {str(err)[:200]}; delete it by hand "
            f"(kubectl -n {namespace} delete job {name})"
        )


def _finish_run(ctx: StageContext, store: RunStore, run_id: str, status: str) -> None:
    from modelship.ci.errors import ModelshipError

    try:
        store.finish(run_id, status)
    except ModelshipError as err:
        ctx.log.warning(f"could not mark run {run_id} {status}: {err.message}")


def _kube_error(err: Any, namespace: str) -> Exception:
    message = f"{err.status} {err.reason}: {err.message}".strip()
    if err.status == 404 and "namespace" in err.message:
        return UsageError(f"namespace {namespace!r} does not exist", "create it or fix `namespace`")
    if err.status in (401, 403):
        return UsageError(
            f"the cluster refused: {message[:300]}",
            "the kubeconfig's user needs the Role in docs/training-at-scale.md in namespace "
            f"{namespace}",
        )
    if err.status in (400, 422):
        return UsageError(f"the cluster rejected the Job: {message[:400]}")
    return ExternalError(f"the Kubernetes API server failed: {message[:300]}")


def _message(body: Any) -> str:
    try:
        loaded = json.loads(body) if body else {}
    except (TypeError, ValueError):
        return str(body)[:200]
    return str(loaded.get("message", "")) if isinstance(loaded, dict) else str(body)[:200]
