"""`data`: the exact data, pulled with DVC, verified and fingerprinted."""

from __future__ import annotations

from modelship.ci.context import Result, StageContext
from modelship.spec import Input, Output, Stage
from modelship.stages.input_names import DataInput

STAGE = Stage(
    name="data",
    title="Data",
    description=(
        "Pull the DVC-tracked data, verify it against dvc.lock and the .dvc files, "
        "optionally push what the remote lacks, and publish a stable fingerprint of "
        "exactly which data this is."
    ),
    run="modelship.stages.data:run",
    extras=("data",),
    gitlab_stage="build",
    inputs=(
        Input(
            "remote",
            "DVC remote to pull from and push to, e.g. `storage`; default: the repository's "
            "default remote.",
            default="",
            pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
        ),
        Input(
            "targets",
            "Stages, `.dvc` files or tracked paths (lines or commas), e.g. `data/train.csv`; "
            "default: everything DVC tracks.",
            type="list",
            default="",
        ),
        Input(
            "working-directory",
            "A folder inside the DVC project, inside the workspace, e.g. `project/`.",
            type="path",
            default=".",
        ),
        Input("pull", "Run `dvc pull` first.", type="boolean", default="true"),
        Input(
            "verify",
            "Fail (exit 1), naming each file, when workspace data differs from dvc.lock/.dvc.",
            type="boolean",
            default="true",
        ),
        Input(
            "push",
            "Upload to the remote what it does not have yet.",
            type="boolean",
            default="false",
        ),
        Input(
            "verify-checksums",
            "Re-hash every object downloaded from the remote (DVC's remote `verify` option).",
            type="boolean",
            default="false",
        ),
    ),
    outputs=(
        Output(
            "data-version",
            "Fingerprint of the content hashes of every tracked output, e.g. `3f9a0c1d2b4e5f60`: "
            "same data, same value.",
        ),
        Output(
            "datasets",
            'JSON list of `{path, md5, size, nfiles}`, e.g. `[{"path":"data/train.csv",...}]`.',
        ),
    ),
    example_with={"remote": "storage"},
)


def run(ctx: StageContext[DataInput]) -> Result:
    from modelship.ci.errors import UsageError
    from modelship.data import dvc as dvcdata

    workdir = ctx.path(ctx.inputs.text("working-directory") or ".", "input 'working-directory'")
    if not workdir.is_dir():
        raise UsageError(f"input 'working-directory': {workdir} is not a directory")
    targets = ctx.inputs.items("targets")
    remote = ctx.inputs.optional("remote")
    checksums = ctx.inputs.flag("verify-checksums")

    need_remote = ctx.inputs.flag("pull") or ctx.inputs.flag("push")
    with dvcdata.in_repo(workdir, remote, verify=checksums, need_remote=need_remote) as repo:
        outs = dvcdata.tracked(repo, targets)
        if not outs:
            raise UsageError(
                "DVC tracks no cached data here"
                + (f" for {', '.join(targets)}" if targets else ""),
                "track data with `dvc add` or a dvc.yaml stage's outs, and commit dvc.lock/.dvc",
            )
        sets = dvcdata.datasets(repo, outs)
        if ctx.inputs.flag("pull"):
            with ctx.log.group(f"dvc pull{' -r ' + remote if remote else ''}"):
                fetched = dvcdata.pull(repo, targets, remote, outs)
            ctx.log.info(f"pulled {fetched} file(s)" + (" (re-hashed)" if checksums else ""))
        mismatches = dvcdata.verify(repo, outs)
        if ctx.inputs.flag("push") and mismatches:
            ctx.log.warning("not pushing: the workspace differs from what DVC recorded")
        elif ctx.inputs.flag("push"):
            with ctx.log.group("dvc push"):
                pushed = dvcdata.push(repo, targets, remote)
            ctx.log.info(f"pushed {pushed} file(s)")

    version = dvcdata.fingerprint(sets)
    ctx.summary.text(f"Data version {version}: {len(sets)} tracked output(s).")
    ctx.summary.table(
        ["path", "md5", "size", "files"],
        [[d.path, d.md5, _size(d.size), d.nfiles] for d in sets],
    )
    outputs = {"data-version": version, "datasets": [d.as_dict() for d in sets]}
    if mismatches:
        ctx.summary.table(["file", "state"], [[m.path, m.state] for m in mismatches])
        error = dvcdata.mismatch_error(mismatches)
        if ctx.inputs.flag("verify"):
            return Result(outputs, gate_failed=error.line())
        ctx.log.warning(
            f"verify is off: {dvcdata.describe_mismatches(mismatches)}; "
            "data-version describes the recorded data, not these files"
        )
    elif ctx.inputs.flag("verify"):
        ctx.log.info(f"verified: the workspace matches dvc.lock/.dvc ({len(sets)} output(s))")
    ctx.log.info(f"data-version {version}")
    return Result(outputs)


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
