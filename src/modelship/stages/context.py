"""`context`: what this run is, and where its model should go."""

from __future__ import annotations

from modelship.ci.context import Result, StageContext
from modelship.spec import Input, Output, Stage
from modelship.stages.input_names import ContextInput

STAGE = Stage(
    name="context",
    title="Pipeline context",
    description=(
        "Map the branch to an environment and derive the version, image tag and "
        "whether this run should deploy."
    ),
    run="modelship.stages.context:run",
    gitlab_stage=".pre",
    inputs=(
        Input(
            "branch-environments",
            "Glob rules branch=environment, first match wins, "
            "e.g. `main=production,release/*=staging`.",
            default="main=production,release/*=staging,*=development",
        ),
        Input(
            "image-name",
            "Image repository for the `image` output, e.g. `ghcr.io/acme/churn`.",
            default="",
            pattern=r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._/-][a-z0-9]+)*)*",
        ),
    ),
    outputs=(
        Output("environment", "Environment for this ref, e.g. `staging`."),
        Output("version", "SemVer 2.0 version, e.g. `1.4.1-dev.3+gabc1234`."),
        Output("sha", "Full commit SHA being built."),
        Output("short-sha", "First 7 characters of the SHA."),
        Output("branch", "Branch name (the head branch of a pull or merge request)."),
        Output("is-release", "`true` on a `vX.Y.Z` tag."),
        Output("should-deploy", "`true` for staging/production on push, `false` for PRs/MRs."),
        Output("image-tag", "The version as a valid OCI tag (`+` becomes `-`)."),
        Output("image", "`<image-name>:<image-tag>` when `image-name` is set."),
        Output("run-url", "Link to this CI run (empty locally)."),
    ),
    example_with={"branch-environments": "main=production,release/*=staging,*=development"},
)

DEPLOY_ENVIRONMENTS = ("staging", "production")


def run(ctx: StageContext[ContextInput]) -> Result:
    from modelship.source import gitinfo
    from modelship.source.refs import read_ref
    from modelship.source.versioning import (
        environment_for,
        oci_tag,
        parse_branch_environments,
        semver,
    )

    rules = parse_branch_environments(ctx.inputs.text("branch-environments"))
    ref = read_ref(ctx.platform, ctx.cwd)
    described = gitinfo.describe(ctx.cwd)
    short = ref.sha[:7]

    if ref.tag and gitinfo.RELEASE_TAG.match(ref.tag):
        version = ref.tag[1:]
    else:
        version = semver(described.tag, described.distance, short)
    if described.tag is None and described.is_shallow:
        ctx.log.warning(
            "shallow clone without tags: the version counts only the fetched commits. "
            "Fetch full history (actions/checkout `fetch-depth: 0`, GitLab `GIT_DEPTH: 0`)."
        )

    environment = environment_for(ref.branch or ref.tag or "", rules)
    should_deploy = environment in DEPLOY_ENVIRONMENTS and not ref.is_pull_request
    image_tag = oci_tag(version)
    image_name = ctx.inputs.text("image-name")
    outputs = {
        "environment": environment,
        "version": version,
        "sha": ref.sha,
        "short-sha": short,
        "branch": ref.branch,
        "is-release": bool(ref.tag and gitinfo.RELEASE_TAG.match(ref.tag)),
        "should-deploy": should_deploy,
        "image-tag": image_tag,
        "image": f"{image_name}:{image_tag}" if image_name else "",
        "run-url": ctx.platform.run_url,
    }
    ctx.summary.table(["output", "value"], [[k, _shown(v)] for k, v in outputs.items()])
    ctx.log.info(
        f"{ref.branch or ref.tag or 'detached HEAD'} -> {environment}, version {version}, "
        f"deploy={'yes' if should_deploy else 'no'} ({ref.event})"
    )
    return Result(outputs)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
