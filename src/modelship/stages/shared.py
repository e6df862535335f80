"""Inputs several stages declare the same way, declared once."""

from __future__ import annotations

from modelship.spec import Input

TRACKING_URI = Input(
    "tracking-uri",
    "MLflow tracking URI, e.g. `https://mlflow.example.com`; default `$MLFLOW_TRACKING_URI`.",
    default="",
    kind="tracking-uri",
)
