"""`monitor`: data and prediction drift, Prometheus metrics, alerts, the retrain flag."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelship.ci.context import Result, StageContext
from modelship.ci.errors import ExternalError, ModelshipError, UsageError
from modelship.ci.redact import redact_url, redact_urls_in_text
from modelship.spec import Input, Output, Stage

if TYPE_CHECKING:
    from collections.abc import Mapping

    from modelship.drift.check import DriftResult
    from modelship.drift.performance import Performance
    from modelship.stages.input_names import MonitorInput

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
            "min-samples",
            "Fewest non-missing values a feature needs on each side to be judged; a feature "
            "with fewer is reported as not judged, e.g. `100`.",
            type="number",
            default="30",
        ),
        Input(
            "max-missing-increase",
            "Rise of a feature's missing share (empty, NaN or infinite values; current minus "
            "reference, 0 to 1) past which the feature counts as drifted, e.g. `0.05`.",
            type="number",
            default="0.1",
        ),
        Input(
            "allow-partial",
            "Judge the data set on the features that could be judged when some could not (or "
            "lost values past `max-missing-increase`); otherwise `status` is "
            "`insufficient-data` and the step fails (exit 1) unless the others alone show drift.",
            type="boolean",
            default="false",
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
            "Prometheus Pushgateway to push the metrics to, e.g. `http://pushgateway:9091` "
            "(a password in the URL is sent as basic auth and never shown). A failed push is a "
            "warning: the outputs are still published.",
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
            "Slack or Microsoft Teams incoming-webhook URL (secret), notified on drift or when "
            "the data could not be judged. A failed call is a warning: the outputs are still "
            "published.",
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
            "status",
            "`drift`, `stable`, or `insufficient-data` when features could not be judged (too "
            "few values, unsupported type) or lost values past `max-missing-increase`, and the "
            "others do not show drift alone.",
        ),
        Output(
            "drift-detected",
            "`true` when the share of drifted features reached `drift-share`, `false` when "
            "stable, empty when the data could not be judged.",
        ),
        Output("drift-share", "Share of judged features that drifted, e.g. `0.25`."),
        Output("drifted-features", 'JSON list of drifted features, e.g. `["age","city"]`.'),
        Output(
            "retrain",
            "`true` on dataset drift or a performance drop past its threshold; empty when the "
            "data could not be judged and the performance did not drop.",
        ),
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


@dataclass(frozen=True)
class _Deliveries:
    """Where the results go; every one checked before the data is read."""

    metrics_file: Path | None
    pushgateway: str | None
    webhook: str | None


def run(ctx: StageContext[MonitorInput]) -> Result:
    from modelship.drift import check, load

    options = _options(ctx)
    reference = ctx.inputs.path("reference", ctx.workspace)
    current = ctx.inputs.path("current", ctx.workspace)
    if reference is None or current is None:  # required inputs; the runner checked
        raise UsageError("inputs 'reference' and 'current' are required")
    deliveries = _deliveries(ctx)
    max_drop = _max_drop(ctx)
    model_uri = ctx.inputs.optional("model-uri")
    model_name = _model_name(ctx, model_uri)

    try:
        result = check.check(reference, current, options)
    except load.DataError as err:
        raise UsageError(str(err), "fix the input data or the monitor's inputs") from None
    _log_result(ctx, result)

    performance = None
    if model_uri:
        performance = _performance(ctx, model_uri, (reference, current), result, options)
    drop = performance.drop if performance else None
    performance_dropped = drop is not None and drop > max_drop
    retrain = _retrain(result, performance_dropped)

    html_path, json_path = _write_reports(ctx, result, performance, max_drop, retrain, model_name)
    _summary(ctx, result, performance, retrain, model_name)
    # Best-effort deliveries: a failure is a warning, the outputs below still go out.
    _publish_metrics(ctx, deliveries, result, performance, retrain, model_name)
    _notify(ctx, deliveries, result, performance, retrain, model_name)
    if ctx.inputs.flag("open-issue") and (result.dataset_drift or performance_dropped):
        _open_issue(ctx, result, model_name, bool(retrain))

    outputs: dict[str, Any] = {
        "status": result.status,
        "drift-detected": result.dataset_drift,  # None (empty) when not judged
        "drift-share": round(result.drift_share, 6),
        "drifted-features": result.drifted_features,
        "retrain": retrain,
        "report-path": _shown_path(ctx, html_path),
        "report-json": _shown_path(ctx, json_path),
    }
    return Result(outputs, gate_failed=_gate(ctx, result, options))


def _options(ctx: StageContext[MonitorInput]) -> Any:
    from modelship.drift import check

    drift_share = ctx.inputs.number("drift-share")
    if drift_share is None or not 0 < drift_share <= 1:
        raise UsageError(f"input 'drift-share' must be in (0, 1]; got {drift_share}")
    threshold = ctx.inputs.number("threshold")
    if threshold is not None and threshold < 0:
        raise UsageError(f"input 'threshold' must not be negative; got {threshold}")
    min_samples = ctx.inputs.integer("min-samples")
    if min_samples is None or not 1 <= min_samples <= 1_000_000_000:
        raise UsageError(f"input 'min-samples' must be a whole number from 1; got {min_samples}")
    missing = ctx.inputs.number("max-missing-increase")
    if missing is None or not 0 <= missing <= 1:
        raise UsageError(f"input 'max-missing-increase' must be in [0, 1]; got {missing}")
    return check.Options(
        features=ctx.inputs.items("features") or None,
        categorical=ctx.inputs.items("categorical") or None,
        target=ctx.inputs.optional("target"),
        method=ctx.inputs.text("method"),
        threshold=threshold,
        drift_share=drift_share,
        min_samples=min_samples,
        max_missing_increase=missing,
        allow_partial=ctx.inputs.flag("allow-partial"),
    )


def _max_drop(ctx: StageContext[MonitorInput]) -> float:
    max_drop = ctx.inputs.number("max-performance-drop")
    if max_drop is None:
        return 0.0
    if max_drop < 0:
        raise UsageError(f"input 'max-performance-drop' must not be negative; got {max_drop}")
    return max_drop


def _deliveries(ctx: StageContext[MonitorInput]) -> _Deliveries:
    """Check the metrics file, Pushgateway and webhook inputs before any work."""
    metrics_file = None
    given = ctx.inputs.optional("metrics-file")
    if given:
        metrics_file = ctx.path(given, "input 'metrics-file'")
        if metrics_file.is_dir():
            raise UsageError(f"input 'metrics-file' names a directory: {given[:200]!r}")
        for parent in metrics_file.parents:
            if parent.exists() and not parent.is_dir():
                raise UsageError(f"input 'metrics-file': {parent.name!r} is not a directory")
    gateway = ctx.inputs.optional("pushgateway-url")
    if gateway:
        from modelship.drift import prometheus as promexport  # imported only when needed

        password = promexport.url_password(gateway)
        if password:
            ctx.log.mask(password)
        problem = _http_url_problem(gateway)
        if problem:
            shown = redact_url(gateway)
            raise UsageError(f"input 'pushgateway-url' {problem}; got {shown[:200]!r}")
    webhook = ctx.inputs.optional("webhook-url")
    if webhook:
        problem = _http_url_problem(webhook)
        if problem:  # the URL is the webhook's only credential: never shown
            raise UsageError(f"input 'webhook-url' {problem}")
    return _Deliveries(metrics_file, gateway, webhook)


def _http_url_problem(url: str) -> str | None:
    """Why `url` is not an http(s) URL with a host, or None."""
    from urllib.parse import urlsplit

    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "must be a URL without spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "must be an http(s) URL with a valid host and port"
    if parts.scheme not in ("http", "https"):
        return "must be an http(s) URL"
    if not parts.hostname:
        return "must name a host"
    if port == 0:
        return "must have a port from 1 to 65535"
    return None


def _retrain(result: DriftResult, performance_dropped: bool) -> bool | None:
    """True on drift or a performance drop, None (unknown) when the data was not judged."""
    if performance_dropped or result.dataset_drift:
        return True
    return None if result.dataset_drift is None else False


def _gate(ctx: StageContext[MonitorInput], result: DriftResult, options: Any) -> str | None:
    from modelship.drift import check

    if result.status == check.INSUFFICIENT:
        unsettled = result.unsettled
        names = ", ".join(f"'{f.name}'" for f in unsettled[:5])
        more = f" and {len(unsettled) - 5} more" if len(unsettled) > 5 else ""
        if not result.judged:
            return f"cannot judge drift: no feature could be judged ({names}{more}; see the report)"
        return (
            f"cannot judge drift: {len(unsettled)} of {len(result.features)} features not "
            f"judged or missing more values than allowed ({names}{more}; see the report); "
            "allow-partial judges the data set on the others"
        )
    if ctx.inputs.flag("fail-on-drift") and result.dataset_drift:
        return (
            f"data drift: {len(result.drifted_features)} of {len(result.judged)} features "
            f"drifted (share {result.drift_share:.3f} >= {options.drift_share})"
        )
    return None


def _log_result(ctx: StageContext[MonitorInput], result: DriftResult) -> None:
    ctx.log.info(
        f"compared {len(result.judged)} of {len(result.features)} features of "
        f"{result.reference_rows:,} reference and {result.current_rows:,} current rows in "
        f"{result.seconds:.2f}s: {len(result.drifted_features)} drifted "
        f"(share {result.drift_share:.3f}); status {result.status}"
    )
    for item in result.features:
        if item.note:
            what = "drifted" if item.judged else "not judged"
            ctx.log.warning(f"feature '{item.name}' {what}: {item.note}")


def _write_reports(
    ctx: StageContext[MonitorInput],
    result: DriftResult,
    performance: Performance | None,
    max_drop: float,
    retrain: bool | None,
    model_name: str,
) -> tuple[Path, Path]:
    from modelship.drift import report as drift_report

    reports = ctx.reports_dir
    reports.mkdir(parents=True, exist_ok=True)
    extra = _performance_json(performance, max_drop)
    extra["retrain"] = retrain
    html_path = reports / "monitor-drift.html"
    json_path = reports / "monitor-drift.json"
    html_path.write_text(
        ctx.log.redact(drift_report.render_html(result, model_name, performance)),
        encoding="utf-8",
    )
    json_path.write_text(
        json.dumps(drift_report.as_json(result, model_name, extra), indent=2, allow_nan=False)
        + "\n",
        encoding="utf-8",
    )
    return html_path, json_path


def _shown_path(ctx: StageContext[MonitorInput], path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ctx.workspace.resolve()))
    except ValueError:
        return str(path)


def _model_name(ctx: StageContext[MonitorInput], model_uri: str | None) -> str:
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
    ctx: StageContext[MonitorInput],
    model_uri: str,
    paths: tuple[Path, Path],
    result: DriftResult,
    options: Any,
) -> Performance:
    from modelship.drift import load, performance
    from modelship.drift import prometheus as promexport
    from modelship.tracking.uris import resolve_tracking_uri

    uri = resolve_tracking_uri(ctx.inputs.optional("tracking-uri"), ctx.env, ctx.workspace)
    password = promexport.url_password(uri)
    if password:
        ctx.log.mask(password)
    with (
        ctx.log.group(f"scoring both data sets with {model_uri}"),
        tempfile.TemporaryDirectory(prefix="modelship-monitor-model-") as folder,
    ):
        try:
            model = _load_model(model_uri, uri, ctx.env, Path(folder))
        except ModelshipError:
            raise
        except Exception as err:  # MLflow raises many types for a missing model or server
            # MLflow's own messages may quote the tracking URI, password included.
            raise ExternalError(
                f"cannot load {model_uri} from {redact_url(uri)}: "
                f"{type(err).__name__}: {redact_urls_in_text(str(err))[:300]}",
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
    _log_performance(ctx, perf, options.target)
    return perf


def _log_performance(ctx: StageContext[MonitorInput], perf: Performance, target: str) -> None:
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
    elif target:
        ctx.log.info(f"no labels in both sets (column '{target}'): performance not compared")


def _load_model(model_uri: str, tracking_uri: str, env: Mapping[str, str], folder: Path) -> Any:
    """Download the model through this tracking server and load it.

    A `models:/` URI is resolved with an `MlflowClient` bound to the server
    (the registry is the tracking server here), so no process-wide MLflow URI
    is set or read.
    """
    import mlflow

    from modelship.tracking.client import open_client
    from modelship.tracking.models import model_files
    from modelship.tracking.uris import authenticated_uri

    client = open_client(tracking_uri, env)
    source = model_files(client, model_uri)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=source, dst_path=str(folder), tracking_uri=authenticated_uri(tracking_uri, env)
    )
    return mlflow.pyfunc.load_model(local)


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


def _summary(
    ctx: StageContext[MonitorInput],
    result: DriftResult,
    perf: Performance | None,
    retrain: bool | None,
    model: str,
) -> None:
    from modelship.drift import report as drift_report

    ctx.summary.heading(f"{drift_report.verdict(result)}: {model}")
    shown = {True: "yes", False: "no", None: "unknown (data not judged)"}[retrain]
    ctx.summary.text(
        f"{len(result.drifted_features)} of {len(result.features)} features drifted, "
        f"{len(result.skipped)} could not be tested (share of those with a verdict "
        f"{result.drift_share:.3f}, threshold "
        f"{result.drift_share_threshold}); reference {result.reference_rows:,} rows, current "
        f"{result.current_rows:,} rows; retrain: {shown}."
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
        ctx.summary.table(["feature not judged", "why"], [[n, r] for n, r in result.skipped])
    for item in result.ordered():
        ctx.summary.html_only(drift_report.feature_section(item))


def _publish_metrics(
    ctx: StageContext[MonitorInput],
    deliveries: _Deliveries,
    result: DriftResult,
    perf: Performance | None,
    retrain: bool | None,
    model: str,
) -> None:
    """The textfile and the Pushgateway; a failure of either is a warning."""
    if deliveries.metrics_file is None and not deliveries.pushgateway:
        return
    from modelship.drift import prometheus as promexport

    features = [
        promexport.FeatureScore(f.name, f.method, f.score, f.threshold, f.drifted)
        for f in result.judged
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
        not_judged=len(result.skipped),
        performance=performance,
        performance_drop=perf.drop if perf is not None else None,
        timestamp=time.time(),
    )
    if deliveries.metrics_file is not None:
        shown = _shown_path(ctx, deliveries.metrics_file)
        try:
            promexport.write_textfile(deliveries.metrics_file, registry)
        except OSError as err:
            ctx.log.warning(f"metrics not written to {shown}: {err.strerror or type(err).__name__}")
        else:
            ctx.log.info(f"metrics written to {shown}")
    if deliveries.pushgateway:
        _push(ctx, deliveries.pushgateway, registry, model)


def _push(ctx: StageContext[MonitorInput], gateway: str, registry: Any, model: str) -> None:
    from modelship.drift import prometheus as promexport

    shown = redact_url(gateway)
    job = ctx.inputs.text("metrics-job")
    try:
        promexport.push(gateway, job, {"model": model}, registry)
    except promexport.PushError as err:
        # The drift result must still reach the next job: warn, keep the outputs.
        ctx.log.warning(f"metrics not pushed to {shown}: {err}")
        return
    ctx.log.info(f"metrics pushed to {shown} (job {job}, model {model})")


def _notify(
    ctx: StageContext[MonitorInput],
    deliveries: _Deliveries,
    result: DriftResult,
    perf: Performance | None,
    retrain: bool | None,
    model: str,
) -> None:
    from modelship.drift import check, notify

    url = deliveries.webhook
    if not url or (result.status == check.STABLE and not retrain):
        return
    note = ""
    if perf is not None and perf.metric and perf.drop is not None:
        note = f"Performance ({perf.metric}) dropped {perf.drop:.1%} from reference."
    message = notify.DriftMessage(
        model=model,
        status=result.status,
        drift_share=result.drift_share,
        drift_share_threshold=result.drift_share_threshold,
        drifted=result.drifted_features,
        compared=len(result.judged),
        retrain=retrain,
        run_url=ctx.platform.run_url,
        performance_note=note,
        not_judged=[name for name, _ in result.skipped],
    )
    try:
        notify.send(url, message.payload())
    except notify.NotifyError as err:
        # A chat outage must not hide the drift result: warn, keep the outputs.
        ctx.log.warning(f"drift notification not sent: {err}")
        return
    ctx.log.info("drift notification sent to the webhook")


def _open_issue(
    ctx: StageContext[MonitorInput], result: DriftResult, model: str, retrain: bool
) -> None:
    from modelship import forge
    from modelship.drift import issue

    found = forge.from_context(
        ctx.platform,
        github_token=ctx.inputs.optional("github-token"),
        gitlab_token=ctx.inputs.optional("gitlab-token"),
    )
    try:
        done = issue.upsert_drift_issue(found, ctx.platform.run_url, result, model, retrain)
    except issue.IssueError as err:
        ctx.log.warning(f"drift issue not opened: {err}")
        return
    ctx.log.info(f"drift issue {done.action}: #{done.id}")
    if done.url:
        ctx.log.info(f"drift issue: {done.url}")
