"""One open GitHub/GitLab issue per model while its data drifts.

The issue is found again by a hidden marker (`modelship:drift:<model>`), so a
nightly monitor updates the same issue instead of opening one per night;
once people close it, the next drift opens a fresh one. The REST work is
`Forge.upsert_issue` of the CI's forge driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelship.templating import render

if TYPE_CHECKING:
    from modelship.drift.check import DriftResult
    from modelship.forge import Forge
    from modelship.forge.base import Upserted

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


def upsert_drift_issue(
    found: Forge | None, run_url: str, result: DriftResult, model: str, retrain: bool
) -> Upserted:
    """Open or update the model's drift issue."""
    from modelship import forge

    if found is None:
        raise IssueError(
            "open-issue needs a CI run with a token: github-token on GitHub Actions, "
            "gitlab-token on GitLab CI"
        )
    title = f"Data drift detected: {model}"
    body = issue_body(result, model, retrain, run_url)
    try:
        done = found.upsert_issue(forge.marker("drift", model), title, body, labels=LABELS)
    except forge.ForgeError as err:
        raise IssueError(str(err)) from None
    return done
