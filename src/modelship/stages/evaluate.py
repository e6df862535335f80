"""`evaluate`: candidate vs champion on the same validation rows; only a real improvement passes."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelship.ci.context import Result, StageContext
from modelship.ci.errors import GateFailed, UsageError
from modelship.spec import Input, Output, Stage
from modelship.stages.shared import TRACKING_URI

if TYPE_CHECKING:
    from modelship.evaluation.bootstrap import DeltaStats, Samples
    from modelship.evaluation.gates import GateResult, Rule

MODEL_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"

STAGE = Stage(
    name="evaluate",
    title="Evaluate a candidate against the champion",
    description=(
        "Score the candidate model and the current champion on the same validation data, "
        "apply threshold rules with a paired bootstrap significance test, report the "
        "comparison (summary, PR/MR comment, HTML, JUnit) and log it to MLflow."
    ),
    run="modelship.stages.evaluate:run",
    extras=("mlflow",),
    gitlab_stage="test",
    inputs=(
        Input(
            "model-uri",
            "The candidate, e.g. `runs:/<run-id>/model` or `models:/m-<id>` (the `train` "
            "stage's `model-uri` output).",
            required=True,
        ),
        Input(
            "model-name",
            "Registered model name, e.g. `churn`; the champion is looked up under it.",
            required=True,
            pattern=MODEL_NAME,
        ),
        Input(
            "champion",
            "The model to beat; default `models:/<model-name>@champion`. When none exists the "
            "decision is `no-champion` and only absolute thresholds apply.",
            default="",
        ),
        Input(
            "data",
            "Validation data, CSV, Parquet or JSON Lines, e.g. `data/validation.csv`.",
            required=True,
            type="path",
        ),
        Input("target", "The label column of the data, e.g. `label`.", required=True),
        Input(
            "task",
            "`classification`, `regression`, or `auto` (from the label column).",
            default="auto",
            options=("auto", "classification", "regression"),
        ),
        Input(
            "metrics",
            "Metrics to compute, e.g. `accuracy,f1`; default accuracy, precision, recall, f1 and "
            "roc_auc (binary; macro averages for multiclass), or rmse, mae, r2 (regression).",
            default="",
            type="list",
            pattern=r"[a-z_0-9]+",
        ),
        Input(
            "thresholds",
            "Gate rules, one a line, e.g. `accuracy >= 0.90`, `f1 >= champion - 0.01`, "
            "`rmse <= champion * 1.05`.",
            default="",
        ),
        Input(
            "compare-with-champion",
            "When a champion exists and no rule compares with it (empty `thresholds`, only "
            "absolute rules), apply the default rule `<primary metric> >= champion` (`<=` for "
            "rmse, mse, mae), tested like any improvement rule; the primary metric is the first "
            "of `metrics`, by default accuracy or rmse. `false` turns the default rule off, e.g. "
            "to gate on absolute thresholds only.",
            default="true",
            type="boolean",
        ),
        Input(
            "significance",
            "Alpha of the paired bootstrap test, e.g. `0.05`, or `off`. A rule that asks for "
            "improvement (`f1 >= champion`) passes only when the improvement is significant.",
            default="0.05",
            pattern=r"off|0?\.[0-9]+",
        ),
        Input(
            "bootstrap-samples",
            "Bootstrap resamples, e.g. `1000`; `0` disables intervals.",
            default="1000",
            type="number",
            kind="integer",
            minimum=0,
            maximum=100_000,
        ),
        Input(
            "seed",
            "Random seed of the bootstrap, e.g. `0`.",
            default="0",
            type="number",
            kind="integer",
            minimum=0,
            maximum=2**32 - 1,
        ),
        Input(
            "comment",
            "Post or update the report as a PR/MR comment: `auto` (in a PR/MR with a "
            "token), `true`, `false`.",
            default="auto",
            options=("auto", "true", "false"),
        ),
        Input(
            "github-token",
            "Token for the PR comment, e.g. the workflow's `github.token` (pull-requests: write).",
            secret=True,
        ),
        Input(
            "gitlab-token",
            "Token for the MR note (api scope), e.g. `$MODELSHIP_GITLAB_TOKEN`.",
            secret=True,
        ),
        Input(
            "fail-on-regression",
            "Exit 1 when a gate fails; `false` only reports (`passed=false`). Fail-closed "
            "errors always exit non-zero.",
            default="true",
            type="boolean",
        ),
        TRACKING_URI,
    ),
    outputs=(
        Output("passed", "`true` when every gate passed."),
        Output("decision", "`promote`, `reject` or `no-champion`."),
        Output("metrics", 'Candidate metrics as JSON, e.g. `{"f1":0.95}`.'),
        Output("champion-metrics", "Champion metrics as JSON (`{}` without a champion)."),
        Output("deltas", "Per metric: delta, confidence interval and p-value, as JSON."),
        Output("report-path", "Path of the Markdown report."),
        Output("champion-version", "Version of the champion compared with ('' if none)."),
        Output("evaluation-run-id", "MLflow run holding this evaluation."),
    ),
    example_with={
        "model-uri": "${{ needs.train.outputs.model-uri }}",
        "model-name": "churn",
        "data": "data/validation.csv",
        "target": "label",
        "thresholds": "accuracy >= 0.90\nf1 >= champion",
    },
)


@dataclass
class Outcome:
    """Everything the reports, the MLflow run and the outputs are made from."""

    task: str = ""
    rows: int = 0
    metrics: list[str] = field(default_factory=list)
    candidate: dict[str, float] = field(default_factory=dict)
    champion: dict[str, float] | None = None
    champion_uri: str = ""
    champion_version: str = ""
    deltas: dict[str, DeltaStats] = field(default_factory=dict)
    samples: dict[str, Samples] = field(default_factory=dict)
    gates: list[GateResult] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.error is None and all(g.passed for g in self.gates)

    @property
    def decision(self) -> str:
        if not self.passed:
            return "reject"
        return "promote" if self.champion is not None else "no-champion"


def _alpha(ctx: StageContext) -> float | None:
    text = ctx.inputs.text("significance").strip().lower()
    if text == "off":
        return None
    alpha = float(text)
    if not 0 < alpha < 0.5:
        raise UsageError(f"input 'significance' must be between 0 and 0.5, or off; got {text}")
    return alpha


@dataclass(frozen=True)
class Checked:
    """The inputs that shape the judgement, checked before MLflow is contacted."""

    rules: list[Rule]
    alpha: float | None
    resamples: int
    seed: int


SEED_MAX = 2**32 - 1


def _checked_inputs(ctx: StageContext) -> Checked:
    """Every input evaluate can judge alone, so bad input exits 2 before any MLflow call."""
    from modelship.evaluation import gates

    rules = gates.parse_rules(ctx.inputs.text("thresholds"))
    gates.check_metrics(rules, _known_metrics())
    unknown = [m for m in ctx.inputs.items("metrics") if m.lower() not in _known_metrics()]
    if unknown:
        raise UsageError(
            f"input 'metrics': unknown metric {unknown[0]!r}",
            f"known metrics: {', '.join(_known_metrics())}",
        )
    alpha = _alpha(ctx)
    resamples = ctx.inputs.integer("bootstrap-samples") or 0
    if resamples < 0 or resamples > 100_000:
        raise UsageError("input 'bootstrap-samples' must be between 0 and 100000")
    if alpha is not None and any(r.asks_improvement for r in rules) and resamples < 100:
        raise UsageError(
            "a rule asks for improvement with significance on, but bootstrap-samples < 100",
            "use at least 100 resamples (1000 is the default), or significance: off",
        )
    seed = ctx.inputs.integer("seed") or 0
    if not 0 <= seed <= SEED_MAX:
        raise UsageError(f"input 'seed' must be between 0 and {SEED_MAX}; got {seed}")
    _check_model_uri(ctx.inputs.text("model-uri"), "model-uri")
    champion = ctx.inputs.optional("champion")
    if champion:
        _check_model_uri(champion, "champion")
    return Checked(rules, alpha, resamples, seed)


def _check_model_uri(value: str, what: str) -> None:
    """A URI MLflow can load: no blanks or control characters, a scheme, known forms parsed."""
    from modelship import tracking

    hint = "e.g. runs:/<run-id>/model, models:/m-<id>, models:/<name>/<version>"
    if not value or any(c.isspace() or not c.isprintable() for c in value):
        raise UsageError(
            f"input '{what}' must be a model URI without blanks or control characters", hint
        )
    if value.startswith(("runs:", "models:")):
        tracking.parse_model_uri(value, what)
    elif not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", value):
        raise UsageError(f"input '{what}': {value[:80]!r} is not a model URI", hint)


def run(ctx: StageContext) -> Result:
    from modelship import tracking

    checked = _checked_inputs(ctx)
    alpha = checked.alpha
    name = ctx.inputs.text("model-name")
    comment_mode = ctx.inputs.text("comment")
    if comment_mode == "true":
        _forge_or_fail(ctx)

    uri = tracking.resolve_tracking_uri(ctx.inputs.optional("tracking-uri"), ctx.env, ctx.workspace)
    for secret in tracking.uri_secrets(uri, ctx.env):
        ctx.log.mask(secret)
    client = tracking.client(uri)

    outcome = Outcome()
    try:
        _evaluate(ctx, client, uri, name, checked, outcome=outcome)
    except GateFailed as err:
        outcome.error = err.line()
    report_dir = ctx.reports_dir
    junit = _write_reports(ctx, name, outcome, alpha)
    run_id = _log_to_mlflow(ctx, client, name, outcome, junit)
    if comment_mode != "false":
        _comment(ctx, name, outcome, alpha, required=comment_mode == "true")

    outputs = {
        "passed": outcome.passed,
        "decision": outcome.decision,
        "metrics": _finite(outcome.candidate),
        "champion-metrics": _finite(outcome.champion or {}),
        "deltas": {
            k: {
                "candidate": _num(outcome.candidate.get(k)),
                "champion": _num((outcome.champion or {}).get(k)),
                "delta": _num(v.delta),
                "ci_low": _num(v.ci_low),
                "ci_high": _num(v.ci_high),
                "p_value": _num(v.p_value),
                "confidence": v.confidence,
            }
            for k, v in outcome.deltas.items()
        },
        "report-path": str((report_dir / "evaluate.md").relative_to(ctx.workspace)),
        "champion-version": outcome.champion_version,
        "evaluation-run-id": run_id,
    }
    ctx.log.info(f"decision: {outcome.decision} (passed={'true' if outcome.passed else 'false'})")
    if outcome.error is not None:
        return Result(outputs, gate_failed=f"evaluation failed closed: {outcome.error}")
    if not outcome.passed:
        failed = "; ".join(
            f"{g.rule.label}: {g.reason}" for g in outcome.gates if g.outcome == "fail"
        )
        if ctx.inputs.flag("fail-on-regression"):
            return Result(outputs, gate_failed=f"gates failed: {failed}")
        ctx.log.warning(f"gates failed (fail-on-regression is false): {failed}")
    return Result(outputs)


def _known_metrics() -> tuple[str, ...]:
    from modelship.evaluation.bootstrap import ALL_METRICS

    return ALL_METRICS


def _num(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _finite(values: dict[str, float]) -> dict[str, float | None]:
    return {k: _num(v) for k, v in values.items()}


def _evaluate(
    ctx: StageContext,
    client: Any,
    tracking_uri: str,
    name: str,
    checked: Checked,
    *,
    outcome: Outcome,
) -> None:
    import numpy as np

    from modelship.evaluation import bootstrap, scoring
    from modelship.evaluation import report as evaluation_report

    data_path = ctx.inputs.path("data", ctx.workspace)
    assert data_path is not None
    frame = scoring.load_table(data_path)
    features, y = scoring.split_target(frame, ctx.inputs.text("target"))
    task_input = ctx.inputs.text("task")
    task: bootstrap.Task = scoring.detect_task(y) if task_input == "auto" else task_input  # type: ignore[assignment]
    outcome.task, outcome.rows = task, len(y)
    outcome.notes.append(f"{len(y)} validation rows from {data_path.name}, task {task}")
    rules, alpha, resamples, seed = checked.rules, checked.alpha, checked.resamples, checked.seed
    scoring.check_metrics_apply(task, [*ctx.inputs.items("metrics"), *(r.metric for r in rules)])

    candidate_uri = ctx.inputs.text("model-uri")
    with ctx.log.group(f"scoring the candidate {candidate_uri}"):
        candidate_model = scoring.load_model(client, candidate_uri, "candidate", tracking_uri)
        scored = [scoring.score(candidate_model, candidate_uri, features, "candidate", task)]

    champion_uri = _champion_uri(ctx, client, name, outcome)
    if champion_uri:
        with ctx.log.group(f"scoring the champion {champion_uri}"):
            champion_model = scoring.load_model(client, champion_uri, "champion", tracking_uri)
            scored.append(scoring.score(champion_model, champion_uri, features, "champion", task))

    rule_metrics = [r.metric for r in rules]
    if task == "classification":
        encoded = scoring.encode_classification(y, scored)
        n_classes = encoded.n_classes
        names, explicit = scoring.requested_metrics(
            task, n_classes, ctx.inputs.items("metrics"), rule_metrics
        )
        cand = encoded.models["candidate"]
        if "roc_auc" in names and cand.scores is None:
            if "roc_auc" in explicit:
                raise GateFailed(
                    "metric roc_auc is missing: the candidate gives no probability "
                    "for the positive class (no predict_proba)"
                )
            names.remove("roc_auc")
            ctx.log.warning("roc_auc left out: the candidate model gives no class probabilities")
        outcome.metrics = names
        outcome.candidate = bootstrap.classification_metrics(encoded.y, cand, n_classes, names)
        labels = [scoring._label_text(c) for c in encoded.classes]
        outcome.plots.append(
            evaluation_report.confusion_svg(
                scoring.confusion(encoded.y, cand.labels, n_classes),
                labels,
                "candidate: confusion matrix",
            )
            if n_classes <= 30
            else ""
        )
        champ = encoded.models.get("champion")
        if champ is not None:
            outcome.champion = bootstrap.classification_metrics(encoded.y, champ, n_classes, names)
            if n_classes <= 30:
                outcome.plots.append(
                    evaluation_report.confusion_svg(
                        scoring.confusion(encoded.y, champ.labels, n_classes),
                        labels,
                        "champion: confusion matrix",
                    )
                )
            if resamples:
                with ctx.log.group(f"paired bootstrap, {resamples} resamples"):
                    outcome.samples = bootstrap.paired_classification(
                        encoded.y, cand, champ, n_classes, names, resamples=resamples, seed=seed
                    )
    else:
        names, explicit = scoring.requested_metrics(
            task, 0, ctx.inputs.items("metrics"), rule_metrics
        )
        outcome.metrics = names
        truth = y.astype(np.float64)
        values = [scoring.regression_values(s) for s in scored]
        outcome.candidate = bootstrap.regression_metrics(truth, values[0], names)
        outcome.plots.append(
            evaluation_report.residual_svg(values[0], truth, "candidate: residuals")
        )
        if len(values) > 1:
            outcome.champion = bootstrap.regression_metrics(truth, values[1], names)
            outcome.plots.append(
                evaluation_report.residual_svg(values[1], truth, "champion: residuals")
            )
            if resamples:
                with ctx.log.group(f"paired bootstrap, {resamples} resamples"):
                    outcome.samples = bootstrap.paired_regression(
                        truth, values[0], values[1], names, resamples=resamples, seed=seed
                    )

    _judge(ctx, rules, alpha=alpha, resamples=resamples, seed=seed, outcome=outcome)


def _judge(
    ctx: StageContext,
    rules: list[Rule],
    *,
    alpha: float | None,
    resamples: int,
    seed: int,
    outcome: Outcome,
) -> None:
    """Every rule, plus the default one when no rule compares with the champion."""
    from modelship.evaluation import bootstrap, gates

    rules = [*rules, *_default_rule(ctx, rules, outcome)]
    bad = [f"{k}={v}" for k, v in outcome.candidate.items() if not math.isfinite(v)]
    if bad:
        raise GateFailed(f"candidate metrics are not finite: {', '.join(bad)}")
    if outcome.champion is not None:
        used = {r.metric for r in rules if r.relative}
        bad = [
            f"{k}={v}" for k, v in outcome.champion.items() if k in used and not math.isfinite(v)
        ]
        if bad:
            raise GateFailed(f"champion metrics used by a rule are not finite: {', '.join(bad)}")

    confidence_alpha = alpha if alpha is not None else 0.05
    if outcome.champion is not None:
        for metric, samples in outcome.samples.items():
            point = outcome.candidate[metric] - outcome.champion[metric]
            outcome.deltas[metric] = bootstrap.summarize(samples, point, confidence_alpha)
        outcome.notes.append(
            f"paired bootstrap: {resamples} resamples, seed {seed}, "
            + (f"significance alpha {alpha:g}" if alpha is not None else "significance off")
        )
    for rule in rules:
        pair = outcome.samples.get(rule.metric)
        outcome.gates.append(
            gates.decide(
                rule,
                candidate=outcome.candidate.get(rule.metric),
                champion=(outcome.champion or {}).get(rule.metric),
                has_champion=outcome.champion is not None,
                alpha=alpha,
                samples=(pair.candidate, pair.champion) if pair is not None else None,
            )
        )


def _default_rule(ctx: StageContext, rules: list[Rule], outcome: Outcome) -> list[Rule]:
    """The fail-closed gate against the champion, unless a rule or the user says otherwise."""
    from modelship.evaluation import gates
    from modelship.evaluation.bootstrap import HIGHER_IS_BETTER

    if outcome.champion is None or gates.compares_with_champion(rules) or not outcome.metrics:
        return []
    if not ctx.inputs.flag("compare-with-champion"):
        outcome.notes.append(
            "no rule compares with the champion, and compare-with-champion is false"
        )
        return []
    primary = outcome.metrics[0]
    rule = gates.default_champion_rule(primary, HIGHER_IS_BETTER[primary])
    outcome.notes.append(
        f"the default rule {rule} applies: no rule in thresholds compares with the champion "
        "(compare-with-champion: false turns it off)"
    )
    return [rule]


def _champion_uri(ctx: StageContext, client: Any, name: str, outcome: Outcome) -> str:
    """The champion's URI, or '' when there is none (only for the default alias)."""
    from modelship import registry, tracking

    given = ctx.inputs.optional("champion")
    uri = given or f"models:/{name}@champion"
    ref = tracking.parse_model_uri(uri, "champion")
    if ref.kind == "alias":
        version = registry.alias_version(client, ref.name, ref.alias)
        if not version:
            if given:
                raise UsageError(
                    f"champion {uri} does not exist", "leave `champion` empty to use the default"
                )
            ctx.log.info(
                f"no champion: {ref.name} has no alias {ref.alias!r}; "
                "only absolute thresholds apply"
            )
            outcome.notes.append(f"no champion ({uri} is not set): relative rules skipped")
            return ""
        outcome.champion_version = version
        uri = f"models:/{ref.name}/{version}"
    elif ref.kind == "version":
        outcome.champion_version = ref.version
    outcome.champion_uri = uri
    return uri


def _write_reports(ctx: StageContext, name: str, outcome: Outcome, alpha: float | None) -> Any:
    from modelship.evaluation import report as rep

    confidence = 1 - (alpha if alpha is not None else 0.05)
    summary = ctx.summary
    summary.heading(f"{name}: {outcome.decision}")
    if outcome.error:
        summary.text(f"Failed closed: {outcome.error}")
    rows = rep.table_rows(
        outcome.metrics, outcome.candidate, outcome.champion, outcome.deltas, outcome.gates
    )
    if rows:
        summary.table(
            rep.headers(confidence),
            [
                [r.metric, r.candidate, r.champion, r.delta, r.interval, r.rule, r.result]
                for r in rows
            ],
        )
    orphan = [g for g in outcome.gates if g.rule.metric not in outcome.metrics]
    for gate in orphan:
        summary.text(f"{gate.rule.label}: {rep.result_text(gate)}")
    for note in outcome.notes:
        summary.text(note)
    for plot in outcome.plots:
        if plot:
            summary.html_only(plot)
    path = ctx.reports_dir / "evaluate.junit.xml"
    return rep.write_junit(path, f"modelship evaluate {name}", outcome.gates, outcome.error)


def _log_to_mlflow(ctx: StageContext, client: Any, name: str, outcome: Outcome, junit: Any) -> str:
    """The evaluation as an MLflow run, nested under the candidate's run."""
    import contextlib
    import sys

    # MLflow prints run links on stdout, which belongs to `--json` alone.
    with contextlib.redirect_stdout(sys.stderr):
        return _log_run(ctx, client, name, outcome, junit)


def _log_run(ctx: StageContext, client: Any, name: str, outcome: Outcome, junit: Any) -> str:
    from modelship import lineage, tracking
    from modelship.ci.errors import ExternalError

    candidate_uri = ctx.inputs.text("model-uri")
    try:
        ref = tracking.parse_model_uri(candidate_uri)
        candidate_run = tracking.model_run_id(client, ref)
    except Exception as err:  # the evaluation is still logged, unlinked
        ctx.log.warning(f"could not find the candidate's run: {err}")
        candidate_run = ""
    try:
        if candidate_run:
            experiment = client.get_run(candidate_run).info.experiment_id
        else:
            found = client.get_experiment_by_name("modelship-evaluations")
            experiment = (
                found.experiment_id if found else client.create_experiment("modelship-evaluations")
            )
        tags = {
            "mlflow.runName": f"evaluate-{name}",
            "modelship.stage": "evaluate",
            "modelship.model_name": name,
            "modelship.candidate_uri": candidate_uri,
            "modelship.candidate_run_id": candidate_run,
            "modelship.champion_uri": outcome.champion_uri,
            "modelship.champion_version": outcome.champion_version,
            "modelship.decision": outcome.decision,
            "modelship.passed": "true" if outcome.passed else "false",
            lineage.CI_PLATFORM: ctx.platform.name,
            lineage.CI_RUN_URL: ctx.platform.run_url,
        }
        if candidate_run:
            tags["mlflow.parentRunId"] = candidate_run
        if outcome.error:
            tags["modelship.error"] = outcome.error[:4000]
        run = client.create_run(experiment, tags={k: v for k, v in tags.items() if v})
        run_id = str(run.info.run_id)
        from mlflow.entities import Metric, Param

        stamp = int(run.info.start_time)
        metrics: list[Any] = []

        def add(key: str, value: float | None) -> None:
            if value is not None and math.isfinite(value):
                metrics.append(Metric(key, float(value), stamp, 0))

        for key, value in outcome.candidate.items():
            add(f"candidate.{key}", value)
        for key, value in (outcome.champion or {}).items():
            add(f"champion.{key}", value)
        for key, stats in outcome.deltas.items():
            add(f"delta.{key}", stats.delta)
            add(f"delta.{key}.ci_low", stats.ci_low)
            add(f"delta.{key}.ci_high", stats.ci_high)
            add(f"delta.{key}.p_value", stats.p_value)
        add("passed", 1.0 if outcome.passed else 0.0)
        params = [
            Param("thresholds", ctx.inputs.text("thresholds")[:6000] or "(none)"),
            Param("significance", ctx.inputs.text("significance")),
            Param("bootstrap_samples", ctx.inputs.text("bootstrap-samples")),
            Param("task", outcome.task or "unknown"),
            Param("rows", str(outcome.rows)),
        ]
        client.log_batch(run_id, metrics=metrics, params=params)
        data_path = ctx.inputs.path("data", ctx.workspace)
        if data_path is not None and data_path.is_file():
            from modelship.evaluation.scoring import file_fingerprint

            client.set_tag(run_id, lineage.DATA_VERSION, file_fingerprint(data_path))
        summary = ctx.summary
        client.log_text(run_id, ctx.log.redact(summary.render_markdown()), "reports/evaluate.md")
        client.log_text(run_id, ctx.log.redact(summary.render_html()), "reports/evaluate.html")
        client.log_text(run_id, junit.read_text(encoding="utf-8"), "reports/evaluate.junit.xml")
        client.log_text(run_id, json.dumps(_gate_records(outcome), indent=2), "reports/gates.json")
        client.set_terminated(run_id, "FINISHED" if outcome.passed else "FAILED")
    except Exception as err:
        raise ExternalError(f"could not log the evaluation to MLflow: {err}") from None
    ctx.log.info(f"evaluation logged as MLflow run {run_id}")
    return run_id


def _gate_records(outcome: Outcome) -> list[dict[str, Any]]:
    return [
        {
            "rule": g.rule.label,
            "outcome": g.outcome,
            "reason": g.reason,
            "candidate": _num(g.candidate),
            "champion": _num(g.champion),
            "threshold": _num(g.threshold),
            "p_value": g.p_value,
        }
        for g in outcome.gates
    ]


def _forge_or_fail(ctx: StageContext) -> Any:
    from modelship import forge

    found = forge.forge_for(
        ctx.platform, ctx.inputs.optional("github-token"), ctx.inputs.optional("gitlab-token")
    )
    number = ctx.platform.pull_request_number()
    if found is None or number is None:
        raise UsageError(
            "comment is true but this run is not in a pull/merge request with a token",
            "pass github-token (GitHub) or gitlab-token (GitLab), or set comment: auto",
        )
    return found


def _comment(
    ctx: StageContext, name: str, outcome: Outcome, alpha: float | None, *, required: bool
) -> None:
    from modelship import forge
    from modelship.ci.errors import ExternalError
    from modelship.evaluation import report as rep

    target = forge.forge_for(
        ctx.platform, ctx.inputs.optional("github-token"), ctx.inputs.optional("gitlab-token")
    )
    number = ctx.platform.pull_request_number()
    if target is None or number is None:
        ctx.log.debug("no PR/MR comment: not in a pull/merge request, or no token")
        return
    confidence = 1 - (alpha if alpha is not None else 0.05)
    rows = rep.table_rows(
        outcome.metrics, outcome.candidate, outcome.champion, outcome.deltas, outcome.gates
    )
    notes = list(outcome.notes)
    if outcome.error:
        notes.insert(0, f"failed closed: {outcome.error}")
    if ctx.platform.run_url:
        notes.append(f"CI run: {ctx.platform.run_url}")
    body = rep.comment_body(
        name, outcome.decision, outcome.passed, rows=rows, confidence=confidence, notes=notes
    )
    try:
        done = forge.upsert_comment(
            target, number, forge.marker("evaluate", name), ctx.log.redact(body)
        )
    except forge.ForgeError as err:
        if required:
            raise ExternalError(f"could not post the evaluation comment: {err}") from None
        ctx.log.warning(f"could not post the evaluation comment: {err}")
        return
    kind = "pull request" if target.kind == "github" else "merge request"
    ctx.log.info(f"{done.action} the evaluation comment on {kind} #{number}")
