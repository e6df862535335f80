"""One open GitHub/GitLab issue per model while its data drifts.

The issue is found again by a hidden marker (`modelship:drift:<model>`), so a
nightly monitor updates the same issue instead of opening one per night;
once people close it, the next drift opens a fresh one. The REST work is
`Forge.upsert_issue` of the CI's forge driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelship.ci.summary import md_escape

if TYPE_CHECKING:
    from modelship.drift.check import DriftResult
    from modelship.forge import Forge
    from modelship.forge.base import Upserted

MAX_ROWS = 50
LABELS = ("modelship", "data-drift")


class IssueError(RuntimeError):
    pass


def issue_body(result: DriftResult, model: str, retrain: bool, run_url: str) -> str:
    from modelship.drift.report import number

    lines = [
        f"The drift monitor found **{len(result.drifted_features)} of {len(result.judged)}** "
        f"judged features of `{md_escape(model)}` drifted (share {result.drift_share:.3f}, dataset "
        f"drift at {result.drift_share_threshold}); "
        f"reference {result.reference_rows:,} rows, current {result.current_rows:,} rows.",
        "",
        f"Retraining requested: **{'yes' if retrain else 'no'}**.",
        "",
        "| feature | method | score | threshold |",
        "|---|---|---|---|",
    ]
    drifted = [f for f in result.ordered() if f.drifted]
    for item in drifted[:MAX_ROWS]:
        lines.append(
            f"| {md_escape(item.name)} | {item.method} | {number(item.score)} | "
            f"{number(item.threshold)} |"
        )
    if len(drifted) > MAX_ROWS:
        lines.append(f"| ... {len(drifted) - MAX_ROWS} more | | | |")
    if run_url:
        lines += ["", f"Run: {run_url}"]
    lines += ["", "_Updated by `modelship monitor` on every run while the data drifts._"]
    return "\n".join(lines)


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
