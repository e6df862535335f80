"""`promote`: move the champion alias to a version, keeping the previous one for rollback."""

from __future__ import annotations

from modelship.ci.context import Result, StageContext
from modelship.ci.errors import UsageError
from modelship.spec import Input, Output, Stage
from modelship.stages.input_names import PromoteInput
from modelship.stages.shared import TRACKING_URI

MODEL_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
ALIAS = r"[A-Za-z][A-Za-z0-9_-]{0,63}"

STAGE = Stage(
    name="promote",
    title="Promote a model version",
    description=(
        "Point the `champion` alias at a version and keep the previous holder under "
        "`previous-champion`; `rollback: true` moves it back. The alias is read back after "
        "the move, so a concurrent writer is caught. Run it under a concurrency group "
        "(GitHub) or resource group (GitLab)."
    ),
    run="modelship.stages.promote:run",
    extras=("mlflow",),
    gitlab_stage="deploy",
    inputs=(
        Input(
            "model-name", "Registered model name, e.g. `churn`.", required=True, pattern=MODEL_NAME
        ),
        Input(
            "version",
            "Version to promote, e.g. `3` (or give `model-uri`).",
            default="",
            pattern=r"[1-9][0-9]*",
        ),
        Input(
            "model-uri",
            "Model to promote when `version` is empty, e.g. `models:/churn/3`, "
            "`models:/churn@challenger` or the registered `runs:/<run-id>/model`.",
            default="",
        ),
        Input("alias", "The alias to move, e.g. `champion`.", default="champion", pattern=ALIAS),
        Input(
            "previous-alias",
            "Alias kept on the previous holder, e.g. `previous-champion`.",
            default="previous-champion",
            pattern=ALIAS,
        ),
        Input(
            "rollback",
            "`true` moves the alias back to the version under `previous-alias`.",
            default="false",
            type="boolean",
        ),
        TRACKING_URI,
    ),
    outputs=(
        Output("model-version", "The version the alias points to now."),
        Output("previous-version", "The version it pointed to before ('' if none)."),
    ),
    example_with={"model-name": "churn", "version": "${{ needs.register.outputs.model-version }}"},
)


def run(ctx: StageContext[PromoteInput]) -> Result:
    from modelship.tracking import registry
    from modelship.tracking.client import open_client
    from modelship.tracking.uris import resolve_tracking_uri, uri_secrets

    name = ctx.inputs.text("model-name")
    alias = ctx.inputs.text("alias")
    previous_alias = ctx.inputs.text("previous-alias")
    if alias == previous_alias:
        raise UsageError("inputs 'alias' and 'previous-alias' must differ")
    rolling_back = ctx.inputs.flag("rollback")
    version_input = ctx.inputs.optional("version")
    uri_input = ctx.inputs.optional("model-uri")
    if rolling_back and (version_input or uri_input):
        raise UsageError(
            "rollback moves the alias to the version under previous-alias; "
            "do not also give version or model-uri"
        )
    if not rolling_back and not (version_input or uri_input):
        raise UsageError("give `version` or `model-uri` (or `rollback: true`)")
    uri = resolve_tracking_uri(ctx.inputs.optional("tracking-uri"), ctx.env, ctx.workspace)
    for secret in uri_secrets(uri, ctx.env):
        ctx.log.mask(secret)
    client = open_client(uri, ctx.env)

    if rolling_back:
        done = registry.guarded(
            lambda: registry.rollback(client, name, alias=alias, previous_alias=previous_alias),
            f"could not roll back {name}@{alias}",
        )
        ctx.log.info(f"rolled back {name}@{alias}: {done.previous_version} -> {done.version}")
    else:
        version = registry.guarded(
            lambda: registry.resolve_version(client, name, version_input, uri_input),
            f"could not find the version of {name} to promote",
        )
        done = registry.guarded(
            lambda: registry.promote(
                client, name, version, alias=alias, previous_alias=previous_alias
            ),
            f"could not promote {name} version {version}",
        )
        if done.changed:
            was = done.previous_version or "(unset)"
            ctx.log.info(f"promoted {name}@{alias}: {was} -> {done.version}")
        else:
            ctx.log.info(f"{name}@{alias} already points to version {done.version}; nothing to do")
    ctx.summary.table(
        ["alias", "version"],
        [
            [alias, done.version],
            [previous_alias, done.previous_version if done.changed else "(unchanged)"],
        ],
    )
    return Result({"model-version": done.version, "previous-version": done.previous_version})
