"""The `data` stage against real DVC and a local-directory remote."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.data_train.conftest import Project, dvc, run_cli
from tests.harness.cli import host_env


def test_pull_restores_verifies_and_fingerprints_the_data(project: Project) -> None:
    project.drop_local_data()
    done = run_cli(["data"], project.root)
    assert done.code == 0, done.stderr
    assert (project.root / "data" / "train.csv").stat().st_size > 10_000
    datasets = json.loads(done.outputs["datasets"])
    assert [d["path"] for d in datasets] == ["data/train.csv", "data/validation.csv"]
    for entry in datasets:
        assert entry["md5"] == project.lock_md5(entry["path"])
        assert entry["size"] == (project.root / entry["path"]).stat().st_size
        assert entry["nfiles"] == 1
    version = done.outputs["data-version"]
    assert len(version) == 16
    assert int(version, 16) >= 0
    # The report shows the datasets in a table; the local outputs file has the same values.
    report = (project.root / "modelship-reports" / "data.md").read_text()
    assert "| data/train.csv |" in report
    assert version in report
    saved = json.loads((project.root / ".modelship" / "outputs" / "data.json").read_text())
    assert saved["data-version"] == version


def test_same_data_same_version_elsewhere_and_one_byte_changes_it(
    project: Project, prepared_project: Project
) -> None:
    first = run_cli(["data", "--pull", "false"], project.root)
    elsewhere = run_cli(["data", "--pull", "false"], prepared_project.root)
    assert first.code == elsewhere.code == 0
    assert first.outputs["data-version"] == elsewhere.outputs["data-version"]

    data = project.root / "data" / "validation.csv"
    original = data.read_bytes()
    data.write_bytes(original[:-2] + (b"9" if original[-2:-1] != b"9" else b"8") + original[-1:])
    dvc(project.root, "commit", "-f", "prepare")
    changed = run_cli(["data", "--pull", "false"], project.root)
    assert changed.code == 0, changed.stderr
    assert changed.outputs["data-version"] != first.outputs["data-version"]

    data.write_bytes(original)
    dvc(project.root, "commit", "-f", "prepare")
    back = run_cli(["data", "--pull", "false"], project.root)
    assert back.outputs["data-version"] == first.outputs["data-version"]


def test_verify_names_each_file_that_differs_from_the_lock(project: Project) -> None:
    with (project.root / "data" / "train.csv").open("a") as handle:
        handle.write("1,2,3\n")
    (project.root / "data" / "validation.csv").unlink()
    done = run_cli(["data", "--pull", "false"], project.root)
    assert done.code == 1
    assert "data/train.csv (content differs)" in done.stderr
    assert "data/validation.csv (missing)" in done.stderr
    # The outputs are still published, for people to see what was expected.
    assert done.outputs["data-version"]


def test_verify_false_only_warns(project: Project) -> None:
    with (project.root / "data" / "train.csv").open("a") as handle:
        handle.write("1,2,3\n")
    done = run_cli(["data", "--pull", "false", "--verify", "false"], project.root)
    assert done.code == 0
    assert "data/train.csv (content differs)" in done.stderr


def test_local_edits_block_the_pull_with_the_file_named(project: Project) -> None:
    with (project.root / "data" / "train.csv").open("a") as handle:
        handle.write("1,2,3\n")
    done = run_cli(["data"], project.root)
    assert done.code == 1
    assert "data/train.csv (content differs)" in done.stderr


def test_corrupted_object_on_the_remote_is_named(project: Project) -> None:
    project.drop_local_data()
    with project.object("data/train.csv").open("ab") as handle:
        handle.write(b"garbage")
    done = run_cli(["data"], project.root)
    assert done.code == 3
    assert "data/train.csv" in done.stderr
    assert "corrupted on the remote" in done.stderr
    assert "data/validation.csv" not in done.stderr.split("error:")[-1]


def test_missing_object_on_the_remote_is_named(project: Project) -> None:
    project.drop_local_data()
    project.object("data/validation.csv").unlink()
    done = run_cli(["data"], project.root)
    assert done.code == 3
    assert "data/validation.csv" in done.stderr
    assert "missing on the remote" in done.stderr


def test_verify_checksums_still_restores_good_data(project: Project) -> None:
    project.drop_local_data()
    done = run_cli(["data", "--verify-checksums", "true"], project.root)
    assert done.code == 0, done.stderr
    assert "re-hashed" in done.stderr


def test_unknown_remote_is_a_usage_error_listing_the_configured_ones(project: Project) -> None:
    done = run_cli(["data", "--remote", "backup"], project.root)
    assert done.code == 2
    assert "DVC remote 'backup' is not configured; configured: storage" in done.stderr


def test_no_remote_at_all(project: Project) -> None:
    dvc(project.root, "remote", "remove", "storage")
    project.drop_local_data()
    done = run_cli(["data"], project.root)
    assert done.code == 2
    assert "no DVC remote is configured" in done.stderr


def test_not_a_dvc_repository(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    done = run_cli(["data"], tmp_path)
    assert done.code == 2
    assert "is not in a DVC repository" in done.stderr


def test_targets_limit_pull_and_fingerprint(project: Project) -> None:
    project.drop_local_data()
    done = run_cli(["data", "--targets", "data/train.csv"], project.root)
    assert done.code == 0, done.stderr
    assert [d["path"] for d in json.loads(done.outputs["datasets"])] == ["data/train.csv"]
    assert (project.root / "data" / "train.csv").exists()
    assert not (project.root / "data" / "validation.csv").exists()

    unknown = run_cli(["data", "--targets", "data/nothing.csv"], project.root)
    assert unknown.code == 2
    assert "data/nothing.csv" in unknown.stderr


def test_push_uploads_what_the_remote_lacks(project: Project, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh-remote"
    dvc(project.root, "remote", "add", "fresh", str(fresh))
    done = run_cli(["data", "--remote", "fresh", "--pull", "false", "--push", "true"], project.root)
    assert done.code == 0, done.stderr
    assert (fresh / "files" / "md5").is_dir()
    pushed = sorted(p.name for p in (fresh / "files" / "md5").rglob("*") if p.is_file())
    expected = sorted(project.lock_md5(p)[2:] for p in ("data/train.csv", "data/validation.csv"))
    assert pushed == expected


def test_working_directory_inside_the_workspace(project: Project) -> None:
    workspace = project.root.parent
    done = run_cli(
        ["data", "--pull", "false", "--working-directory", "project"],
        workspace,
        host_env(),
    )
    assert done.code == 0, done.stderr
    shutil.rmtree(workspace / "modelship-reports", ignore_errors=True)


def test_tracked_folder_counts_files_and_names_the_changed_one(project: Project) -> None:
    folder = project.root / "data" / "images"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text(f"pixels of {name}\n")
    dvc(project.root, "add", "data/images")
    dvc(project.root, "push")
    done = run_cli(["data", "--pull", "false"], project.root)
    assert done.code == 0, done.stderr
    entry = next(d for d in json.loads(done.outputs["datasets"]) if d["path"] == "data/images")
    assert entry["nfiles"] == 3
    assert entry["md5"].endswith(".dir")

    (folder / "b.txt").write_text("other pixels\n")
    changed = run_cli(["data", "--pull", "false"], project.root)
    assert changed.code == 1
    assert "data/images/b.txt (content differs)" in changed.stderr
    assert "a.txt" not in changed.stderr
