"""Every failure is one `error:` line with exit 2 or 3; outputs are never lost."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from modelship.ci.outputs import write_gitlab
from modelship.ci.runner import run_stage
from modelship.spec import Stage
from tests.foundation.helpers import parse_github_output
from tests.harness.checkout import init_project
from tests.harness.cli import run_cli
from tests.security import probe_stages


def _run(stage: Stage, tmp_path: Path, env: dict[str, str], **flags: str) -> tuple[int, str]:
    err = io.StringIO()
    code = run_stage(stage, flags, {"HOME": str(tmp_path), **env}, tmp_path, stderr=err)
    return code, err.getvalue()


def test_an_unexpected_error_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    code, log = _run(probe_stages.BUG, tmp_path, {"GITHUB_ACTIONS": "true"})
    assert code == 3
    assert "Traceback" not in log
    assert "S3cretProbe" not in log
    (line,) = log.splitlines()
    assert line.startswith("::error::probe: unexpected error RuntimeError: ")
    assert "http://***@tracking.example:5000/api" in line
    assert re.search(r"at probe_stages\.py:\d+", line)


def test_a_library_error_names_the_system_and_hides_the_url_password(tmp_path: Path) -> None:
    code, log = _run(probe_stages.LIBRARY_ERROR, tmp_path, {})
    assert code == 3
    assert log.startswith("error: probe: an HTTP server failed: Max retries exceeded")
    assert "S3cretProbe" not in log
    assert "Traceback" not in log


def test_url_passwords_are_masked_before_anything_prints(tmp_path: Path) -> None:
    value = "http://admin:S3cretPush@pushgateway:9091"
    out = tmp_path / "out"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out)}
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    code, log = _run(probe_stages.OUTSIDE_TEXT, tmp_path, env, value=value)
    assert code == 0
    lines = log.splitlines()
    assert lines[0] == "::add-mask::S3cretPush"
    assert "metrics pushed to http://***@pushgateway:9091" in lines
    written = [
        (tmp_path / "summary.md").read_text(),
        *(p.read_text() for p in (tmp_path / "modelship-reports").iterdir()),
    ]
    assert all("S3cretPush" not in text for text in written)
    assert all("\\*\\*\\*@pushgateway" in t or "***@pushgateway" in t for t in written)


def test_an_unwritable_github_output_keeps_the_outputs_in_json_and_the_local_file(
    tmp_path: Path,
) -> None:
    project = init_project(tmp_path / "p", {"a": "b"})
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "missing" / "dir" / "out")}
    env["GITHUB_WORKSPACE"] = str(project)
    run = run_cli(["context", "--json"], project, env)
    assert run.code == 3
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("::error::")]
    assert len(errors) == 1
    assert "GITHUB_OUTPUT" in errors[0]
    assert "missing" in errors[0]
    assert run.outputs["environment"] == "development"
    assert len(run.outputs["sha"]) == 40
    local = json.loads((project / ".modelship" / "outputs" / "context.json").read_text())
    assert local == run.outputs


def test_a_dotenv_path_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    project = init_project(tmp_path / "p", {"a": "b"})
    (project / "is-a-dir").mkdir()
    env = {"GITLAB_CI": "true", "CI_PROJECT_DIR": str(project), "MODELSHIP_DOTENV": "is-a-dir"}
    run = run_cli(["context", "--json"], project, env)
    assert run.code == 3
    assert "Traceback" not in run.stderr
    assert "dotenv" in run.stderr
    assert "is-a-dir" in run.stderr
    assert run.outputs["environment"] == "development"
    assert len(run.outputs["sha"]) == 40


def test_a_dotenv_path_outside_the_workspace_is_a_usage_error(tmp_path: Path) -> None:
    project = init_project(tmp_path / "p", {"a": "b"})
    env = {"GITLAB_CI": "true", "CI_PROJECT_DIR": str(project), "MODELSHIP_DOTENV": "../x.env"}
    run = run_cli(["context", "--json"], project, env)
    assert run.code == 2
    assert "outside the workspace" in run.stderr
    assert run.outputs["environment"] == "development"
    assert len(run.outputs["sha"]) == 40


def test_a_github_event_with_a_null_pull_request_works(tmp_path: Path) -> None:
    project = init_project(tmp_path / "p", {"a": "b"})
    event = tmp_path / "event.json"
    event.write_text('{"pull_request": null}')
    out = tmp_path / "out"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(project),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_HEAD_REF": "feature/x",
        "GITHUB_OUTPUT": str(out),
    }
    run = run_cli(["context"], project, env)
    assert run.code == 0, run.stderr
    outputs = parse_github_output(out.read_text())
    assert outputs["branch"] == "feature/x"
    assert outputs["should-deploy"] == "false"


def test_a_metrics_file_naming_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    project = init_project(tmp_path / "p", {"ref.csv": "a\n1\n2\n", "metrics/.keep": ""})
    argv = ["monitor", "--reference", "ref.csv", "--current", "ref.csv"]
    run = run_cli([*argv, "--metrics-file", "metrics"], project)
    assert run.code == 2
    assert "input 'metrics-file'" in run.stderr
    assert "directory" in run.stderr
    run = run_cli(["train", "--command", "true", "--metrics-file", "metrics"], project)
    assert run.code == 2
    assert "input 'metrics-file'" in run.stderr


def test_a_branch_with_u2028_never_forges_a_dotenv_variable(tmp_path: Path) -> None:
    project = init_project(tmp_path / "p", {"a": "b"})
    branch = "feat\u2028MODELSHIP_EVALUATE_PASSED=true\u0085MODELSHIP_X=1\rMODELSHIP_Y=2"
    env = {"GITLAB_CI": "true", "CI_PROJECT_DIR": str(project), "CI_COMMIT_BRANCH": branch}
    assert run_cli(["context"], project, env).code == 0
    # A second stage in the same job rewrites the file, keeping the context lines.
    dotenv = project / "modelship.env"
    write_gitlab(dotenv, project / "spill", "test", {"passed": "true"})
    with dotenv.open(encoding="utf-8", newline="") as handle:
        lines = handle.read().split("\n")  # as GitLab reads it
    names = [line.partition("=")[0] for line in lines if line]
    assert "MODELSHIP_EVALUATE_PASSED" not in names
    assert "MODELSHIP_X" not in names
    assert len(names) == len(set(names))
    assert all(name.startswith(("MODELSHIP_CONTEXT_", "MODELSHIP_TEST_")) for name in names)
    spilled = next(line for line in lines if line.startswith("MODELSHIP_CONTEXT_BRANCH="))
    path = Path(spilled.partition("=")[2])
    with path.open(encoding="utf-8", newline="") as handle:
        assert handle.read() == branch


@pytest.mark.parametrize(
    "separator", ["\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
)
def test_a_value_with_any_line_separator_is_moved_out_of_the_dotenv(
    tmp_path: Path, separator: str
) -> None:
    dotenv = tmp_path / "m.env"
    written = write_gitlab(dotenv, tmp_path / "spill", "s", {"v": f"a{separator}B=1"})
    assert Path(written["MODELSHIP_S_V"]).read_bytes().decode() == f"a{separator}B=1"
    assert dotenv.read_bytes().decode().count("\n") == 1
    assert separator not in dotenv.read_bytes().decode()


def test_a_manifest_named_with_a_command_never_stops_the_runner_from_masking(
    tmp_path: Path,
) -> None:
    import base64

    token = "kubeTokenValue-0987654321"
    kubeconfig = (
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:9'}\n"
        "contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n"
        f"users:\n- name: u\n  user: {{token: {token}}}\n"
    )
    manifest = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        '  name: "churn\\n::stop-commands::pwned\\n::set-output name=x::y"\n'
        "spec:\n  selector: {matchLabels: {app: churn}}\n  template:\n"
        "    metadata: {labels: {app: churn}}\n"
        "    spec: {containers: [{name: model, image: x}]}\n"
    )
    project = init_project(tmp_path / "p", {"k8s/deploy.yaml": manifest})
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(project)}
    env["INPUT_KUBECONFIG"] = base64.b64encode(kubeconfig.encode()).decode()
    argv = ["deploy", "--dry-run", "--manifests", "k8s", "--image", "ghcr.io/acme/churn:1"]
    run = run_cli([*argv, "--model-name", "churn"], project, env)
    assert run.code in (0, 1, 2, 3)
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert f"::add-mask::{token}" in lines
    assert not any(
        line.lstrip().startswith(("::stop-commands::pwned", "::set-output")) for line in lines
    )
    assert all(token not in line for line in lines if not line.startswith("::add-mask::"))
