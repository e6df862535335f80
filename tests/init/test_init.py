"""`modelship init` on a DVC pipeline, an MLproject and a plain training script."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.init.conftest import Result, make_repo, run_init

WORKFLOW = Path(".github/workflows/ml-pipeline.yml")


def _workflow(repo: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((repo / WORKFLOW).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _step_with(job: dict[str, Any], action: str) -> dict[str, Any]:
    for step in job["steps"]:
        if f"/actions/{action}@" in step.get("uses", ""):
            return dict(step.get("with") or {})
    raise AssertionError(f"no {action} step")


def _gitlab(repo: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((repo / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _ok(result: Result) -> Result:
    assert result.code == 0, result.err
    return result


def test_dvc_pipeline_trains_with_dvc_and_pulls_its_data(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "dvc")
    result = _ok(run_init(repo))
    assert "label column diagnosis (named in params.yaml)" in result.out
    assert f"  {WORKFLOW.as_posix()}\n" in result.out
    jobs = _workflow(repo)["jobs"]
    assert jobs["train"]["needs"] == ["context", "test", "data"]
    assert _step_with(jobs["train"], "train")["mode"] == "dvc"
    pulled = _step_with(jobs["train"], "data")["targets"]
    assert pulled == "data/train.csv,data/validation.csv"
    assert _step_with(jobs["evaluate"], "data")["targets"] == "data/validation.csv"
    evaluate = _step_with(jobs["evaluate"], "evaluate")
    assert (evaluate["data"], evaluate["target"]) == ("data/validation.csv", "diagnosis")
    assert _step_with(jobs["test"], "test")["command"].endswith(
        "pytest -q -p no:cacheprovider tests"
    )


def test_mlproject_trains_with_mlflow_run_and_installs_the_project(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "mlproject")
    result = _ok(run_init(repo))
    assert "label column churned (named in MLproject)" in result.out
    workflow = _workflow(repo)
    jobs = workflow["jobs"]
    assert workflow["env"]["MODEL_NAME"] == "churn-model"
    assert "data" not in jobs, "no DVC: the data job has nothing to pull"
    assert jobs["train"]["needs"] == ["context", "test"]
    assert _step_with(jobs["train"], "train")["mode"] == "mlflow"
    assert any(step.get("name") == "Install the project" for step in jobs["train"]["steps"])
    evaluate = _step_with(jobs["evaluate"], "evaluate")
    assert (evaluate["data"], evaluate["target"]) == ("data/holdout.csv", "churned")


def test_plain_script_trains_with_its_command_and_has_no_test_job(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "script")
    result = _ok(run_init(repo))
    assert "label column label (named in data/val.csv)" in result.out
    jobs = _workflow(repo)["jobs"]
    assert "test" not in jobs
    assert "data" not in jobs
    assert jobs["train"]["needs"] == ["context"]
    train = _step_with(jobs["train"], "train")
    assert (train["mode"], train["command"]) == ("command", "python train.py")
    assert _step_with(jobs["evaluate"], "evaluate")["data"] == "data/val.csv"


def test_smoke_draft_holds_validation_rows_without_the_label(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "script")
    result = _ok(run_init(repo))
    assert "smoke.json (rows from the validation data)" in result.out
    payload = json.loads((repo / "smoke.json").read_text(encoding="utf-8"))
    assert payload == {"dataframe_split": {"columns": ["a", "b"], "data": [[1.5, 2], [3.5, 4]]}}


def test_smoke_draft_is_a_skeleton_when_the_data_is_not_pulled(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "dvc")  # data/validation.csv lives on the DVC remote only
    result = _ok(run_init(repo))
    assert "smoke.json (a skeleton: add rows)" in result.out
    payload = json.loads((repo / "smoke.json").read_text(encoding="utf-8"))
    assert payload == {"dataframe_split": {"columns": [], "data": []}}


def test_existing_pipeline_is_kept_without_force(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "script")
    target = repo / WORKFLOW
    target.parent.mkdir(parents=True)
    target.write_text("# mine\n", encoding="utf-8")
    result = run_init(repo)
    assert result.code == 2
    assert result.err == (
        f"error: {WORKFLOW.as_posix()} already exists (pass --force to replace it)\n"
    )
    assert target.read_text(encoding="utf-8") == "# mine\n"
    assert not (repo / "smoke.json").exists(), "a refusal writes nothing"


def test_force_replaces_the_pipeline_but_never_the_smoke_payload(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "script", **{"smoke.json": '{"mine": true}\n'})
    target = repo / WORKFLOW
    target.parent.mkdir(parents=True)
    target.write_text("# mine\n", encoding="utf-8")
    result = _ok(run_init(repo, "--force"))
    assert "written by `modelship init`" in target.read_text(encoding="utf-8")
    assert (repo / "smoke.json").read_text(encoding="utf-8") == '{"mine": true}\n'
    assert "smoke.json" not in result.out.split("wrote:")[1]


def test_flags_override_what_was_detected(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "dvc")
    _ok(
        run_init(
            repo,
            "--model-name",
            "churn",
            "--target",
            "y",
            "--validation-data",
            "data/train.csv",
            "--train-command",
            "python fit.py --fast",
            "--test-command",
            "",
            "--threshold",
            "roc_auc >= 0.8",
            "--branch",
            "trunk",
        )
    )
    workflow = _workflow(repo)
    jobs = workflow["jobs"]
    assert workflow["env"]["MODEL_NAME"] == "churn"
    assert workflow[True]["push"]["branches"] == ["trunk"]  # YAML 1.1 reads `on` as true
    assert "refs/heads/trunk" in jobs["register"]["if"]
    assert "test" not in jobs
    train = _step_with(jobs["train"], "train")
    assert (train["mode"], train["command"]) == ("command", "python fit.py --fast")
    evaluate = _step_with(jobs["evaluate"], "evaluate")
    assert (evaluate["target"], evaluate["thresholds"]) == ("y", "roc_auc >= 0.8")


def test_gitlab_pipeline_includes_the_stage_templates(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "mlproject")
    result = _ok(run_init(repo, "--platform", "gitlab", "--templates-ref", "v0.1.0"))
    assert "  .gitlab-ci.yml\n" in result.out
    pipeline = _gitlab(repo)
    files = [item["remote"].rsplit("/", 1)[1] for item in pipeline["include"]]
    assert files == [
        "context.yml",
        "test.yml",
        "train.yml",
        "evaluate.yml",
        "register.yml",
        "build.yml",
        "deploy.yml",
        "deploy.yml",
        "promote.yml",
    ]
    assert all("/v0.1.0/gitlab-templates/" in item["remote"] for item in pipeline["include"])
    train = pipeline["include"][2]["inputs"]
    assert (train["mode"], train["experiment"]) == ("mlflow", "churn-model")
    assert pipeline["modelship-train"]["needs"] == ["modelship-context", "modelship-test"]
    assert "modelship-data" not in pipeline


def test_no_label_column_is_a_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    unnamed = "a,b,outcome\n1,2,0\n"
    repo = make_repo(tmp_path, "script", **{"data/val.csv": unnamed, "data/train.csv": unnamed})
    result = run_init(repo)
    assert result.code == 2
    assert (
        result.err
        == "error: no label column found in params, metrics or data (pass --target NAME)\n"
    )
    assert not (repo / ".github").exists()


def test_hostile_label_from_the_repository_cannot_reach_the_workflow(tmp_path: Path) -> None:
    hostile = 'x"\n  evil: ${{ github.token }}'
    repo = make_repo(tmp_path, "dvc", **{"params.yaml": yaml.safe_dump({"target": hostile})})
    result = run_init(repo)
    assert result.code == 2
    assert result.err.startswith("error: label column ")
    assert result.err.endswith("(pass --target)\n")
    assert result.err.count("\n") == 1
    assert not (repo / ".github").exists()


def test_validation_data_outside_the_repository_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "script")
    result = run_init(repo, "--validation-data", "data/../../secret.csv")
    assert (result.code, result.err.count("\n")) == (2, 1)
    assert "leaves the repository" in result.err


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_pipeline_folder_linked_outside_the_repository_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "script")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (repo / ".github").symlink_to(outside, target_is_directory=True)
    result = run_init(repo)
    assert result.code == 2
    assert "resolves outside the repository" in result.err
    assert not any(outside.rglob("*"))


def test_unknown_flag_is_a_usage_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "script")
    assert run_init(repo, "--platform", "jenkins").code == 2


def test_dvc_tracked_data_without_a_dvc_pipeline_gets_a_data_job_not_dvc_repro(
    tmp_path: Path,
) -> None:
    tracked = "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  path: val.csv\n"
    repo = make_repo(tmp_path, "script", **{"data/val.csv.dvc": tracked})
    result = _ok(run_init(repo))
    assert "DVC-tracked data data/val.csv" in result.out
    jobs = _workflow(repo)["jobs"]
    assert jobs["train"]["needs"] == ["context", "data"]
    train = _step_with(jobs["train"], "train")
    assert (train["mode"], train["command"]) == ("command", "python train.py")
    assert _step_with(jobs["evaluate"], "data")["targets"] == "data/val.csv"


def test_dvc_output_with_an_expression_in_its_name_is_refused(tmp_path: Path) -> None:
    pipeline = "stages:\n  prepare:\n    cmd: python prepare.py\n    outs:\n"
    pipeline += "      - 'data/${{ github.token }}.csv'\n"
    repo = make_repo(tmp_path, "dvc", **{"dvc.yaml": pipeline})
    result = run_init(repo, "--validation-data", "data/validation.csv")
    assert (result.code, result.err.count("\n")) == (2, 1)
    assert result.err.startswith("error: DVC output ")
    assert not (repo / ".github").exists()


def test_gitlab_image_name_must_fit_the_build_template(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "script")
    result = run_init(repo, "--platform", "gitlab", "--image-name", "Registry/UPPER")
    assert (result.code, result.err.count("\n")) == (2, 1)
    assert "(pass --image-name)" in result.err
    _ok(run_init(repo, "--platform", "gitlab", "--image-name", "registry.example.com:5000/a/b"))
    build = next(i for i in _gitlab(repo)["include"] if i["remote"].endswith("/build.yml"))
    assert build["inputs"]["image"] == "registry.example.com:5000/a/b"


def test_unwritable_pipeline_folder_is_one_error_line_and_exit_3(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "script", **{".github": "a file where the folder would go\n"})
    result = run_init(repo)
    assert (result.code, result.err.count("\n")) == (3, 1)
    assert result.err.startswith("error: cannot write the pipeline: ")
