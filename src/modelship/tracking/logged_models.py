"""Models a training logged the MLflow 3 way, outside the run it was given.

With MLflow 3, a script that calls `mlflow.<flavor>.log_model(...)` without
`mlflow.start_run()` creates a LoggedModel in the experiment with no source
run, even though `MLFLOW_RUN_ID` names the run the train stage opened. The
model was logged all the same; this module finds it and ties it to the run:

* `unlinked_models` - READY models with no source run, created in the
  experiment while the training ran, and not adopted by another run.
* `adopt` - link one to the run as an output (`log_outputs`), and put the
  run's lineage tags and its id on the model, so later stages (evaluate,
  register, lineage) find the run from the model.

Everything goes through `MlflowClient`'s public methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelship.tracking import lineage

# The CI runner's clock, which bounds the window, and the tracking server's,
# which stamps the model, may differ a little.
CLOCK_SLACK_MS = 2000
PAGE_SIZE = 100


@dataclass(frozen=True)
class UnlinkedModel:
    model_id: str
    name: str
    created_ms: int

    @property
    def uri(self) -> str:
        return f"models:/{self.model_id}"


def unlinked_models(
    client: Any, experiment_id: str, since_ms: int, until_ms: int
) -> list[UnlinkedModel]:
    """Models of the experiment created in [since_ms, until_ms] that belong to no run, oldest first.

    Empty with an MLflow 2 client or server, which have no logged models.
    """
    if not hasattr(client, "search_logged_models"):
        return []
    window = (
        f"creation_timestamp >= {since_ms - CLOCK_SLACK_MS} "
        f"AND creation_timestamp <= {until_ms + CLOCK_SLACK_MS}"
    )
    found: list[UnlinkedModel] = []
    token = None
    while True:
        try:
            page = client.search_logged_models(
                experiment_ids=[experiment_id],
                filter_string=window,
                max_results=PAGE_SIZE,
                page_token=token,
            )
        except Exception as err:
            if getattr(err, "error_code", "") == "ENDPOINT_NOT_FOUND":
                return []  # an MLflow 2 server has no logged models
            raise
        found.extend(_unlinked(model) for model in page if _is_unlinked(model))
        token = page.token
        if not token:
            return sorted(found, key=lambda m: m.created_ms)


def _is_unlinked(model: Any) -> bool:
    ready = str(getattr(model.status, "name", model.status)).endswith("READY")
    adopted = (model.tags or {}).get(lineage.RUN_ID)
    return ready and not model.source_run_id and not adopted


def _unlinked(model: Any) -> UnlinkedModel:
    return UnlinkedModel(str(model.model_id), str(model.name or ""), int(model.creation_timestamp))


def adopt(client: Any, run_id: str, model: UnlinkedModel, tags: Mapping[str, str]) -> None:
    """Make `model` an output of the run and give it the run's lineage tags and id."""
    from mlflow.entities import LoggedModelOutput

    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    lineage_tags = {k: v for k, v in tags.items() if k in lineage.LINEAGE_TAGS and v}
    client.set_logged_model_tags(model.model_id, {**lineage_tags, lineage.RUN_ID: run_id})
