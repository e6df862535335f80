"""Candidate against champion on the same rows: the metrics of each, the paired
bootstrap samples of their differences, and the charts the report shows.

The stage has loaded and scored the models (`scoring`); what is computed here
depends only on the labels and the predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from modelship.ci.errors import GateFailed
from modelship.evaluation import bootstrap, scoring
from modelship.evaluation import report as evaluation_report

if TYPE_CHECKING:
    from modelship.evaluation.bootstrap import Classified, Samples

# Past this many classes a confusion matrix is not a readable chart.
MAX_CHART_CLASSES = 30

# A model's predictions as a task reads them: class codes, or numbers.
Model = TypeVar("Model")


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
        return _compare(_classification(y, scored, requested, rule_metrics), resamples, seed)
    return _compare(_regression(y, scored, requested, rule_metrics), resamples, seed)


@dataclass
class _Task(Generic[Model]):
    """What a task contributes; the flow in `_compare` is the same for every task.

    `chart` draws one model's chart under the given title prefix (None: no chart);
    `paired` gives the paired bootstrap samples of candidate and champion."""

    names: list[str]
    candidate: Model
    champion: Model | None
    metrics: Callable[[Model], dict[str, float]]
    chart: Callable[[Model, str], str | None]
    paired: Callable[[Model, Model, int, int | None], dict[str, Samples]]
    warnings: list[str] = field(default_factory=list)


def _compare(task: _Task[Model], resamples: int, seed: int | None) -> Comparison:
    """Metrics of the candidate, then of the champion; a chart per model; paired
    bootstrap samples when asked for."""
    result = Comparison(task.names, task.metrics(task.candidate), warnings=task.warnings)
    for who, model in (("candidate", task.candidate), ("champion", task.champion)):
        chart = None if model is None else task.chart(model, who)
        if chart is not None:
            result.plots.append(chart)
    if task.champion is not None:
        result.champion = task.metrics(task.champion)
        if resamples:
            result.samples = task.paired(task.candidate, task.champion, resamples, seed)
    return result


def _classification(
    y: np.ndarray,
    scored: Sequence[scoring.Scored],
    requested: list[str],
    rule_metrics: list[str],
) -> _Task[Classified]:
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
    labels = [scoring.label_text(c) for c in encoded.classes]

    def chart(model: Classified, who: str) -> str | None:
        if n_classes > MAX_CHART_CLASSES:
            return None
        matrix = scoring.confusion(encoded.y, model.labels, n_classes)
        return evaluation_report.confusion_svg(matrix, labels, f"{who}: confusion matrix")

    def paired(
        cand: Classified, champ: Classified, resamples: int, seed: int | None
    ) -> dict[str, Samples]:
        return bootstrap.paired_classification(
            encoded.y, cand, champ, n_classes, names, resamples=resamples, seed=seed
        )

    return _Task(
        names,
        cand,
        encoded.models.get("champion"),
        metrics=lambda model: bootstrap.classification_metrics(encoded.y, model, n_classes, names),
        chart=chart,
        paired=paired,
        warnings=warnings,
    )


def _regression(
    y: np.ndarray,
    scored: Sequence[scoring.Scored],
    requested: list[str],
    rule_metrics: list[str],
) -> _Task[np.ndarray]:
    names, _ = scoring.requested_metrics("regression", 0, requested, rule_metrics)
    truth = y.astype(np.float64)
    values = [scoring.regression_values(s) for s in scored]

    def paired(
        cand: np.ndarray, champ: np.ndarray, resamples: int, seed: int | None
    ) -> dict[str, Samples]:
        return bootstrap.paired_regression(
            truth, cand, champ, names, resamples=resamples, seed=seed
        )

    return _Task(
        names,
        values[0],
        values[1] if len(values) > 1 else None,
        metrics=lambda pred: bootstrap.regression_metrics(truth, pred, names),
        chart=lambda pred, who: evaluation_report.residual_svg(pred, truth, f"{who}: residuals"),
        paired=paired,
    )
