"""The train stage's `kubernetes` backend: the training runs as a Kubernetes Job.

modelship opens the MLflow run on the runner, as for a local training; the
Job's pod runs the same training command with `MLFLOW_TRACKING_URI`,
`MLFLOW_EXPERIMENT_NAME` and `MLFLOW_RUN_ID`, so whatever the training logs
lands in that run. The pod's output is streamed into the CI log as it comes;
waiting is done by watching the Job and its pods (no polling loop). A cancelled
CI job (SIGTERM/SIGINT) deletes the Job, so no pod keeps a GPU.

* `inputs`: the stage inputs that describe the pod (resources, tolerations, ...)
* `plan`: the Job to create, as the stage read it (`modelship.stages.train_kube`)
* `manifest`: the Job object the plan stands for
* `submit`: creates the Job, follows it to the end, deletes what must not run on
* `follow`: the Job's and its pods' watch events and the pods' logs, in one queue
* `result`: what those events mean: running, stuck, finished, timed out
"""

from modelship.kube.jobs.plan import JobPlan

__all__ = ["JobPlan"]
