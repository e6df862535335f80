"""One open GitHub/GitLab issue per model while its data drifts.

The issue is found again by a hidden marker (`modelship:drift:<model>`), so a
nightly monitor updates the same issue instead of opening one per night;
once people close it, the next drift opens a fresh one. The REST work is
`modelship.forge.upsert_issue`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelship.templating import render

if TYPE_CHECKING:
    from modelship.ci.context import StageContext
    from modelship.drift.check import DriftResult

MAX_ROWS = 50
LABELS = ("modelship", "data-drift")


class IssueError(RuntimeError):
    pass


def issue_body(result: DriftResult, model: str, retrain: bool, run_url: str) -> str:
    """The issue's Markdown (drift/issue.md.j2): what drifted, by how much, the CI run."""
    from modelship.drift.report import number

    drifted = [f for f in result.ordered() if f.drifted]
    rows = [(f.name, f.method, number(f.score), number(f.threshold)) for f in drifted[:MAX_ROWS]]
    return render(
        "drift/issue.md.j2",
        result=result,
        model=model,
        retrain=retrain,
        run_url=run_url,
        rows=rows,
        more=max(len(drifted) - MAX_ROWS, 0),
    )


def upsert_drift_issue(ctx: StageContext, result: DriftResult, model: str, retrain: bool) -> str:
    from modelship import forge

    found = forge.forge_for(
        ctx.platform, ctx.inputs.optional("github-token"), ctx.inputs.optional("gitlab-token")
    )
    if found is None:
        raise IssueError(
            "open-issue needs a CI run with a token: github-token on GitHub Actions, "
            "gitlab-token on GitLab CI"
        )
    title = f"Data drift detected: {model}"
    body = issue_body(result, model, retrain, ctx.platform.run_url)
    try:
        done = forge.upsert_issue(found, forge.marker("drift", model), title, body, labels=LABELS)
    except forge.ForgeError as err:
        raise IssueError(str(err)) from None
    ctx.log.info(f"drift issue {done.action}: #{done.id}")
    return done.url or f"#{done.id}"
