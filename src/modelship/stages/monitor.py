"""`monitor`: data and prediction drift, Prometheus metrics, alerts, the retrain flag."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelship.ci.context import Result, StageContext
from modelship.ci.errors import ExternalError, UsageError
from modelship.spec import Input, Output, Stage

if TYPE_CHECKING:
    from modelship.drift.check import DriftResult
    from modelship.drift.performance import Performance

_METHODS = ("auto", "ks", "chi2", "psi", "jensen-shannon", "wasserstein")

STAGE = Stage(
    name="monitor",
    title="Drift monitor",
    description=(
        "Compare current data with the reference the model was trained on, column by "
        "column; publish drift metrics to Prometheus, alert a chat webhook, open or "
        "update an issue, and say whether to retrain."
    ),
    run="modelship.stages.monitor:run",
    extras=("monitor",),
    gitlab_stage="test",
    inputs=(
        Input(
            "reference",
            "Reference data (CSV, Parquet or JSON lines, `.csv.gz` too), e.g. `data/ref.parquet`.",
            required=True,
        ),
        Input(
            "current",
            "Current data in the same form, e.g. `data/last-week.parquet`.",
            required=True,
        ),
        Input(
            "features",
            "Columns to compare, comma- or newline-separated (default: every column both "
            "sets share, except the target), e.g. `age,income,city`.",
            type="list",
            default="",
        ),
        Input(
            "categorical",
            "Columns to treat as categories (default: text and boolean columns), e.g. `zip,plan`.",
            type="list",
            default="",
        ),
        Input(
            "target",
            "Label column, for performance drift when both sets have it, e.g. `churned`.",
            default="",
        ),
        Input(
            "model-uri",
            "Model to score both sets with (prediction drift; performance drift with `target`), "
            "e.g. `models:/churn@champion`.",
            default="",
        ),
        Input(
            "tracking-uri",
            "MLflow tracking URI for `model-uri` (default: `$MLFLOW_TRACKING_URI`).",
            default="",
            kind="tracking-uri",
        ),
        Input(
            "model-name",
            "The `model` label of the metrics and the issue title (default: the registered "
            "model name from `model-uri`, else the repository name), e.g. `churn`.",
            default="",
            pattern=r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}",
        ),
        Input(
            "method",
            "Test per column: `auto` (KS for numeric, chi-square for categorical columns, as "
            "Evidently for small data), `ks`, `chi2`, `psi`, `jensen-shannon`, `wasserstein`.",
            default="auto",
            options=_METHODS,
        ),
        Input(
            "threshold",
            "Drift threshold for every column (default per method: p-value 0.05 for ks/chi2/z, "
            "0.1 for psi, jensen-shannon and normed wasserstein), e.g. `0.01`.",
            type="number",
            default="",
            minimum=0,
        ),
        Input(
            "drift-share",
            "Share of drifted features from which the data set counts as drifted, e.g. `0.3`.",
            type="number",
            default="0.5",
            minimum=0,
            maximum=1,
        ),
        Input(
            "max-performance-drop",
            "Relative drop of accuracy (or rise of RMSE) that asks for retraining, e.g. `0.05`.",
            type="number",
            default="0.1",
            minimum=0,
        ),
        Input(
            "pushgateway-url",
            "Prometheus Pushgateway to push the metrics to, e.g. `http://pushgateway:9091`.",
            default="",
            kind="url",
            schemes=("http", "https"),
        ),
        Input(
            "metrics-job",
            "Pushgateway job name (grouping key), e.g. `modelship-monitor`.",
            default="modelship-monitor",
            pattern=r"[A-Za-z0-9_.:-]+",
        ),
        Input(
            "metrics-file",
            "Write the metrics in Prometheus text format here (node-exporter textfile "
            "collector), e.g. `metrics/drift.prom`.",
            default="",
            kind="file",
        ),
        Input(
            "webhook-url",
            "Slack or Microsoft Teams incoming-webhook URL, notified on drift (secret).",
            secret=True,
            kind="url",
            schemes=("https", "http"),
        ),
        Input(
            "open-issue",
            "Open (or update) one GitHub/GitLab issue per model when the data drifts.",
            type="boolean",
            default="false",
        ),
        Input(
            "github-token", "Token with `issues: write`, for `open-issue` on GitHub.", secret=True
        ),
        Input("gitlab-token", "Token with `api` scope, for `open-issue` on GitLab.", secret=True),
        Input(
            "fail-on-drift",
            "Fail the step (exit 1) when the data set drifts; outputs are still written.",
            type="boolean",
            default="false",
        ),
    ),
    outputs=(
        Output(
            "drift-detected", "`true` when the share of drifted features reached `drift-share`."
        ),
        Output("drift-share", "Share of compared features that drifted, e.g. `0.25`."),
        Output("drifted-features", 'JSON list of drifted features, e.g. `["age","city"]`.'),
        Output("retrain", "`true` on dataset drift or a performance drop past its threshold."),
        Output("report-path", "HTML report with per-feature histograms."),
        Output(
            "report-json",
            "JSON report: per feature method, statistic, p-value or distance, threshold, drifted.",
        ),
    ),
    example_with={
        "reference": "data/train.parquet",
        "current": "data/last-week.parquet",
        "pushgateway-url": "http://pushgateway:9091",
    },
)


def run(ctx: StageContext) -> Result:
    from modelship.drift import check, load
    from modelship.drift import report as drift_report

    reference = ctx.inputs.path("reference", ctx.workspace)
    current = ctx.inputs.path("current", ctx.workspace)
    if reference is None or current is None:  # required inputs; the runner checked
        raise UsageError("inputs 'reference' and 'current' are required")
    drift_share = ctx.inputs.number("drift-share")
    if drift_share is None or not 0 < drift_share <= 1:
        raise UsageError(f"input 'drift-share' must be in (0, 1]; got {drift_share}")
    threshold = ctx.inputs.number("threshold")
    if threshold is not None and threshold < 0:
        raise UsageError(f"input 'threshold' must not be negative; got {threshold}")
    target = ctx.inputs.optional("target")
    options = check.Options(
        features=ctx.inputs.items("features") or None,
        categorical=ctx.inputs.items("categorical") or None,
        target=target,
        method=ctx.inputs.text("method"),
        threshold=threshold,
        drift_share=drift_share,
    )
    model_uri = ctx.inputs.optional("model-uri")
    model_name = _model_name(ctx, model_uri)

    try:
        result = check.check(reference, current, options)
    except load.DataError as err:
        raise UsageError(str(err), "fix the input data or the monitor's inputs") from None
    ctx.log.info(
        f"compared {len(result.features)} features of {result.reference_rows:,} reference and "
        f"{result.current_rows:,} current rows in {result.seconds:.2f}s: "
        f"{len(result.drifted_features)} drifted (share {result.drift_share:.3f})"
    )
    for name, reason in result.skipped:
        ctx.log.warning(f"column '{name}' skipped: {reason}")

    performance = None
    if model_uri:
        performance = _performance(ctx, model_uri, (reference, current), result, options)
    max_drop = ctx.inputs.number("max-performance-drop") or 0.0
    drop = performance.drop if performance else None
    performance_dropped = drop is not None and drop > max_drop
    retrain = result.dataset_drift or performance_dropped

    reports = ctx.reports_dir
    reports.mkdir(parents=True, exist_ok=True)
    extra = _performance_json(performance, max_drop)
    extra["retrain"] = retrain
    html_path = reports / "monitor-drift.html"
    json_path = reports / "monitor-drift.json"
    html_path.write_text(
        ctx.log.redact(
            drift_report.render_html(result, model_name, _performance_html(performance))
        ),
        encoding="utf-8",
    )
    json_path.write_text(
        json.dumps(drift_report.as_json(result, model_name, extra), indent=2, allow_nan=False)
        + "\n",
        encoding="utf-8",
    )
    _summary(ctx, result, performance, retrain, model_name)

    _publish_metrics(ctx, result, performance, retrain, model_name)
    _notify(ctx, result, performance, retrain, model_name)
    if ctx.inputs.flag("open-issue") and (result.dataset_drift or performance_dropped):
        _open_issue(ctx, result, model_name, retrain)

    outputs: dict[str, Any] = {
        "drift-detected": result.dataset_drift,
        "drift-share": round(result.drift_share, 6),
        "drifted-features": result.drifted_features,
        "retrain": retrain,
        "report-path": _shown_path(ctx, html_path),
        "report-json": _shown_path(ctx, json_path),
    }
    gate = None
    if ctx.inputs.flag("fail-on-drift") and result.dataset_drift:
        gate = (
            f"data drift: {len(result.drifted_features)} of {len(result.features)} features "
            f"drifted (share {result.drift_share:.3f} >= {drift_share})"
        )
    return Result(outputs, gate_failed=gate)


def _shown_path(ctx: StageContext, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ctx.workspace.resolve()))
    except ValueError:
        return str(path)


def _model_name(ctx: StageContext, model_uri: str | None) -> str:
    given = ctx.inputs.optional("model-name")
    if given:
        return given
    if model_uri and model_uri.startswith("models:/"):
        rest = model_uri[len("models:/") :]
        for sep in ("@", "/"):
            rest = rest.split(sep, 1)[0]
        if rest:
            return rest
    return ctx.platform.repository_name or "model"


def _performance(
    ctx: StageContext,
    model_uri: str,
    paths: tuple[Path, Path],
    result: DriftResult,
    options: Any,
) -> Performance:
    from modelship import tracking
    from modelship.drift import load, performance

    uri = tracking.resolve_tracking_uri(ctx.inputs.optional("tracking-uri"), ctx.env, ctx.workspace)
    with ctx.log.group(f"scoring both data sets with {model_uri}"):
        try:
            import mlflow

            mlflow.set_tracking_uri(uri)
            model = mlflow.pyfunc.load_model(model_uri)
        except Exception as err:  # MLflow raises many types for a missing model or server
            raise ExternalError(
                f"cannot load {model_uri} from {tracking.redact_uri(uri)}: "
                f"{type(err).__name__}: {str(err)[:300]}",
                "check model-uri and tracking-uri",
            ) from None
        features = [f.name for f in result.features]
        try:
            perf = performance.evaluate(
                model,
                *paths,
                features=features,
                target=options.target,
                method=options.method,
                threshold=options.threshold,
            )
        except load.DataError as err:
            raise UsageError(str(err)) from None
        except Exception as err:
            raise ExternalError(
                f"the model failed to score the data: {type(err).__name__}: {str(err)[:300]}",
                "check that features match the model's signature",
            ) from None
    if perf.prediction is not None:
        verdict = "drifted" if perf.prediction.drifted else "stable"
        ctx.log.info(
            f"predictions {verdict} ({perf.prediction.method} score {perf.prediction.score:.4g})"
        )
    if perf.metric:
        ctx.log.info(
            f"{perf.metric}: reference {perf.reference:.4g}, current {perf.current:.4g} "
            f"(drop {perf.drop:.2%})"
        )
    elif options.target:
        ctx.log.info(
            f"no labels in both sets (column '{options.target}'): performance not compared"
        )
    return perf


def _performance_json(perf: Performance | None, max_drop: float) -> dict[str, Any]:
    if perf is None:
        return {}
    data: dict[str, Any] = {}
    if perf.prediction is not None:
        data["prediction_drift"] = perf.prediction.as_json()
    if perf.metric:
        data["performance"] = {
            "metric": perf.metric,
            "reference": perf.reference,
            "current": perf.current,
            "drop": perf.drop,
            "max_drop": max_drop,
            "dropped": perf.drop is not None and perf.drop > max_drop,
        }
    return data


def _performance_html(perf: Performance | None) -> str:
    import html

    if perf is None:
        return ""
    parts = []
    if perf.prediction is not None:
        p = perf.prediction
        parts.append(
            f"<p>Predictions: {'drifted' if p.drifted else 'no drift'} ({html.escape(p.method)}, "
            f"score {p.score:.4g}, threshold {p.threshold}).</p>"
        )
    if perf.metric and perf.drop is not None:
        parts.append(
            f"<p>Performance ({html.escape(perf.metric)}): reference {perf.reference:.4g}, "
            f"current {perf.current:.4g}, drop {perf.drop:.2%}.</p>"
        )
    return "".join(parts)


def _summary(
    ctx: StageContext,
    result: DriftResult,
    perf: Performance | None,
    retrain: bool,
    model: str,
) -> None:
    from modelship.drift import report as drift_report

    verdict = "Dataset drift detected" if result.dataset_drift else "No dataset drift"
    ctx.summary.heading(f"{verdict}: {model}")
    ctx.summary.text(
        f"{len(result.drifted_features)} of {len(result.features)} features drifted "
        f"(share {result.drift_share:.3f}, threshold {result.drift_share_threshold}); "
        f"reference {result.reference_rows:,} rows, current {result.current_rows:,} rows; "
        f"retrain: {'yes' if retrain else 'no'}."
    )
    if perf is not None and perf.prediction is not None:
        p = perf.prediction
        ctx.summary.text(
            f"Predictions: {'drifted' if p.drifted else 'no drift'} ({p.method}, score "
            f"{drift_report.number(p.score)})."
        )
    if perf is not None and perf.metric and perf.drop is not None:
        ctx.summary.text(
            f"Performance ({perf.metric}): reference {drift_report.number(perf.reference)}, "
            f"current {drift_report.number(perf.current)}, drop {perf.drop:.2%}."
        )
    ctx.summary.table(drift_report.TABLE_HEADERS, drift_report.table_rows(result))
    if result.skipped:
        ctx.summary.table(["skipped column", "reason"], [[n, r] for n, r in result.skipped])
    for item in result.ordered():
        ctx.summary.html_only(drift_report.feature_section(item))


def _publish_metrics(
    ctx: StageContext,
    result: DriftResult,
    perf: Performance | None,
    retrain: bool,
    model: str,
) -> None:
    from modelship import promexport

    features = [
        promexport.FeatureScore(f.name, f.method, f.score, f.threshold, f.drifted)
        for f in result.features
    ]
    if perf is not None and perf.prediction is not None:
        p = perf.prediction
        features.append(
            promexport.FeatureScore("__prediction__", p.method, p.score, p.threshold, p.drifted)
        )
    performance = None
    if perf is not None and perf.metric and perf.reference is not None and perf.current is not None:
        performance = {perf.metric: (perf.reference, perf.current)}
    registry = promexport.monitor_registry(
        model,
        features,
        dataset_drift=result.dataset_drift,
        drift_share=result.drift_share,
        retrain=retrain,
        performance=performance,
        performance_drop=perf.drop if perf is not None else None,
        timestamp=time.time(),
    )
    text = registry.render()
    metrics_file = ctx.inputs.optional("metrics-file")
    if metrics_file:
        target = ctx.path(metrics_file, "input 'metrics-file'")
        promexport.write_textfile(target, text)
        ctx.log.info(f"metrics written to {metrics_file}")
    gateway = ctx.inputs.optional("pushgateway-url")
    if gateway:
        if not gateway.startswith(("http://", "https://")):
            raise UsageError(
                f"input 'pushgateway-url' must be an http(s) URL; got {gateway[:60]!r}"
            )
        job = ctx.inputs.text("metrics-job")
        try:
            url = promexport.push(gateway, job, [("model", model)], text)
        except promexport.PushError as err:
            raise ExternalError(
                str(err), "check pushgateway-url and that the gateway is up"
            ) from None
        ctx.log.info(f"metrics pushed to {url}")


def _notify(
    ctx: StageContext,
    result: DriftResult,
    perf: Performance | None,
    retrain: bool,
    model: str,
) -> None:
    from modelship import notify

    url = ctx.inputs.optional("webhook-url")
    if not url or not (result.dataset_drift or retrain):
        return
    if not url.startswith("https://") and not url.startswith("http://"):
        raise UsageError("input 'webhook-url' must be an http(s) URL")
    note = ""
    if perf is not None and perf.metric and perf.drop is not None:
        note = f"Performance ({perf.metric}) dropped {perf.drop:.1%} from reference."
    message = notify.DriftMessage(
        model=model,
        dataset_drift=result.dataset_drift,
        drift_share=result.drift_share,
        drift_share_threshold=result.drift_share_threshold,
        drifted=result.drifted_features,
        compared=len(result.features),
        retrain=retrain,
        run_url=ctx.platform.run_url,
        performance_note=note,
    )
    try:
        notify.send(url, message.payload())
    except notify.NotifyError as err:
        # A chat outage must not hide the drift result: warn, keep the outputs.
        ctx.log.warning(f"drift notification not sent: {err}")
        return
    ctx.log.info("drift notification sent to the webhook")


def _open_issue(ctx: StageContext, result: DriftResult, model: str, retrain: bool) -> None:
    from modelship.drift import issue

    try:
        link = issue.upsert_drift_issue(ctx, result, model, retrain)
    except issue.IssueError as err:
        ctx.log.warning(f"drift issue not opened: {err}")
        return
    if link:
        ctx.log.info(f"drift issue: {link}")
