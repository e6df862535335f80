"""Lineage tag keys: the one place their names are spelled.

Every artefact carries the same lineage record (see ARCHITECTURE.md). These
keys are written as MLflow run and model-version tags; stages that copy or
read lineage use these constants, never string literals.
"""

from __future__ import annotations

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
