"""`modelship lineage <reference>`: print the lineage record of an artefact.

The reference is one of

* a registered model version: `models:/churn/3` or `models:/churn@champion`;
* a run: `runs:/<run-id>[/path]` or a bare run id (32 hex digits);
* a deployment: `deployment/<namespace>/<name>` (read through the kubeconfig);
* a container of the `docker` deploy target: `container/<name-or-id>` (read
  through the Docker engine at `DOCKER_HOST`);
* anything else is an image reference, inspected with Buildah, Podman or
  Docker; when none of them knows such an image but the Docker engine has a
  container of that name, the container's record is shown.

Each artefact carries part of the record (MLflow tags, OCI labels, Kubernetes
annotations, written by the train, register, build and deploy stages). What an
image or deployment names (its run, its model version) is then looked up in
MLflow when a tracking URI is at hand, so the record is as complete as the
stores allow. Fields nobody recorded are shown as `-`.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from modelship.ci.errors import ExternalError, ModelshipError, UsageError
from modelship.ci.failures import describe
from modelship.ci.log import Logger
from modelship.ci.platform import Platform
from modelship.ci.redact import SECRET_ENV, secrets_from_url, urls_in_text
from modelship.tracking import lineage

FIELDS: tuple[tuple[str, str], ...] = (
    ("git-sha", "git SHA"),
    ("branch", "branch"),
    ("data-version", "data version"),
    ("run-id", "MLflow run"),
    ("model-name", "model"),
    ("model-version", "model version"),
    ("model-uri", "model URI"),
    ("image", "image"),
    ("image-digest", "image digest"),
    ("deployment", "deployment"),
    ("deployment-revision", "deployment revision"),
    ("environment", "environment"),
    ("ci-run-url", "CI run"),
)

# MLflow tag -> record field (run tags and the copies on model versions).
_TAGS = {
    lineage.GIT_SHA: "git-sha",
    "mlflow.source.git.commit": "git-sha",
    lineage.BRANCH: "branch",
    "mlflow.source.git.branch": "branch",
    lineage.DATA_VERSION: "data-version",
    lineage.CI_RUN_URL: "ci-run-url",
    "modelship.run_id": "run-id",
}
# OCI image label -> record field (modelship.images.labels).
_LABELS = {
    "io.modelship.git-sha": "git-sha",
    "org.opencontainers.image.revision": "git-sha",
    "io.modelship.branch": "branch",
    "io.modelship.data-version": "data-version",
    "io.modelship.run-id": "run-id",
    "io.modelship.model-name": "model-name",
    "io.modelship.model-version": "model-version",
    "io.modelship.model-uri": "model-uri",
    "io.modelship.ci-run-url": "ci-run-url",
}
# Kubernetes annotation -> record field (modelship.kube.render.LINEAGE_ANNOTATIONS).
_ANNOTATIONS = {
    "modelship.io/git-sha": "git-sha",
    "modelship.io/branch": "branch",
    "modelship.io/data-version": "data-version",
    "modelship.io/run-id": "run-id",
    "modelship.io/model-uri": "model-uri",
    "modelship.io/model-version": "model-version",
    "modelship.io/image-digest": "image-digest",
    "modelship.io/ci-run-url": "ci-run-url",
    "modelship.io/environment": "environment",
}
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_MODEL_VERSION = re.compile(
    r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[0-9]+)|@(?P<alias>[\w-]+))$"
)
_RUN_URI = re.compile(r"^runs:/(?P<run>[0-9a-f]{32})(?:/.*)?$")
_DEPLOYMENT = re.compile(
    r"^(?:deployment|deploy|deployments)/(?P<ns>[a-z0-9]([-a-z0-9]*[a-z0-9])?)/"
    r"(?P<name>[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$"
)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CONTAINER = re.compile(r"^container/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)$")


@dataclass
class Record:
    """The lineage record, filled from whatever sources answer."""

    reference: str
    kind: str
    values: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fill(self, updates: Mapping[str, str], source: str, override: bool = False) -> None:
        """Add values; the artefact's own record wins over what is looked up later."""
        added = False
        for key, value in updates.items():
            if value and (override or not self.values.get(key)):
                self.values[key] = value
                added = True
        if added and source not in self.sources:
            self.sources.append(source)

    def as_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "kind": self.kind,
            **{key: self.values.get(key, "") for key, _ in FIELDS},
            "sources": self.sources,
            "notes": self.notes,
        }

    def text(self) -> str:
        width = max(len(label) for _, label in FIELDS)
        lines = [f"lineage of {self.reference} ({self.kind})"]
        for key, label in FIELDS:
            lines.append(f"  {label:<{width}}  {self.values.get(key) or '-'}")
        if self.sources:
            lines.append(f"  {'read from':<{width}}  {', '.join(self.sources)}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def _pick(source: Mapping[str, str], keys: Mapping[str, str]) -> dict[str, str]:
    """Record fields from tags, labels or annotations; the first non-empty key wins."""
    picked: dict[str, str] = {}
    for key, name in keys.items():
        value = source.get(key, "")
        if value and not picked.get(name):
            picked[name] = value
    return picked


# -- MLflow --------------------------------------------------------------------------


class Mlflow:
    """Lookups in the tracking server and model registry (MLflow imported on first use)."""

    def __init__(self, uri: str, env: Mapping[str, str]) -> None:
        self.uri = uri
        self.env = env
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import importlib.util

            if importlib.util.find_spec("mlflow") is None:
                raise UsageError("MLflow is not installed", "pip install 'modelship-ci[mlflow]'")
            from modelship.tracking.client import open_client

            registry = self.env.get("MLFLOW_REGISTRY_URI") or None
            self._client = open_client(self.uri, self.env, registry)
        return self._client

    def run(self, record: Record, run_id: str) -> None:
        run = self._call(lambda: self.client.get_run(run_id), f"run {run_id}")
        tags = dict(run.data.tags)
        record.fill({"run-id": run_id}, "MLflow run")
        record.fill(_pick(tags, _TAGS), "MLflow run")

    def version(self, record: Record, name: str, version: str = "", alias: str = "") -> None:
        what = f"model {name} " + (f"version {version}" if version else f"alias {alias}")
        if alias:
            found = self._call(lambda: self.client.get_model_version_by_alias(name, alias), what)
        else:
            found = self._call(lambda: self.client.get_model_version(name, version), what)
        tags = dict(getattr(found, "tags", {}) or {})
        record.fill(
            {
                "model-name": name,
                "model-version": str(found.version),
                "model-uri": f"models:/{name}/{found.version}",
                "run-id": str(getattr(found, "run_id", "") or ""),
            },
            "MLflow model registry",
        )
        record.fill(_pick(tags, _TAGS), "MLflow model registry")
        run_id = record.values.get("run-id", "")
        if run_id:
            self.run(record, run_id)

    def _call(self, call: Callable[[], Any], what: str) -> Any:
        try:
            return call()
        except UsageError:
            raise
        except Exception as err:
            text = str(err)
            code = str(getattr(err, "error_code", ""))
            if "RESOURCE_DOES_NOT_EXIST" in code or "not found" in text.lower():
                raise UsageError(
                    f"{what} is not in MLflow at {_shown(self.uri)}",
                    "check the reference and the tracking URI (--tracking-uri or "
                    "MLFLOW_TRACKING_URI)",
                ) from None
            raise ExternalError(
                f"MLflow at {_shown(self.uri)} did not answer for {what}: {text[:300]}",
                "check that the tracking server is reachable and the credentials are set",
            ) from None


def _shown(uri: str) -> str:
    from modelship.ci.redact import redact_url

    return redact_url(uri)


def enrich(record: Record, mlflow: Mlflow | None) -> None:
    """Follow what an image or deployment names into MLflow, best effort."""
    if mlflow is None:
        record.notes.append(
            "no tracking URI (--tracking-uri or MLFLOW_TRACKING_URI): MLflow not read"
        )
        return
    values = record.values
    try:
        uri = values.get("model-uri", "")
        match = _MODEL_VERSION.match(uri)
        name = values.get("model-name") or (match["name"] if match else "")
        version = values.get("model-version") or (
            match["version"] if match and match["version"] else ""
        )
        if name and version:
            mlflow.version(record, name, version=version)
        elif values.get("run-id"):
            mlflow.run(record, values["run-id"])
    except (UsageError, ExternalError) as err:
        record.notes.append(f"MLflow: {err.message}")


# -- images --------------------------------------------------------------------------


Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def inspect_image(
    reference: str, tool: str, env: Mapping[str, str], runner: Runner = _run
) -> tuple[dict[str, str], str, str]:
    """(labels, digest, tool used) of a local or remote image."""
    tools = [tool] if tool != "auto" else ["buildah", "podman", "docker"]
    tried: list[str] = []
    for name in tools:
        binary = shutil.which(name, path=env.get("PATH"))
        if not binary:
            tried.append(f"{name}: not installed")
            continue
        argv = {
            "buildah": [binary, "inspect", "--type", "image", reference],
            "podman": [binary, "image", "inspect", reference],
            "docker": _docker(binary, env, "image", "inspect", reference),
        }[name]
        done = runner(argv)
        if done.returncode != 0:
            tried.append(f"{name}: {(done.stderr or done.stdout).strip()[-200:]}")
            continue
        try:
            data = json.loads(done.stdout)
        except ValueError:
            tried.append(f"{name}: unreadable inspect output")
            continue
        labels, digest = parse_inspect(name, data)
        return labels, digest, name
    raise ExternalError(
        f"could not inspect image {reference}: " + "; ".join(tried),
        "pull the image first, or pass --tool buildah|podman|docker",
    )


def parse_inspect(tool: str, data: Any) -> tuple[dict[str, str], str]:
    """Labels and digest from `buildah inspect`, `podman image inspect`, `docker image inspect`."""
    if isinstance(data, list):
        data = data[0] if data else {}
    if not isinstance(data, dict):
        return {}, ""
    labels: Any = {}
    digest = ""
    if tool == "buildah":
        for section in ("OCIv1", "Docker"):
            config = (data.get(section) or {}).get("config") or {}
            labels = labels or config.get("Labels") or {}
        digest = str(data.get("FromImageDigest") or "")
    else:
        labels = data.get("Labels") or (data.get("Config") or {}).get("Labels") or {}
        digest = str(data.get("Digest") or "")
        if not digest:
            for repo_digest in data.get("RepoDigests") or []:
                found = _DIGEST.search(str(repo_digest))
                if found:
                    digest = found.group(0)
                    break
    if not digest:
        found = _DIGEST.search(str(data.get("Id") or data.get("FromImageID") or ""))
        digest = found.group(0) if found else ""
    return {str(k): str(v) for k, v in dict(labels).items()}, digest


def from_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return _pick(labels, _LABELS)


# -- containers ----------------------------------------------------------------------


def _docker(binary: str, env: Mapping[str, str], *args: str) -> list[str]:
    """A docker CLI call on the engine `env` names (the process's own may differ)."""
    host = env.get("DOCKER_HOST", "")
    return [binary, *(["--host", host] if host else []), *args]


def _inspect_one(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        data = json.loads(done.stdout)
    except ValueError:
        data = None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return data[0]
    raise ExternalError("docker inspect printed no object", "check the docker CLI and engine")


def inspect_container(
    name: str, env: Mapping[str, str], runner: Runner = _run
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(container, its image) as `docker container inspect` and `docker image inspect` see them."""
    binary = shutil.which("docker", path=env.get("PATH"))
    host = env.get("DOCKER_HOST") or "the default socket"
    if not binary:
        raise ExternalError(
            f"reading container {name} needs the docker CLI", "install docker (docker.io)"
        )
    done = runner(_docker(binary, env, "container", "inspect", name))
    if done.returncode != 0:
        text = (done.stderr or done.stdout).strip()
        if "no such container" in text.lower():
            raise UsageError(
                f"the Docker engine at {host} has no container {name}", "list them: docker ps -a"
            )
        raise ExternalError(f"docker container inspect {name} failed: {text[-300:]}")
    container = _inspect_one(done)
    image: dict[str, Any] = {}
    image_id = str(container.get("Image") or "")
    if image_id:
        found = runner(_docker(binary, env, "image", "inspect", image_id))
        image = _inspect_one(found) if found.returncode == 0 else {}
    return container, image


def from_container(container: Mapping[str, Any], image: Mapping[str, Any]) -> dict[str, str]:
    """The record a container carries: its image's labels and what the deploy labelled it."""
    from modelship.deploy.docker import ENVIRONMENT_LABEL, REVISION_LABEL

    config = container.get("Config") or {}
    # The engine merges the image's labels into the container's.
    labels = {str(k): str(v) for k, v in dict(config.get("Labels") or {}).items()}
    values = from_labels(labels)
    revision = labels.get(REVISION_LABEL, "")
    repo_digests = [str(d) for d in image.get("RepoDigests") or []]
    deployed = [d for d in repo_digests if revision and d.endswith("@" + revision)]
    reference = (deployed or repo_digests or [str(config.get("Image") or "")])[0]
    found = _DIGEST.search(reference) or _DIGEST.search(str(image.get("Id") or ""))
    values["image"] = reference
    values["image-digest"] = (
        revision if _DIGEST.fullmatch(revision) else (found.group(0) if found else "")
    )
    values["deployment"] = str(container.get("Name") or "").lstrip("/")
    values["deployment-revision"] = revision
    values["environment"] = labels.get(ENVIRONMENT_LABEL, "")
    return values


# -- deployments ---------------------------------------------------------------------


def read_deployment(
    namespace: str,
    name: str,
    kubeconfig: str | None,
    context: str | None,
    env: Mapping[str, str],
    cwd: Path,
) -> dict[str, Any]:
    from modelship.kube.api import Kube, KubeError, KubeUnreachable
    from modelship.kube.config import api_client
    from modelship.kube.config import kubeconfig as resolve

    with resolve(kubeconfig, context, env, cwd, lambda _secret: None) as config:
        kube = Kube(api_client(config, lambda _secret: None))
        try:
            found = kube.get("apps/v1", "Deployment", namespace, name)
        except KubeUnreachable as err:
            raise ExternalError(
                f"the Kubernetes API server is unreachable: {err}",
                "check the kubeconfig's server and your network",
            ) from None
        except KubeError as err:
            raise ExternalError(
                f"reading Deployment {namespace}/{name} failed: {err.reason}",
                "check that the kubeconfig's user may get deployments in that namespace",
            ) from None
    if found is None:
        raise UsageError(
            f"Deployment {name} not found in namespace {namespace}",
            "list them with `kubectl get deployments -n <namespace>`",
        )
    return found


def from_deployment(deployment: Mapping[str, Any], namespace: str, name: str) -> dict[str, str]:
    meta = deployment.get("metadata") or {}
    annotations: dict[str, str] = dict(meta.get("annotations") or {})
    template = ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}
    merged = {**dict(template.get("annotations") or {}), **annotations}
    values = _pick({k: str(v) for k, v in merged.items()}, _ANNOTATIONS)
    values["deployment"] = f"{namespace}/{name}"
    values["deployment-revision"] = str(annotations.get(REVISION_ANNOTATION, ""))
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    chosen = next((c for c in containers if c.get("name") == "model"), None) or (
        containers[0] if containers else {}
    )
    image = str(chosen.get("image", ""))
    values["image"] = image
    if not values.get("image-digest"):
        found = _DIGEST.search(image)
        values["image-digest"] = found.group(0) if found else ""
    return values


# -- the command ---------------------------------------------------------------------


def classify(reference: str) -> str:
    if _MODEL_VERSION.match(reference):
        return "model version"
    if _RUN_URI.match(reference) or _RUN_ID.match(reference):
        return "run"
    if _DEPLOYMENT.match(reference):
        return "deployment"
    if _CONTAINER.match(reference):
        return "container"
    if reference.startswith(("models:/", "runs:/")):
        raise UsageError(
            f"{reference!r} is not a model version or run reference",
            "write models:/<name>/<version>, models:/<name>@<alias> or runs:/<run-id>",
        )
    if not reference or any(ch.isspace() for ch in reference):
        raise UsageError(f"{reference!r} is not a reference", "see `modelship lineage --help`")
    return "image"


def lineage_record(
    reference: str,
    tracking_uri: str | None,
    env: Mapping[str, str],
    cwd: Path,
    kubeconfig: str | None = None,
    kube_context: str | None = None,
    tool: str = "auto",
    runner: Runner = _run,
) -> Record:
    kind = classify(reference)
    record = Record(reference, kind)
    mlflow = Mlflow(tracking_uri, env) if tracking_uri else None
    if kind in ("model version", "run"):
        if mlflow is None:
            raise UsageError(
                "reading a model version or run needs a tracking URI",
                "pass --tracking-uri or set MLFLOW_TRACKING_URI",
            )
        model = _MODEL_VERSION.match(reference)
        if model:
            mlflow.version(
                record, model["name"], version=model["version"] or "", alias=model["alias"] or ""
            )
        else:
            run_uri = _RUN_URI.match(reference)
            mlflow.run(record, run_uri["run"] if run_uri else reference)
        return record
    if kind == "deployment":
        match = _DEPLOYMENT.match(reference)
        assert match is not None
        found = read_deployment(match["ns"], match["name"], kubeconfig, kube_context, env, cwd)
        record.fill(from_deployment(found, match["ns"], match["name"]), "Kubernetes annotations")
    elif kind == "container":
        match = _CONTAINER.match(reference)
        assert match is not None
        container, image = inspect_container(match["name"], env, runner)
        record.fill(from_container(container, image), "container labels (docker)")
    else:
        _image(record, reference, tool, env, runner)
    enrich(record, mlflow)
    return record


def _image(
    record: Record, reference: str, tool: str, env: Mapping[str, str], runner: Runner
) -> None:
    """An image's labels; a container of that name when no tool knows such an image."""
    try:
        labels, digest, used = inspect_image(reference, tool, env, runner)
    except ExternalError:
        if tool not in ("auto", "docker") or not shutil.which("docker", path=env.get("PATH")):
            raise
        try:
            container, image = inspect_container(reference, env, runner)
        except (UsageError, ExternalError):
            raise ExternalError(
                f"could not inspect image or container {reference}",
                "pull the image first, or pass --tool buildah|podman|docker",
            ) from None
        record.kind = "container"
        record.fill(from_container(container, image), "container labels (docker)")
        return
    record.fill({"image": reference, "image-digest": digest}, f"image labels ({used})")
    record.fill(from_labels(labels), f"image labels ({used})")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelship lineage",
        description="Print the lineage record (git SHA, data version, run, model version, "
        "image digest, deployment revision, CI run) of a model version, run, image, "
        "deployment or container.",
        epilog="examples: models:/churn/3  models:/churn@champion  runs:/<run-id>  "
        "ghcr.io/acme/churn@sha256:...  deployment/ml-production/churn-production  "
        "container/churn-production",
    )
    parser.add_argument(
        "reference",
        help="models:/name/version, runs:/id, an image, deployment/ns/name or container/name",
    )
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)"
    )
    parser.add_argument(
        "--kubeconfig", help="kubeconfig path for deployments (default: $KUBECONFIG)"
    )
    parser.add_argument("--kube-context", help="kubeconfig context (default: its current one)")
    parser.add_argument(
        "--tool",
        choices=("auto", "buildah", "podman", "docker"),
        default="auto",
        help="what inspects images (auto: the first of buildah, podman, docker that knows it)",
    )
    parser.add_argument("--json", action="store_true", help="print the record as JSON")
    return parser


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    import os

    out = stdout or sys.stdout
    env = dict(os.environ) if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    try:
        args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as done:
        return int(done.code or 0)
    tracking_uri = args.tracking_uri or env.get("MLFLOW_TRACKING_URI") or None
    log = _logger(env, cwd, stderr, tracking_uri)
    try:
        record = lineage_record(
            args.reference,
            tracking_uri,
            env,
            cwd,
            kubeconfig=args.kubeconfig,
            kube_context=args.kube_context,
            tool=args.tool,
        )
    except Exception as err:  # one line naming the system, never a traceback
        failure = describe(err, "modelship lineage")
        message = err.message if isinstance(err, ModelshipError) else failure.line
        log.log("info", f"modelship lineage: {message}")
        if isinstance(err, ModelshipError) and err.hint:
            log.log("info", f"  hint: {err.hint}")
        return failure.exit_code
    text = json.dumps(record.as_json(), indent=2) if args.json else record.text()
    # The record quotes URLs (tracking server, CI run): never with a password.
    out.write(log.redact(text) + "\n")
    return 0


def _logger(
    env: Mapping[str, str], cwd: Path, stderr: TextIO | None, tracking_uri: str | None
) -> Logger:
    """A logger for the error line, with the tracking server's credentials masked."""
    log = Logger(Platform.detect(env, cwd).name, stream=stderr or sys.stderr, stage="lineage")
    for url in urls_in_text(tracking_uri or ""):
        for secret in secrets_from_url(url):
            log.mask(secret)
    for name in SECRET_ENV:
        if env.get(name):
            log.mask(env[name])
    return log
