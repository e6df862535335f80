"""`register`: register a model version once, with its lineage, and point an alias at it."""

from __future__ import annotations

from modelship.ci.context import Result, StageContext
from modelship.ci.errors import UsageError
from modelship.spec import Input, Output, Stage
from modelship.stages.input_names import RegisterInput
from modelship.stages.shared import TRACKING_URI

MODEL_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
ALIAS = r"[A-Za-z][A-Za-z0-9_-]{0,63}"

STAGE = Stage(
    name="register",
    title="Register a model version",
    description=(
        "Register the model in the MLflow registry, idempotently (the same source model "
        "returns the same version), copy the run's lineage tags onto the version and set an alias."
    ),
    run="modelship.stages.register:run",
    extras=("mlflow",),
    gitlab_stage="deploy",
    inputs=(
        Input(
            "model-uri",
            "The model to register, e.g. `runs:/<run-id>/model` or `models:/m-<id>`.",
            required=True,
        ),
        Input(
            "model-name", "Registered model name, e.g. `churn`.", required=True, pattern=MODEL_NAME
        ),
        Input(
            "alias",
            "Alias set on the version, e.g. `challenger`; empty for none.",
            default="challenger",
            pattern=ALIAS,
        ),
        Input(
            "tags", "Extra version tags, `key=value` one a line, e.g. `team=growth`.", default=""
        ),
        Input("description", "Version description, e.g. `weekly retrain`.", default=""),
        Input(
            "wait-timeout",
            "Seconds to wait for the version to become READY, e.g. `300`.",
            default="300",
            type="number",
            kind="duration",
        ),
        TRACKING_URI,
    ),
    outputs=(
        Output("model-version", "The version number, e.g. `3`."),
        Output("registered-model-uri", "`models:/<name>/<version>`."),
        Output("created", "`false` when this source model was already registered."),
    ),
    example_with={"model-uri": "${{ needs.train.outputs.model-uri }}", "model-name": "churn"},
)


MAX_WAIT_SECONDS = 24 * 3600


def run(ctx: StageContext[RegisterInput]) -> Result:
    from modelship.ci.inputs import parse_key_values
    from modelship.tracking import registry
    from modelship.tracking.client import open_client
    from modelship.tracking.models import parse_model_uri
    from modelship.tracking.uris import resolve_tracking_uri, uri_secrets

    name = ctx.inputs.text("model-name")
    tags = parse_key_values("tags", ctx.inputs.text("tags"))
    timeout = ctx.inputs.number("wait-timeout") or 300.0
    if not 0 < timeout <= MAX_WAIT_SECONDS:
        raise UsageError(
            f"input 'wait-timeout' must be between 0 and {MAX_WAIT_SECONDS} seconds; "
            f"got {timeout:g}"
        )
    model_uri = ctx.inputs.text("model-uri")
    parse_model_uri(model_uri, "model-uri")  # exit 2 before the registry is contacted
    uri = resolve_tracking_uri(ctx.inputs.optional("tracking-uri"), ctx.env, ctx.workspace)
    for secret in uri_secrets(uri, ctx.env):
        ctx.log.mask(secret)
    client = open_client(uri, ctx.env)
    done = registry.guarded(
        lambda: registry.register(
            client,
            model_uri,
            name,
            alias=ctx.inputs.optional("alias"),
            tags=tags,
            description=ctx.inputs.optional("description"),
            wait_timeout=timeout,
        ),
        f"could not register {model_uri} as {name}",
    )
    what = "registered" if done.created else "already registered as"
    ctx.log.info(f"{model_uri} {what} {name} version {done.version}")
    alias = ctx.inputs.optional("alias")
    rows = [
        ["model", name],
        ["version", done.version],
        ["created", "yes" if done.created else "no (same source registered before)"],
        ["source", model_uri],
        ["run", done.run_id or "(none)"],
    ]
    if alias:
        rows.append(["alias", f"{alias} -> {done.version}"])
    ctx.summary.table(["", "value"], rows)
    return Result(
        {"model-version": done.version, "registered-model-uri": done.uri, "created": done.created}
    )
