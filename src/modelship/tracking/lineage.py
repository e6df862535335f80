"""Lineage tags: the one place their names are spelled, and the tags of a training run.

Every artefact carries the same lineage record (see ARCHITECTURE.md). These
keys are written as MLflow run and model-version tags; stages that copy or
read lineage use these constants, never string literals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelship import __version__

if TYPE_CHECKING:
    from modelship.ci.platform import Platform

GIT_SHA = "modelship.git_sha"
BRANCH = "modelship.branch"
CI_RUN_URL = "modelship.ci_run_url"
DATA_VERSION = "modelship.data_version"
CI_PLATFORM = "modelship.ci_platform"
VERSION = "modelship.version"
# The training run a model came from, on models and versions that MLflow does not link to it.
RUN_ID = "modelship.run_id"

# The tags copied from a training run onto a registered model version.
LINEAGE_TAGS: tuple[str, ...] = (GIT_SHA, BRANCH, CI_RUN_URL, DATA_VERSION, CI_PLATFORM, VERSION)


def lineage_tags(
    platform: Platform, sha: str, branch: str, data_version: str | None
) -> dict[str, str]:
    """The lineage tags of a training run.

    MLflow's own git tags are set too, so the tracking UI shows the commit.
    Empty values are left out rather than written as empty tags.
    """
    tags = {
        GIT_SHA: sha,
        BRANCH: branch,
        CI_PLATFORM: platform.name,
        CI_RUN_URL: platform.run_url,
        DATA_VERSION: data_version or "",
        VERSION: __version__,
        "mlflow.source.git.commit": sha,
        "mlflow.source.git.branch": branch,
        "mlflow.source.git.repoURL": platform.repository_url,
    }
    return {key: value for key, value in tags.items() if value}
