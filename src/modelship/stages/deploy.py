"""`deploy`: put a model in front of users, safely, and undo it by itself when it fails."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from modelship.ci.context import Result, StageContext
from modelship.ci.errors import ExternalError, UsageError
from modelship.spec import Input, Output, Stage

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from modelship.deploy.local import LocalServer
    from modelship.deploy.result import DeployResult
    from modelship.deploy.smoke import SmokeResult
    from modelship.kube.deployer import Plan, SmokeSpec, Timeline
    from modelship.kube.render import Manifest
    from modelship.kube.validation import Validation
    from modelship.stages.input_names import DeployInput

DURATION = r"[0-9]+(\.[0-9]+)?(ms|s|m|h)?"

STAGE = Stage(
    name="deploy",
    title="Deploy",
    description=(
        "Deploy a model serving image to Kubernetes (server-side apply, watched rollout, "
        "smoke test, automatic rollback; rolling, canary or blue-green), or serve a model "
        "locally with MLflow's scoring server."
    ),
    run="modelship.stages.deploy:run",
    extras=("kube", "mlflow"),
    gitlab_stage="deploy",
    inputs=(
        Input(
            "target",
            "Where to deploy: `kubernetes`, `docker` (a container on the runner or at "
            "`DOCKER_HOST`, blue-green) or `local` (MLflow scoring server on this machine).",
            default="kubernetes",
            options=("kubernetes", "docker", "local"),
        ),
        Input(
            "image",
            "Serving image for Kubernetes or Docker, e.g. `ghcr.io/acme/churn@sha256:...` "
            "(the build's `image-ref`).",
            default="",
        ),
        Input(
            "environment",
            "Environment name, e.g. `staging` "
            "(default: the `context` stage's output, else `staging`).",
            default="",
            pattern=r"[a-z0-9]([a-z0-9-]*[a-z0-9])?",
        ),
        Input(
            "namespace",
            "Kubernetes namespace to deploy into, e.g. `ml-staging`.",
            default="default",
            pattern=r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
            kind="k8s-namespace",
        ),
        Input(
            "name",
            "Name of the Deployment and Service (default `<model-name>-<environment>`).",
            default="",
            pattern=r"[a-z]([a-z0-9-]{0,51}[a-z0-9])?",
            kind="k8s-name",
        ),
        Input(
            "model-name",
            "Model name for the default `name` and the lineage, e.g. `churn` "
            "(default: from `model-uri`, else the repository name).",
            default="",
        ),
        Input(
            "manifests",
            "Your manifests instead of the generated ones: a YAML file, a directory or a "
            "kustomization, e.g. `deploy/k8s`. The container named `model` (or image "
            "`MODELSHIP_IMAGE`) gets `image`.",
            default="",
        ),
        Input(
            "replicas",
            "Replicas of the Deployment, e.g. `2`.",
            default="2",
            pattern=r"[0-9]+",
            kind="integer",
            minimum=0,
            maximum=10_000,
        ),
        Input(
            "strategy",
            "`rolling`, `canary` (new version beside the stable one, then promoted) or "
            "`blue-green` (idle colour tested, then the Service switches).",
            default="rolling",
            options=("rolling", "canary", "blue-green"),
        ),
        Input(
            "canary-weight",
            "Share of the pods the canary gets, in percent (by replicas), e.g. `20`.",
            default="20",
            pattern=r"[0-9]{1,2}",
            kind="integer",
            minimum=1,
            maximum=99,
        ),
        Input(
            "timeout",
            "How long a rollout (and the local server's start) may take, e.g. `10m`, `90s`.",
            default="10m",
            pattern=DURATION,
            kind="duration",
        ),
        Input(
            "progress-deadline",
            "`progressDeadlineSeconds` of the generated Deployment, e.g. `5m`.",
            default="5m",
            pattern=DURATION,
            kind="duration",
        ),
        Input(
            "kubeconfig",
            "Kubeconfig: a path, or its content (YAML or base64). A secret; default `$KUBECONFIG`.",
            default=None,
            secret=True,
            kind="kubeconfig",
        ),
        Input(
            "kube-context", "Kubeconfig context to use (default: its current context).", default=""
        ),
        Input(
            "smoke-payload",
            "Smoke-test request: JSON (records list or a scoring-server request) or CSV rows "
            'with a header, inline or a file path, e.g. `[{"age": 42}]`. '
            "Without it, `/ping` is checked.",
            default="",
        ),
        Input(
            "smoke-expect",
            "Expected predictions, e.g. `[0, 1]` (optional).",
            default="",
        ),
        Input(
            "latency-budget-ms",
            "Median smoke-test latency allowed, in milliseconds, e.g. `500`.",
            default="2000",
            type="number",
            minimum=1,
        ),
        Input(
            "smoke-requests",
            "Requests the smoke test sends, e.g. `3`.",
            default="3",
            pattern=r"[1-9][0-9]*",
            kind="integer",
            minimum=1,
            maximum=1000,
        ),
        Input(
            "smoke-url",
            "Base URL to smoke-test, e.g. `https://churn.example.com` "
            "(default: the Service through the API server proxy).",
            default="",
            pattern=r"https?://\S+",
            kind="url",
            schemes=("http", "https"),
        ),
        Input(
            "rollback-on-failure",
            "Roll back to the previous revision when the rollout or the smoke test fails.",
            default="true",
            type="boolean",
        ),
        Input(
            "dry-run",
            "Only render and validate the manifests, and write them to `manifests-dir`.",
            default="false",
            type="boolean",
        ),
        Input(
            "kube-version",
            "Kubernetes version whose OpenAPI schema the manifests are validated against, "
            "e.g. `1.30` (default: the newest modelship knows).",
            default="",
            pattern=r"v?[0-9]+\.[0-9]+(\.[0-9]+)?",
        ),
        Input(
            "manifests-dir",
            "Where the rendered manifests are written, e.g. `modelship-reports/manifests`.",
            default="modelship-reports/manifests",
        ),
        Input(
            "container-port",
            "Port the serving image listens on.",
            default="8080",
            pattern=r"[0-9]{2,5}",
            kind="integer",
            minimum=1,
            maximum=65535,
        ),
        Input(
            "resources",
            "Container resources as key=value, e.g. `requests.cpu=250m,limits.memory=1Gi`.",
            default="requests.cpu=250m,requests.memory=512Mi,limits.cpu=1,limits.memory=1Gi",
            type="list",
        ),
        Input(
            "autoscale-max",
            "Maximum replicas of a HorizontalPodAutoscaler (none when empty), e.g. `10`.",
            default="",
            pattern=r"[0-9]*",
            kind="integer",
            minimum=1,
            maximum=10_000,
        ),
        Input(
            "autoscale-cpu",
            "Target CPU utilisation of the autoscaler, percent.",
            default="70",
            pattern=r"[0-9]{1,3}",
            kind="integer",
            minimum=1,
            maximum=999,
        ),
        Input(
            "model-uri",
            "Model to serve locally (and recorded as lineage), e.g. `models:/churn@champion`.",
            default="",
        ),
        Input("model-version", "Model version for the lineage annotations, e.g. `7`.", default=""),
        Input("run-id", "MLflow run id for the lineage annotations.", default=""),
        Input(
            "port",
            "Local and docker targets: the stable host port (default: a free one; docker "
            "keeps the serving container's).",
            default="",
            pattern=r"[0-9]{0,5}",
            kind="integer",
            minimum=1,
            maximum=65535,
        ),
        Input(
            "bind-address",
            "Docker target: host address the port is published on, e.g. `0.0.0.0`.",
            default="127.0.0.1",
            pattern=r"[0-9.]+|[0-9a-fA-F:]+",
        ),
        Input(
            "keep-running",
            "Local target: leave the server running (pid in `pid-file`) instead of stopping it.",
            default="false",
            type="boolean",
        ),
        Input(
            "pid-file",
            "Local target: pid file of a kept server.",
            default=".modelship/serve.pid",
            kind="file",
        ),
    ),
    outputs=(
        Output(
            "endpoint",
            "URL of the deployed model, e.g. `http://churn-staging.ml.svc.cluster.local:80`.",
        ),
        Output("revision", "Deployment revision now serving, e.g. `4`."),
        Output(
            "previous-revision", "Revision that served before this deploy (empty on the first)."
        ),
        Output("rolled-back", "`true` when a failure was rolled back."),
        Output("status", "`succeeded`, `rolled-back`, `failed` or `dry-run`."),
        Output(
            "serving", "Deployment now serving (with blue-green, its colour), or the local pid."
        ),
        Output("manifests-dir", "Directory of the rendered manifests."),
    ),
    example_with={
        "image": "ghcr.io/acme/churn:1.4.0",
        "namespace": "ml-staging",
        "kubeconfig": "${{ secrets.KUBECONFIG }}",
        "smoke-payload": '[{"age": 42, "plan": "pro"}]',
    },
)


def parse_duration(text: str) -> float:
    match = re.fullmatch(DURATION, text.strip())
    if not match:
        raise UsageError(f"{text!r} is not a duration", "e.g. 90s, 10m, 1h")
    unit = match.group(2) or ""
    number = float(text.strip().removesuffix(unit))
    return number * {"ms": 0.001, "s": 1.0, "": 1.0, "m": 60.0, "h": 3600.0}[unit]


def run(ctx: StageContext[DeployInput]) -> Result:
    from modelship.stages import deploy_checks

    if ctx.inputs.text("target") == "kubernetes":
        from modelship.kube.config import mask_credentials

        # Before any line that could carry a manifest's or a file's name: a
        # line forged there must not hide what a later mask would cover.
        mask_credentials(ctx.inputs.optional("kubeconfig"), ctx.env, ctx.cwd, ctx.log.mask)
    deploy_checks.check(ctx, parse_duration)
    if ctx.inputs.text("target") == "local":
        return _run_local(ctx)
    if ctx.inputs.text("target") == "docker":
        return _run_docker(ctx)
    return _run_kubernetes(ctx)


# -- shared --------------------------------------------------------------------------


def _smoke_spec(ctx: StageContext[DeployInput]) -> SmokeSpec:
    from modelship.deploy import smoke
    from modelship.kube.deployer import SmokeSpec

    raw = ctx.inputs.text("smoke-payload")
    payload = None
    if raw:
        if "\n" not in raw and not raw.lstrip().startswith(("[", "{")) and "," not in raw:
            path = ctx.path(raw, "input 'smoke-payload'")
            if not path.is_file():
                raise UsageError(f"smoke-payload file {raw!r} does not exist")
            raw = path.read_text(encoding="utf-8")
        payload = smoke.parse_payload(raw)
    expect = ctx.inputs.text("smoke-expect")
    budget = ctx.inputs.number("latency-budget-ms")
    return SmokeSpec(
        payload,
        smoke.parse_expected(expect) if expect else None,
        budget,
        ctx.inputs.integer("smoke-requests") or 3,
    )


def _model_name(ctx: StageContext[DeployInput]) -> str:
    given = ctx.inputs.text("model-name")
    if given:
        return given
    uri = ctx.inputs.text("model-uri")
    match = re.match(r"models:/([^/@]+)", uri)
    if match:
        return match.group(1)
    return ctx.platform.repository_name


def _environment(ctx: StageContext[DeployInput]) -> str:
    from modelship.ci.outputs import read_local

    return (
        ctx.inputs.text("environment")
        or read_local(ctx.workspace, "context").get("environment", "")
        or "staging"
    )


def _timeline_summary(ctx: StageContext[DeployInput], timeline: Timeline, title: str) -> None:
    ctx.summary.heading(title)
    ctx.summary.table(
        ["time", "event"], [[f"+{seconds:.1f}s", text] for seconds, text in timeline.events]
    )


# -- local ---------------------------------------------------------------------------


def _run_local(ctx: StageContext[DeployInput]) -> Result:
    from modelship.deploy import local as serving
    from modelship.kube.deployer import Timeline

    model_uri = ctx.inputs.text("model-uri")
    if not model_uri:
        raise UsageError(
            "target local needs `model-uri`", "e.g. models:/churn@champion or runs:/<id>/model"
        )
    spec = _smoke_spec(ctx)
    timeout = parse_duration(ctx.inputs.text("timeout"))
    port = ctx.inputs.integer("port") if ctx.inputs.text("port") else None
    keep = ctx.inputs.flag("keep-running")
    pid_file = ctx.path(ctx.inputs.text("pid-file"), "input 'pid-file'")
    timeline = Timeline(echo=ctx.log.info)

    replaced = serving.stop_previous(pid_file)
    if replaced:
        timeline.add(f"stopped the scoring server a previous deploy left running (pid {replaced})")
    log_path = pid_file.with_suffix(".log")
    server, proc = serving.start(model_uri, port, ctx.env, log_path, ctx.cwd)
    timeline.add(
        f"started the MLflow scoring server for {model_uri} on {server.endpoint} (pid {server.pid})"
    )
    try:
        result = _smoke_local(ctx, spec, server, proc, timeout, log_path, timeline)
    except BaseException:
        serving.stop(server.pid)
        raise
    outputs: dict[str, Any] = {
        "endpoint": server.endpoint,
        "revision": "",
        "previous-revision": "",
        "rolled-back": False,
        "status": "succeeded" if result.passed else "failed",
        "serving": str(server.pid) if keep and result.passed else "",
        "manifests-dir": "",
    }
    if keep and result.passed:
        serving.write_pid_file(pid_file, server)
        timeline.add(
            f"left running; pid {server.pid} in {pid_file.relative_to(ctx.workspace.resolve())}"
        )
    else:
        serving.stop(server.pid)
        timeline.add("stopped the scoring server")
    _timeline_summary(ctx, timeline, "Local deploy")
    if not result.passed:
        return Result(outputs, gate_failed=f"smoke test failed: {result.reason}")
    return Result(outputs)


def _smoke_local(
    ctx: StageContext[DeployInput],
    spec: SmokeSpec,
    server: LocalServer,
    proc: subprocess.Popen[bytes],
    timeout: float,
    log_path: Path,
    timeline: Timeline,
) -> SmokeResult:
    """Wait for /ping, then the smoke test (or /ping alone without a payload)."""
    from modelship.deploy import local as serving
    from modelship.deploy import smoke

    try:
        seconds = serving.wait_ready(server, proc, timeout)
    except ExternalError:
        ctx.log.untrusted(serving.log_tail(log_path))
        raise
    timeline.add(f"/ping answered after {seconds:.1f}s")
    if spec.payload is not None:
        result = smoke.run(
            smoke.http_transport(server.endpoint),
            spec.payload,
            spec.expected,
            spec.budget_ms,
            spec.requests,
        )
    else:
        ok = smoke.ping(server.endpoint)
        result = smoke.SmokeResult(
            ok, "/ping answered 200 (no smoke-payload given)" if ok else "/ping failed"
        )
    timeline.add(f"smoke test: {'passed' if result.passed else 'FAILED'}, {result.reason}")
    return result


# -- docker --------------------------------------------------------------------------


def _run_docker(ctx: StageContext[DeployInput]) -> Result:
    from modelship.deploy import docker as dockerdeploy
    from modelship.kube.deployer import Timeline
    from modelship.kube.render import dns_name

    image = ctx.inputs.text("image")
    if not image:
        raise UsageError("target docker needs `image`", "pass the build stage's `image-ref`")
    environment = _environment(ctx)
    name = ctx.inputs.text("name") or dns_name(f"{_model_name(ctx)}-{environment}")
    bind = ctx.inputs.text("bind-address")
    plan = dockerdeploy.DockerPlan(
        name=dockerdeploy.validate_name(name),
        image=image,
        environment=environment,
        container_port=ctx.inputs.integer("container-port") or 8080,
        host_port=ctx.inputs.integer("port") if ctx.inputs.text("port") else None,
        bind_address=bind,
        timeout=parse_duration(ctx.inputs.text("timeout")),
        smoke=_smoke_spec(ctx),
        rollback=ctx.inputs.flag("rollback-on-failure"),
    )
    timeline = Timeline(echo=ctx.log.info)
    client = dockerdeploy.connect(ctx.env)
    host = dockerdeploy.endpoint_host(ctx.env, bind)
    try:
        outcome = dockerdeploy.DockerDeployer(client, plan, timeline, host).run()
    finally:
        _timeline_summary(ctx, timeline, "Docker deploy (blue-green)")
        client.close()
    outputs: dict[str, Any] = {
        "endpoint": outcome.endpoint,
        "revision": outcome.revision,
        "previous-revision": outcome.previous_revision,
        "rolled-back": outcome.rolled_back,
        "status": outcome.status,
        "serving": outcome.serving,
        "manifests-dir": "",
    }
    if outcome.status != "succeeded":
        what = "rolled back" if outcome.rolled_back else "not rolled back"
        return Result(outputs, gate_failed=f"deploy failed ({what}): {outcome.reason}")
    return Result(outputs)


# -- kubernetes ----------------------------------------------------------------------


def _lineage(ctx: StageContext[DeployInput], image: str, environment: str) -> dict[str, str]:
    from modelship.kube.render import LINEAGE_ANNOTATIONS

    env = ctx.env
    sha = env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA") or ""
    if not sha:
        from modelship.ci.outputs import read_local

        sha = read_local(ctx.workspace, "context").get("sha", "")
    digest = image.split("@", 1)[1] if "@" in image else ""
    model_uri = ctx.inputs.text("model-uri")
    version = ctx.inputs.text("model-version")
    if not version:
        match = re.match(r"models:/[^/@]+/([0-9]+)$", model_uri)
        version = match.group(1) if match else ""
    values = {
        "git-sha": sha,
        "run-id": ctx.inputs.text("run-id"),
        "model-uri": model_uri,
        "model-version": version,
        "image-digest": digest,
        "ci-run-url": ctx.platform.run_url,
        "environment": environment,
    }
    return {LINEAGE_ANNOTATIONS[k]: v for k, v in values.items() if v}


def _resources(ctx: StageContext[DeployInput]) -> Any:
    from modelship.kube.render import Resources

    fields = {
        "requests.cpu": "requests_cpu",
        "requests.memory": "requests_memory",
        "limits.cpu": "limits_cpu",
        "limits.memory": "limits_memory",
    }
    values: dict[str, str] = {}
    for item in ctx.inputs.items("resources"):
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in fields or not value.strip():
            raise UsageError(f"input 'resources': {item!r} is not one of {', '.join(fields)}=value")
        values[fields[key.strip()]] = value.strip()
    return Resources(**values)


def _manifests(
    ctx: StageContext[DeployInput], name: str, namespace: str, image: str, lineage: dict[str, str]
) -> list[Manifest]:
    from modelship.kube import manifests as kube_manifests
    from modelship.kube import render

    given = ctx.inputs.text("manifests")
    if given:
        loaded = kube_manifests.load(ctx.path(given, "input 'manifests'"), ctx.env, ctx.workspace)
        for value in kube_manifests.secret_values(loaded):
            if "\n" not in value.strip():  # a multi-line value is only ever shown redacted
                ctx.log.mask(value)
        loaded = kube_manifests.set_image(loaded, image)
        loaded = kube_manifests.set_namespace(loaded, namespace)
    else:
        max_replicas = ctx.inputs.text("autoscale-max")
        loaded = render.render(
            render.AppSpec(
                name=name,
                namespace=namespace,
                image=image,
                replicas=ctx.inputs.integer("replicas") or 0,
                container_port=ctx.inputs.integer("container-port") or 8080,
                resources=_resources(ctx),
                progress_deadline_seconds=max(
                    1, int(parse_duration(ctx.inputs.text("progress-deadline")))
                ),
                autoscale_max=int(max_replicas) if max_replicas else None,
                autoscale_cpu_percent=ctx.inputs.integer("autoscale-cpu") or 70,
                annotations=lineage,
            )
        )
    primary = kube_manifests.primary_deployment(loaded)
    if ctx.inputs.text("strategy") != "blue-green":
        # The stable track: a canary beside it never falls under its selector.
        stable = render.with_labels(primary, {render.TRACK_LABEL: "stable"}, selector=True)
        loaded = [stable if item is primary else item for item in loaded]
        primary = stable
    sha = lineage.get(render.LINEAGE_ANNOTATIONS["git-sha"], "")
    change = f"modelship deploy of {image}" + (f" at {sha[:12]}" if sha else "")
    primary.setdefault("metadata", {}).setdefault("annotations", {}).update(
        {**lineage, render.CHANGE_CAUSE: change}
    )
    template_meta = primary.setdefault("spec", {}).setdefault("template", {})
    template_meta.setdefault("metadata", {}).setdefault("annotations", {}).update(lineage)
    return loaded


def _validated(ctx: StageContext[DeployInput], manifests: list[Manifest]) -> Validation:
    from modelship.kube import validation

    version = validation.schema_version(ctx.inputs.text("kube-version"))
    checked = validation.validate(manifests, version)
    for item in checked.not_validated:
        ctx.log.warning(item)
    return checked


def _run_kubernetes(ctx: StageContext[DeployInput]) -> Result:
    from modelship.kube import manifests as kube_manifests
    from modelship.kube.render import dns_name

    image = ctx.inputs.text("image")
    if not image:
        raise UsageError("target kubernetes needs `image`", "pass the image the build stage pushed")
    environment = _environment(ctx)
    namespace = ctx.inputs.text("namespace")
    name = ctx.inputs.text("name") or dns_name(f"{_model_name(ctx)}-{environment}")
    if not name:
        raise UsageError("cannot derive a Deployment name", "set `name` or `model-name`")
    lineage = _lineage(ctx, image, environment)
    manifests = _manifests(ctx, name, namespace, image, lineage)
    checked = _validated(ctx, manifests)
    ctx.log.info(f"{checked.summary()}: " + ", ".join(checked.validated))
    out_dir = ctx.path(ctx.inputs.text("manifests-dir"), "input 'manifests-dir'")
    out_dir.mkdir(parents=True, exist_ok=True)
    # Secret values go to the cluster only, never to a file or a report; a
    # password inside a URL the user passed (image, model URI) is one too.
    shown_yaml = ctx.log.redact(kube_manifests.dump(kube_manifests.redacted(manifests)))
    (out_dir / f"{name}.yaml").write_text(shown_yaml, encoding="utf-8")
    shown_dir = str(out_dir.relative_to(ctx.workspace.resolve()))

    if ctx.inputs.flag("dry-run"):
        return _dry_run(ctx, checked, manifests, name, shown_dir, shown_yaml)

    from modelship.kube.deployer import Plan

    plan = Plan(
        namespace=namespace,
        manifests=manifests,
        strategy=ctx.inputs.text("strategy"),
        canary_weight=ctx.inputs.integer("canary-weight") or 20,
        timeout=parse_duration(ctx.inputs.text("timeout")),
        smoke=_smoke_spec(ctx),
        smoke_url=ctx.inputs.optional("smoke-url"),
        rollback=ctx.inputs.flag("rollback-on-failure"),
    )
    outcome = _deploy(ctx, plan)
    outputs: dict[str, Any] = {
        "endpoint": outcome.endpoint,
        "revision": outcome.revision,
        "previous-revision": outcome.previous_revision,
        "rolled-back": outcome.rolled_back,
        "status": outcome.status,
        "serving": outcome.serving,
        "manifests-dir": shown_dir,
    }
    if outcome.status != "succeeded":
        what = "rolled back" if outcome.rolled_back else "not rolled back"
        return Result(outputs, gate_failed=f"deploy failed ({what}): {outcome.reason}")
    return Result(outputs)


def _dry_run(
    ctx: StageContext[DeployInput],
    checked: Validation,
    manifests: list[Manifest],
    name: str,
    shown_dir: str,
    shown_yaml: str,
) -> Result:
    """Rendered and validated, written to the manifests folder, applied nowhere."""
    ctx.summary.heading("Dry run")
    ctx.summary.text(
        f"{len(manifests)} manifests rendered; {checked.summary()}; "
        f"written to {shown_dir}/{name}.yaml"
    )
    if checked.not_validated:
        ctx.summary.text("Not validated: " + "; ".join(checked.not_validated))
    ctx.summary.code(shown_yaml, title="manifests")
    return Result(
        {
            "endpoint": "",
            "revision": "",
            "previous-revision": "",
            "rolled-back": False,
            "status": "dry-run",
            "serving": name,
            "manifests-dir": shown_dir,
        }
    )


def _deploy(ctx: StageContext[DeployInput], plan: Plan) -> DeployResult:
    from modelship.kube import config as kube_config
    from modelship.kube.api import Kube, KubeError, KubeUnreachable
    from modelship.kube.deployer import Deployer, DeployFailed, Timeline

    timeline = Timeline(echo=ctx.log.info)
    with kube_config.kubeconfig(
        ctx.inputs.optional("kubeconfig"),
        ctx.inputs.optional("kube-context"),
        ctx.env,
        ctx.cwd,
        ctx.log.mask,
    ) as kubeconfig:
        kube = Kube(kube_config.api_client(kubeconfig, ctx.log.mask))
        try:
            try:
                version = kube.version()
            except KubeUnreachable as err:
                raise ExternalError(
                    f"the Kubernetes API server does not answer: {err}",
                    "check the cluster address in the kubeconfig and the runner's network; "
                    "nothing was changed",
                ) from None
            timeline.add(f"connected to Kubernetes {version.get('gitVersion', '?')}")
            exists = kube.namespace_exists(plan.namespace)
            if exists is False:
                raise UsageError(
                    f"namespace {plan.namespace!r} does not exist",
                    "create it (with the Role in docs/kubernetes.md) or fix `namespace`; "
                    "nothing was changed",
                )
            outcome = Deployer(kube, plan, timeline).run()
        except KubeUnreachable as err:
            raise ExternalError(f"lost the Kubernetes API server: {err}") from None
        except DeployFailed as err:
            raise UsageError(str(err)) from None
        except KubeError as err:
            raise _kube_error(err, plan.namespace) from None
        finally:
            _timeline_summary(ctx, timeline, f"Rollout ({plan.strategy})")
            kube.close()
    _outcome_summary(ctx, outcome)
    return outcome


def _outcome_summary(ctx: StageContext[DeployInput], outcome: DeployResult) -> None:
    if outcome.smoke is not None:
        median = outcome.smoke.median_ms
        ctx.summary.table(
            ["smoke test", "result", "median latency"],
            [
                [
                    "passed" if outcome.smoke.passed else "failed",
                    outcome.smoke.reason,
                    f"{median:.0f} ms" if median is not None else "-",
                ]
            ],
        )
    ctx.summary.table(
        ["output", "value"],
        [
            ["status", outcome.status],
            ["revision", outcome.revision or "-"],
            ["previous revision", outcome.previous_revision or "-"],
            ["rolled back", "yes" if outcome.rolled_back else "no"],
            ["serving", outcome.serving or "-"],
            ["endpoint", outcome.endpoint or "-"],
        ],
    )


def _kube_error(err: Any, namespace: str) -> Exception:
    message = err.message or err.reason
    if err.status == 404 and "namespace" in message:
        return UsageError(
            f"namespace {namespace!r} does not exist: {message}", "create it or fix `namespace`"
        )
    if err.status in (401, 403):
        return ExternalError(
            f"the cluster refused the deploy ({err.status} {err.reason}): {message}",
            "grant the Role listed in docs/kubernetes.md to the deploy's identity",
        )
    if err.status in (400, 409, 422):
        return UsageError(
            f"the API server rejected a manifest ({err.status} {err.reason}): {message}"
        )
    return ExternalError(f"Kubernetes API error {err.status} {err.reason}: {message}")
