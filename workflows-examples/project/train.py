"""Train a binary classifier on data/train.csv and score it on data/validation.csv.

Run by `modelship train`, it logs into the MLflow run modelship opened
(`MLFLOW_RUN_ID`, with `MLFLOW_TRACKING_URI` and `MLFLOW_EXPERIMENT_NAME`);
run alone, it starts a run of its own. It logs the parameters, the validation
metrics and the model (with an input example and a signature), and writes
`metrics.json` for DVC and modelship.

Parameters come from `params.yaml: train`; `MODELSHIP_PARAMS` (a JSON object
that `modelship train --params` sets) overrides them, e.g. `{"train.C": "0.1"}`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import yaml
from mlflow.models import infer_signature
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

TARGET = "target"
MODELS = ("logistic_regression", "random_forest", "dummy")


def load_params(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))["train"]
    overrides = json.loads(env.get("MODELSHIP_PARAMS") or "{}")
    for key, value in overrides.items():
        name = key.removeprefix("train.")
        if name in params:
            # Typed as YAML would type it: "0.1" -> 0.1, "dummy" -> "dummy".
            params[name] = yaml.safe_load(str(value))
    if params["model"] not in MODELS:
        raise SystemExit(f"train.model must be one of {', '.join(MODELS)}; got {params['model']!r}")
    if not 0.0 <= float(params["label_noise"]) <= 0.5:
        raise SystemExit("train.label_noise must be between 0 and 0.5")
    return params


def build_model(params: Mapping[str, Any]) -> Pipeline | RandomForestClassifier | DummyClassifier:
    kind = params["model"]
    if kind == "logistic_regression":
        return make_pipeline(
            StandardScaler(), LogisticRegression(C=float(params["C"]), max_iter=1000)
        )
    if kind == "random_forest":
        return RandomForestClassifier(
            n_estimators=int(params["n_estimators"]), random_state=int(params["seed"])
        )
    # The class prior: as good as guessing, on purpose.
    return DummyClassifier(strategy="prior")


def add_label_noise(labels: pd.Series, fraction: float, seed: int) -> pd.Series:
    if fraction <= 0:
        return labels
    rng = np.random.default_rng(seed)
    flip = rng.random(len(labels)) < fraction
    noisy = labels.copy()
    noisy[flip] = 1 - noisy[flip]
    return noisy


def score(model: Any, features: pd.DataFrame, labels: pd.Series) -> dict[str, float]:
    predicted = model.predict(features)
    probability = model.predict_proba(features)[:, 1]
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, probability)),
    }


def main() -> None:
    params = load_params(Path("params.yaml"), os.environ)
    train = pd.read_csv("data/train.csv")
    validation = pd.read_csv("data/validation.csv")
    x_train, y_train = train.drop(columns=[TARGET]), train[TARGET]
    x_val, y_val = validation.drop(columns=[TARGET]), validation[TARGET]
    y_train = add_label_noise(y_train, float(params["label_noise"]), int(params["seed"]))

    # Joins the run modelship opened when MLFLOW_RUN_ID is set.
    with mlflow.start_run():
        started = time.monotonic()
        model = build_model(params)
        model.fit(x_train, y_train)
        metrics = score(model, x_val, y_val)
        mlflow.log_params({f"train.{k}": v for k, v in params.items()})
        mlflow.log_metrics(metrics)
        mlflow.log_metric("fit_seconds", time.monotonic() - started)
        example = x_val.head(5)
        mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=example,
            signature=infer_signature(example, model.predict(example)),
            # Listed here rather than inferred: inference loads the model in a
            # subprocess and costs seconds on every run.
            pip_requirements=_requirements(),
        )
    Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print("train: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))


def _requirements() -> list[str]:
    """What serving needs to load the model: the flavour's own pins, and pandas."""
    try:
        # MLflow 3 saves scikit-learn models with skops.
        pins = mlflow.sklearn.get_default_pip_requirements(include_skops=True)
    except TypeError:  # MLflow 2: cloudpickle
        pins = mlflow.sklearn.get_default_pip_requirements(include_cloudpickle=True)
    return [*pins, f"pandas=={pd.__version__}"]


if __name__ == "__main__":
    main()
