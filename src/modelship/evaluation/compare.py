"""Candidate against champion on the same rows: the metrics of each, the paired
bootstrap samples of their differences, and the charts the report shows.

The stage has loaded and scored the models (`scoring`); what is computed here
depends only on the labels and the predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from modelship.ci.errors import GateFailed
from modelship.evaluation import bootstrap, scoring
from modelship.evaluation import report as evaluation_report

if TYPE_CHECKING:
    from modelship.evaluation.bootstrap import Samples

# Past this many classes a confusion matrix is not a readable chart.
MAX_CHART_CLASSES = 30


@dataclass
class Comparison:
    metrics: list[str]
    candidate: dict[str, float]
    champion: dict[str, float] | None = None
    samples: dict[str, Samples] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def compare(
    task: str,
    y: np.ndarray,
    scored: Sequence[scoring.Scored],
    requested: list[str],
    rule_metrics: list[str],
    *,
    resamples: int,
    seed: int | None,
) -> Comparison:
    """`scored` is the candidate, then the champion when there is one."""
    if task == "classification":
        return _classification(y, scored, requested, rule_metrics, resamples, seed)
    return _regression(y, scored, requested, rule_metrics, resamples, seed)


def _classification(
    y: np.ndarray,
    scored: Sequence[scoring.Scored],
    requested: list[str],
    rule_metrics: list[str],
    resamples: int,
    seed: int | None,
) -> Comparison:
    encoded = scoring.encode_classification(y, list(scored))
    n_classes = encoded.n_classes
    names, explicit = scoring.requested_metrics(
        "classification", n_classes, requested, rule_metrics
    )
    cand = encoded.models["candidate"]
    warnings = []
    if "roc_auc" in names and cand.scores is None:
        if "roc_auc" in explicit:
            raise GateFailed(
                "metric roc_auc is missing: the candidate gives no probability "
                "for the positive class (no predict_proba)"
            )
        names.remove("roc_auc")
        warnings.append("roc_auc left out: the candidate model gives no class probabilities")
    result = Comparison(
        names, bootstrap.classification_metrics(encoded.y, cand, n_classes, names), None
    )
    result.warnings = warnings
    labels = [scoring.label_text(c) for c in encoded.classes]
    for who, model in (("candidate", cand), ("champion", encoded.models.get("champion"))):
        if model is not None and n_classes <= MAX_CHART_CLASSES:
            matrix = scoring.confusion(encoded.y, model.labels, n_classes)
            result.plots.append(
                evaluation_report.confusion_svg(matrix, labels, f"{who}: confusion matrix")
            )
    champ = encoded.models.get("champion")
    if champ is not None:
        result.champion = bootstrap.classification_metrics(encoded.y, champ, n_classes, names)
        if resamples:
            result.samples = bootstrap.paired_classification(
                encoded.y, cand, champ, n_classes, names, resamples=resamples, seed=seed
            )
    return result


def _regression(
    y: np.ndarray,
    scored: Sequence[scoring.Scored],
    requested: list[str],
    rule_metrics: list[str],
    resamples: int,
    seed: int | None,
) -> Comparison:
    names, _ = scoring.requested_metrics("regression", 0, requested, rule_metrics)
    truth = y.astype(np.float64)
    values = [scoring.regression_values(s) for s in scored]
    result = Comparison(names, bootstrap.regression_metrics(truth, values[0], names))
    result.plots.append(evaluation_report.residual_svg(values[0], truth, "candidate: residuals"))
    if len(values) > 1:
        result.champion = bootstrap.regression_metrics(truth, values[1], names)
        result.plots.append(evaluation_report.residual_svg(values[1], truth, "champion: residuals"))
        if resamples:
            result.samples = bootstrap.paired_regression(
                truth, values[0], values[1], names, resamples=resamples, seed=seed
            )
    return result
