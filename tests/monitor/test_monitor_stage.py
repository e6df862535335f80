"""The monitor stage as a user runs it: outputs, reports, metrics, alerts, issues."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

from tests.fakes.forge_server import forge_server
from tests.foundation.helpers import parse_github_output
from tests.harness.cli import run_cli
from tests.monitor.conftest import Pushgateway, Webhook, drift_tables, write_table


def monitor(tmp_path: Path, *extra: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_cli(
        [
            "monitor",
            "--reference",
            "data/reference.parquet",
            "--current",
            "data/current.parquet",
            "--json",
            *extra,
        ],
        tmp_path,
        env,
    )


@pytest.mark.usefixtures("drift_files")
def test_outputs_reports_and_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    output = tmp_path / "output.txt"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
    }
    run = monitor(tmp_path, env=env)
    assert run.code == 0, run.stderr
    outputs = parse_github_output(output.read_text())
    assert outputs["drift-detected"] == "true"
    assert json.loads(outputs["drifted-features"]) == ["shifted", "plan"]
    assert float(outputs["drift-share"]) == 0.5
    assert outputs["retrain"] == "true"

    report = json.loads((tmp_path / outputs["report-json"]).read_text())
    by_name = {f["feature"]: f for f in report["features"]}
    assert by_name["shifted"]["method"] == "ks"
    assert by_name["shifted"]["drifted"] is True
    assert by_name["plan"]["method"] == "chi2"
    assert by_name["stable"]["drifted"] is False
    assert by_name["stable"]["p_value"] > 0.05
    assert by_name["stable"]["threshold"] == 0.05
    assert by_name["colour"]["method"] == "chi2"

    # The step summary: one table, drifted features first.
    text = summary.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "feature" not in line]
    names = [row.split("|")[1].strip() for row in rows]
    assert set(names[:2]) == {"shifted", "plan"}
    assert set(names[2:]) == {"stable", "colour"}
    assert "| shifted | yes | numeric | ks |" in text

    # The HTML report: a histogram per numeric feature, bars per category.
    page = (tmp_path / outputs["report-path"]).read_text()
    assert page.count("<svg") == 4
    assert "shifted: reference vs current" in page
    assert re.search(r"<title>free: reference \d", page)


@pytest.mark.usefixtures("drift_files")
def test_fail_on_drift_exits_1_with_outputs(tmp_path: Path) -> None:
    run = monitor(tmp_path, "--fail-on-drift", "true")
    assert run.code == 1
    assert run.outputs["drift-detected"] == "true"
    assert "data drift: 2 of 4 features drifted" in run.stderr


@pytest.mark.usefixtures("drift_files")
def test_higher_drift_share_means_no_dataset_drift(tmp_path: Path) -> None:
    run = monitor(tmp_path, "--drift-share", "0.75", "--fail-on-drift", "true")
    assert run.code == 0, run.stderr
    assert run.outputs["drift-detected"] == "false"
    assert run.outputs["retrain"] == "false"
    assert json.loads(run.outputs["drifted-features"]) == ["shifted", "plan"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_csv_and_jsonl_give_the_parquet_result(tmp_path: Path, suffix: str) -> None:
    ref, cur = drift_tables()
    for fmt in (".parquet", suffix):
        write_table(ref, tmp_path / f"r{fmt}")
        write_table(cur, tmp_path / f"c{fmt}")
    runs = [
        run_cli(["monitor", "--reference", f"r{fmt}", "--current", f"c{fmt}", "--json"], tmp_path)
        for fmt in (".parquet", suffix)
    ]
    assert runs[0].code == runs[1].code == 0, runs[1].stderr
    reports = [json.loads((tmp_path / "modelship-reports/monitor-drift.json").read_text())]
    assert runs[0].outputs["drifted-features"] == runs[1].outputs["drifted-features"]
    assert runs[0].outputs["drift-share"] == runs[1].outputs["drift-share"]
    assert reports[0]["reference_rows"] == 2000


def test_missing_values_are_counted_and_left_out(tmp_path: Path) -> None:
    ref, cur = drift_tables(500)
    values = cur.column("stable").to_pylist()
    values[:50] = [None] * 50
    values[50:53] = [float("nan"), float("inf"), float("-inf")]
    cur = cur.set_column(0, "stable", pa.array(values, pa.float64()))
    write_table(ref, tmp_path / "data/reference.parquet")
    write_table(cur, tmp_path / "data/current.parquet")
    run = monitor(tmp_path)
    assert run.code == 0, run.stderr
    report = json.loads((tmp_path / run.outputs["report-json"]).read_text())
    stable = next(f for f in report["features"] if f["feature"] == "stable")
    # Empty, NaN and infinite values are missing (as in Evidently), not compared.
    assert stable["current_missing"] == 53
    assert stable["current_count"] == 447


@pytest.mark.usefixtures("drift_files")
def test_metrics_file_passes_promtool(tmp_path: Path) -> None:
    run = monitor(tmp_path, "--metrics-file", "metrics/drift.prom", "--model-name", "churn")
    assert run.code == 0, run.stderr
    text = (tmp_path / "metrics/drift.prom").read_text()
    assert 'modelship_feature_drifted{feature="shifted",method="ks",model="churn"} 1.0' in text
    assert 'modelship_dataset_drift{model="churn"} 1' in text
    assert 'modelship_drift_share{model="churn"} 0.5' in text
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.services
def test_metrics_reach_a_real_pushgateway(tmp_path: Path, pushgateway: Pushgateway) -> None:
    ref, cur = drift_tables(500)
    weird = 'fe"at\\ure\nx'
    write_table(
        ref.rename_columns(["stable", weird, "colour", "plan"]), tmp_path / "data/reference.parquet"
    )
    write_table(
        cur.rename_columns(["stable", weird, "colour", "plan"]), tmp_path / "data/current.parquet"
    )
    run = monitor(
        tmp_path,
        "--pushgateway-url",
        pushgateway.url,
        "--model-name",
        "team/churn",
        "--metrics-job",
        "drift-test",
    )
    assert run.code == 0, run.stderr
    metrics = pushgateway.metrics()
    assert 'modelship_dataset_drift{instance="",job="drift-test",model="team/churn"} 1' in metrics
    escaped = 'feature="fe\\"at\\\\ure\\nx"'
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("modelship_feature_drifted{") and escaped in line
    )
    assert line.endswith(" 1")
    assert (
        'modelship_feature_drift_score{feature="stable",instance="",job="drift-test",method="ks",model="team/churn"}'
        in metrics
    )
    # A second push replaces the group: a feature that went away is gone.
    write_table(ref.select(["stable", "plan"]), tmp_path / "data/reference.parquet")
    write_table(cur.select(["stable", "plan"]), tmp_path / "data/current.parquet")
    again = monitor(
        tmp_path,
        "--pushgateway-url",
        pushgateway.url,
        "--model-name",
        "team/churn",
        "--metrics-job",
        "drift-test",
    )
    assert again.code == 0, again.stderr
    assert escaped not in pushgateway.metrics()


@pytest.mark.usefixtures("drift_files")
def test_outputs_are_published_and_the_password_hidden_when_the_pushgateway_fails(
    tmp_path: Path,
) -> None:
    from tests.fixtures.net import free_port

    output = tmp_path / "output.txt"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(output),
    }
    gateway = f"http://admin:S3cret@127.0.0.1:{free_port()}"
    run = monitor(tmp_path, "--pushgateway-url", gateway, env=env)
    assert run.code == 0, run.stderr
    outputs = parse_github_output(output.read_text())
    assert (outputs["status"], outputs["drift-detected"], outputs["retrain"]) == (
        "drift",
        "true",
        "true",
    )
    assert f"metrics not pushed to http://***@127.0.0.1:{gateway.rsplit(':', 1)[1]}" in (run.stderr)
    assert "cannot reach the Pushgateway" in run.stderr
    shown = [line for line in run.stderr.splitlines() if not line.startswith("::add-mask::")]
    assert not any("S3cret" in line for line in shown + run.stdout.splitlines())
    assert "::add-mask::S3cret" in run.stderr.splitlines()


@pytest.mark.usefixtures("drift_files")
def test_outputs_are_published_when_the_webhook_fails_after_drift(tmp_path: Path) -> None:
    from tests.fixtures.net import free_port

    output = tmp_path / "output.txt"
    hook = f"http://127.0.0.1:{free_port()}/services/T0/B0/s3cr3tT0kenPart"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(output),
        "INPUT_WEBHOOK_URL": hook,
    }
    run = monitor(tmp_path, env=env)
    assert run.code == 0, run.stderr
    outputs = parse_github_output(output.read_text())
    assert (outputs["status"], outputs["drift-detected"], outputs["retrain"]) == (
        "drift",
        "true",
        "true",
    )
    assert "::warning" in run.stderr
    assert "drift notification not sent" in run.stderr
    shown = [line for line in run.stderr.splitlines() if not line.startswith("::add-mask::")]
    assert not any("s3cr3tT0kenPart" in line for line in shown)


@pytest.mark.usefixtures("drift_files")
@pytest.mark.parametrize(
    "url",
    ["htp:/hooks.slack.com/s3cr3tT0kenPart", "https://", "hooks.slack.com/s3cr3tT0kenPart",
     "https://hooks.slack.com:0/s3cr3tT0kenPart", "https://hooks.slack.com/a b/s3cr3tT0kenPart"],
)  # fmt: skip
def test_a_malformed_webhook_url_is_refused_before_any_work(tmp_path: Path, url: str) -> None:
    run = monitor(tmp_path, "--webhook-url", url)
    assert run.code == 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, run.stderr
    assert "input 'webhook-url'" in errors[0]
    assert "s3cr3tT0kenPart" not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "modelship-reports" / "monitor-drift.json").exists()


@pytest.mark.usefixtures("drift_files")
@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        (
            "--pushgateway-url",
            "ftp://admin:S3cret@gw",
            "input 'pushgateway-url' (from --pushgateway-url) must be a URL with scheme http://",
        ),
        ("--pushgateway-url", "http://admin:S3cret@gw:99999", "is not a valid URL"),
        ("--metrics-file", "data", "(from --metrics-file) names a directory"),
        ("--metrics-file", "data/reference.parquet/x.prom", "is not a directory"),
        ("--min-samples", "0", "input 'min-samples'"),
        ("--min-samples", "2.5", "input 'min-samples' must be a whole number"),
        ("--max-missing-increase", "1.5", "input 'max-missing-increase' must be in [0, 1]"),
        ("--max-performance-drop", "-1", "(from --max-performance-drop) must be at least 0"),
    ],
)
def test_bad_delivery_and_judgement_inputs_are_refused_before_any_work(
    tmp_path: Path, flag: str, value: str, expected: str
) -> None:
    run = monitor(tmp_path, flag, value)
    assert run.code == 2, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, run.stderr
    assert expected in errors[0]
    assert "S3cret" not in run.stderr + run.stdout
    assert not (tmp_path / "modelship-reports" / "monitor-drift.json").exists()


@pytest.mark.usefixtures("drift_files")
def test_webhook_gets_a_slack_and_teams_payload_and_the_url_stays_secret(
    tmp_path: Path, webhook: Webhook
) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_REPOSITORY": "acme/churn",
        "GITHUB_RUN_ID": "42",
        "INPUT_WEBHOOK_URL": webhook.url,
    }
    run = monitor(tmp_path, "--model-name", "churn", env=env)
    assert run.code == 0, run.stderr
    assert len(webhook.received) == 1
    payload = webhook.received[0]
    assert set(payload) == {"text"}
    assert "*Data drift detected* for model `churn`: 2 of 4 features drifted" in payload["text"]
    assert "`shifted`, `plan`" in payload["text"]
    assert "https://github.com/acme/churn/actions/runs/42" in payload["text"]
    assert webhook.headers[0]["Content-Type"].startswith("application/json")
    secret_part = "s3cr3tT0kenPart"
    # The only place it appears is the mask command the runner consumes.
    shown = [
        line
        for line in (run.stderr + run.stdout).splitlines()
        if not line.startswith("::add-mask::")
    ]
    assert any(
        line.startswith("::add-mask::") and secret_part in line for line in run.stderr.splitlines()
    )
    assert not any(secret_part in line for line in shown)
    for report in (tmp_path / "modelship-reports").iterdir():
        assert secret_part not in report.read_text()


@pytest.mark.usefixtures("drift_files")
def test_failing_webhook_warns_without_the_url(tmp_path: Path, webhook: Webhook) -> None:
    webhook.status = 404
    run = monitor(tmp_path, "--webhook-url", webhook.url)
    assert run.code == 0, run.stderr
    assert run.outputs["drift-detected"] == "true"
    assert run.outputs["status"] == "drift"
    assert "drift notification not sent: the webhook answered HTTP 404" in run.stderr
    assert "s3cr3tT0kenPart" not in run.stderr


@pytest.mark.usefixtures("drift_files")
def test_no_webhook_call_without_drift(tmp_path: Path, webhook: Webhook) -> None:
    run = monitor(tmp_path, "--webhook-url", webhook.url, "--drift-share", "1")
    assert run.code == 0, run.stderr
    assert webhook.received == []


@pytest.mark.usefixtures("drift_files")
def test_one_drift_issue_per_model_on_github(tmp_path: Path) -> None:
    with forge_server("ghp_faketoken123") as forge:
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(tmp_path),
            "GITHUB_REPOSITORY": "acme/churn",
            "GITHUB_API_URL": forge.github_api,
            "INPUT_GITHUB_TOKEN": "ghp_faketoken123",
        }
        for _ in range(2):
            run = monitor(tmp_path, "--open-issue", "true", "--model-name", "churn", env=env)
            assert run.code == 0, run.stderr
        issues = forge.issues("github", "acme/churn")
        assert len(issues) == 1
        assert issues[0]["title"] == "Data drift detected: churn"
        assert "| shifted | ks |" in issues[0]["body"]
        assert "drift issue updated: #1" in run.stderr
        shown = [line for line in run.stderr.splitlines() if not line.startswith("::add-mask::")]
        assert not any("ghp_faketoken123" in line for line in shown)


@pytest.mark.usefixtures("drift_files")
def test_drift_issue_on_gitlab(tmp_path: Path) -> None:
    with forge_server("glpat-faketoken") as forge:
        env = {
            "GITLAB_CI": "true",
            "CI_PROJECT_DIR": str(tmp_path),
            "CI_PROJECT_ID": "7",
            "CI_API_V4_URL": forge.gitlab_api,
            "INPUT_GITLAB_TOKEN": "glpat-faketoken",
        }
        run = monitor(tmp_path, "--open-issue", "true", "--model-name", "churn", env=env)
        assert run.code == 0, run.stderr
        issues = forge.issues("gitlab", "7")
        assert len(issues) == 1
        assert "shifted" in issues[0]["description"]


@pytest.mark.usefixtures("drift_files")
def test_open_issue_without_a_token_warns(tmp_path: Path) -> None:
    run = monitor(tmp_path, "--open-issue", "true")
    assert run.code == 0
    assert "open-issue needs a CI run with a token" in run.stderr


def test_gzipped_csv_is_read(tmp_path: Path) -> None:
    import gzip

    ref, cur = drift_tables()
    plain = write_table(ref, tmp_path / "r.csv")
    (tmp_path / "r.csv.gz").write_bytes(gzip.compress(plain.read_bytes()))
    write_table(cur, tmp_path / "c.parquet")
    run = run_cli(
        ["monitor", "--reference", "r.csv.gz", "--current", "c.parquet", "--json"], tmp_path
    )
    assert run.code == 0, run.stderr
    assert json.loads(run.outputs["drifted-features"]) == ["shifted", "plan"]


def test_names_from_the_data_are_escaped_in_the_reports(tmp_path: Path) -> None:
    ref, cur = drift_tables(300)
    hostile = "<img src=x onerror=alert(1)>"
    names = ["stable", hostile, "colour", "plan"]
    plan_ref = pa.array([f"<b>{v}</b>" for v in ref.column("plan").to_pylist()])
    plan_cur = pa.array([f"<b>{v}</b>" for v in cur.column("plan").to_pylist()])
    write_table(
        ref.rename_columns(names).set_column(3, "plan", plan_ref),
        tmp_path / "data/reference.parquet",
    )
    write_table(
        cur.rename_columns(names).set_column(3, "plan", plan_cur),
        tmp_path / "data/current.parquet",
    )
    run = monitor(tmp_path)
    assert run.code == 0, run.stderr
    for name in ("monitor-drift.html", "monitor.html"):
        page = (tmp_path / "modelship-reports" / name).read_text()
        assert hostile not in page
        assert "<b>free</b>" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
    summary = (tmp_path / "modelship-reports" / "monitor.md").read_text()
    assert hostile not in summary


@pytest.mark.services
@pytest.mark.usefixtures("drift_files")
def test_a_pushgateway_behind_basic_auth_gets_the_metrics_and_the_password_stays_hidden(
    tmp_path: Path,
) -> None:
    import shutil

    import requests

    from tests.fixtures.net import free_port
    from tests.harness.servers import ServerProcess

    hashed = subprocess.run(
        ["htpasswd", "-nbBC", "5", "admin", "S3cret"], capture_output=True, text=True, check=True
    ).stdout.strip()
    config = tmp_path / "web.yml"
    config.write_text(f"basic_auth_users:\n  admin: '{hashed.split(':', 1)[1]}'\n")
    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    assert binary is not None
    port = free_port()
    argv = [binary, f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={config}"]
    with ServerProcess(argv, tmp_path / "gateway" / "log", stop_timeout=10) as server:
        server.wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=30)
        env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path)}
        gateway = f"http://admin:S3cret@127.0.0.1:{port}"
        run = monitor(tmp_path, "--pushgateway-url", gateway, "--model-name", "churn", env=env)
        assert run.code == 0, run.stderr
        assert f"metrics pushed to http://***@127.0.0.1:{port}" in run.stderr
        shown = [line for line in run.stderr.splitlines() if not line.startswith("::add-mask::")]
        assert not any("S3cret" in line for line in shown + run.stdout.splitlines())
        metrics = requests.get(
            f"http://127.0.0.1:{port}/metrics", auth=("admin", "S3cret"), timeout=10
        ).text
        assert 'modelship_dataset_drift{instance="",job="modelship-monitor",model="churn"} 1' in (
            metrics
        )
        wrong = monitor(tmp_path, "--pushgateway-url", f"http://admin:nope@127.0.0.1:{port}")
        assert wrong.code == 0, wrong.stderr
        assert "metrics not pushed to" in wrong.stderr
        assert "the Pushgateway answered HTTP 401" in wrong.stderr
        assert wrong.outputs["drift-detected"] == "true"
