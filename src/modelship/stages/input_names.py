"""The input names of each stage, as types: a stage reads `ctx.inputs` as
`Inputs[<Stage>Input]`, so a misspelt input name is a type error.

Generated from the stage declarations by `modelship dev generate`; do not edit.
"""

from typing import Literal

ContextInput = Literal["branch-environments", "image-name"]
TestInput = Literal["command", "working-directory", "junit-path", "timeout"]
DataInput = Literal[
    "remote", "targets", "working-directory", "pull", "verify", "push", "verify-checksums"
]
TrainInput = Literal[
    "mode",
    "command",
    "working-directory",
    "experiment",
    "tracking-uri",
    "run-name",
    "params",
    "metrics-file",
    "data-version",
    "timeout",
    "backend",
    "image",
    "namespace",
    "kubeconfig",
    "kube-context",
    "resources",
    "node-selector",
    "tolerations",
    "service-account",
    "env-from-secret",
    "backoff-limit",
    "active-deadline",
]
EvaluateInput = Literal[
    "model-uri",
    "model-name",
    "champion",
    "data",
    "target",
    "task",
    "metrics",
    "thresholds",
    "compare-with-champion",
    "significance",
    "bootstrap-samples",
    "seed",
    "comment",
    "github-token",
    "gitlab-token",
    "fail-on-regression",
    "tracking-uri",
]
RegisterInput = Literal[
    "model-uri", "model-name", "alias", "tags", "description", "wait-timeout", "tracking-uri"
]
BuildInput = Literal[
    "model-uri",
    "image",
    "tags",
    "builder",
    "base-image",
    "build-args",
    "secrets",
    "network",
    "push",
    "registry",
    "registry-username",
    "registry-password",
    "labels",
    "context-dir",
    "platform",
    "tracking-uri",
]
DeployInput = Literal[
    "target",
    "image",
    "environment",
    "namespace",
    "name",
    "model-name",
    "manifests",
    "replicas",
    "strategy",
    "canary-weight",
    "timeout",
    "progress-deadline",
    "kubeconfig",
    "kube-context",
    "smoke-payload",
    "smoke-expect",
    "latency-budget-ms",
    "smoke-requests",
    "smoke-url",
    "rollback-on-failure",
    "dry-run",
    "kube-version",
    "manifests-dir",
    "container-port",
    "resources",
    "autoscale-max",
    "autoscale-cpu",
    "model-uri",
    "model-version",
    "run-id",
    "port",
    "bind-address",
    "keep-running",
    "pid-file",
]
PromoteInput = Literal[
    "model-name", "version", "model-uri", "alias", "previous-alias", "rollback", "tracking-uri"
]
MonitorInput = Literal[
    "reference",
    "current",
    "features",
    "categorical",
    "target",
    "model-uri",
    "tracking-uri",
    "model-name",
    "method",
    "threshold",
    "drift-share",
    "min-samples",
    "max-missing-increase",
    "allow-partial",
    "max-performance-drop",
    "pushgateway-url",
    "metrics-job",
    "metrics-file",
    "webhook-url",
    "open-issue",
    "github-token",
    "gitlab-token",
    "fail-on-drift",
]
