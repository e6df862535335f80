"""`modelship lineage`: the same record from a model version, a run, an image and a deployment."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from modelship.cli import main as cli
from modelship.lineage_cli import main as lineage_main
from modelship.tracking import lineage

SHA = "4f2b0c9d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
DIGEST = "sha256:" + "ab" * 32


def run(argv: list[str], env: Mapping[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = lineage_main(argv, dict(env or {}), Path.cwd(), out)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A SQLite MLflow store with a tagged run and version 1 of `churn` (alias champion)."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("lineage-store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri, registry_uri=uri)
    experiment = client.create_experiment("churn", artifact_location=(folder / "a").as_uri())
    tags = {
        lineage.GIT_SHA: SHA,
        lineage.BRANCH: "main",
        lineage.DATA_VERSION: "3f9a0c1d2b4e5f60",
        lineage.CI_RUN_URL: "https://github.com/acme/churn/actions/runs/42",
    }
    run_id = client.create_run(experiment, tags=tags).info.run_id
    client.create_registered_model("churn")
    version = client.create_model_version(
        "churn",
        source=(folder / "a" / "model").as_uri(),
        run_id=run_id,
        tags={
            **{k: v for k, v in tags.items() if k != lineage.DATA_VERSION},
            "modelship.run_id": run_id,
        },
    )
    client.set_registered_model_alias("churn", "champion", version.version)
    return {"uri": uri, "run_id": run_id}


def test_model_version_by_alias_and_by_number(store: dict[str, str]) -> None:
    for reference in ("models:/churn@champion", "models:/churn/1"):
        code, out = run([reference, "--json", "--tracking-uri", store["uri"]])
        assert code == 0
        record = json.loads(out)
        assert record["model-version"] == "1"
        assert record["git-sha"] == SHA
        assert record["run-id"] == store["run_id"]
        # Not copied onto the version: read from its run.
        assert record["data-version"] == "3f9a0c1d2b4e5f60"
        assert record["ci-run-url"].endswith("/runs/42")


def test_run_reference_and_bare_run_id(store: dict[str, str]) -> None:
    env = {"MLFLOW_TRACKING_URI": store["uri"]}
    for reference in (f"runs:/{store['run_id']}/model", store["run_id"]):
        code, out = run([reference], env)
        assert code == 0
        assert f"git SHA              {SHA}" in out
        assert "model version        -" in out


def test_unknown_version_is_a_usage_error(store: dict[str, str]) -> None:
    code, _ = run(["models:/churn/9", "--tracking-uri", store["uri"]])
    assert code == 2


def test_model_reference_without_tracking_uri_says_so() -> None:
    code, _ = run(["models:/churn/1"])
    assert code == 2


def test_image_labels_then_mlflow(store: dict[str, str], tmp_path: Path) -> None:
    """An image names its run and version in labels; MLflow fills in the rest."""
    inspect = {
        "FromImageDigest": DIGEST,
        "OCIv1": {
            "config": {
                "Labels": {
                    "io.modelship.model-name": "churn",
                    "io.modelship.model-version": "1",
                    "io.modelship.git-sha": SHA,
                    "io.modelship.run-id": store["run_id"],
                }
            }
        },
    }
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "buildah"
    fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(inspect)}\nEOF\n")
    fake.chmod(0o755)
    code, out = run(
        [
            "registry.local/churn:1.0.0",
            "--json",
            "--tool",
            "buildah",
            "--tracking-uri",
            store["uri"],
        ],
        {"PATH": str(bin_dir)},
    )
    assert code == 0
    record = json.loads(out)
    assert record["image-digest"] == DIGEST
    assert record["git-sha"] == SHA
    assert record["data-version"] == "3f9a0c1d2b4e5f60"
    assert "image labels (buildah)" in record["sources"]
    assert "MLflow model registry" in record["sources"]


def _fake_docker(bin_dir: Path, store: Mapping[str, str]) -> Path:
    """A `docker` that knows one container of the docker target and its image,
    and writes down the engine each call was sent to."""
    container = {
        "Name": "/churn-production",
        "Image": "sha256:" + "cd" * 32,
        "Config": {
            "Image": "sha256:" + "cd" * 32,
            "Labels": {
                "io.modelship.model-name": "churn",
                "io.modelship.model-version": "1",
                "io.modelship.git-sha": SHA,
                "io.modelship.run-id": store["run_id"],
                "io.modelship.deploy": "churn-production",
                "io.modelship.environment": "production",
                "io.modelship.revision": DIGEST,
            },
        },
    }
    image = {"Id": "sha256:" + "cd" * 32, "RepoDigests": [f"registry.local/churn@{DIGEST}"]}
    calls = bin_dir / "calls"
    script = f"""#!/bin/sh
echo "$@" >> {calls}
case "$*" in
  *"container inspect churn-production") cat <<'JSON'
{json.dumps([container])}
JSON
  ;;
  *"image inspect sha256:"*) cat <<'JSON'
{json.dumps([image])}
JSON
  ;;
  *"container inspect "*) echo "Error: No such container: ${{@##* }}" >&2; exit 1 ;;
  *) echo "Error: No such image" >&2; exit 1 ;;
esac
"""
    fake = bin_dir / "docker"
    fake.write_text(script)
    fake.chmod(0o755)
    return calls


def test_container_of_the_docker_target_gives_the_model_versions_record(
    store: dict[str, str], tmp_path: Path
) -> None:
    calls = _fake_docker(tmp_path, store)
    env = {"PATH": str(tmp_path), "DOCKER_HOST": "tcp://engine.example:2376"}
    _, version = run(["models:/churn/1", "--json", "--tracking-uri", store["uri"]])
    expected = json.loads(version)
    for reference in ("container/churn-production", "churn-production"):
        code, out = run([reference, "--json", "--tracking-uri", store["uri"]], env)
        assert code == 0, out
        record = json.loads(out)
        assert record["kind"] == "container"
        for key in ("git-sha", "branch", "data-version", "run-id", "model-version", "ci-run-url"):
            assert record[key] == expected[key], key
        assert record["image"] == f"registry.local/churn@{DIGEST}"
        assert record["image-digest"] == DIGEST
        assert record["deployment-revision"] == DIGEST
        assert record["deployment"] == "churn-production"
        assert record["environment"] == "production"
    # Every call went to the engine the environment names, not the process's own.
    lines = calls.read_text().splitlines()
    assert lines
    assert all(line.startswith("--host tcp://engine.example:2376 ") for line in lines)


def test_a_container_the_engine_does_not_have_is_a_usage_error(
    store: dict[str, str], tmp_path: Path
) -> None:
    _fake_docker(tmp_path, store)
    code, _ = run(["container/churn-staging"], {"PATH": str(tmp_path)})
    assert code == 2


def test_image_that_no_tool_knows_is_an_external_error(tmp_path: Path) -> None:
    code, _ = run(["registry.local/missing:1"], {"PATH": str(tmp_path)})
    assert code == 3


def _deployment(store: Mapping[str, str]) -> dict[str, Any]:
    labels = {"app": "churn-production"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "churn-production",
            "namespace": "default",
            "annotations": {
                "modelship.io/git-sha": SHA,
                "modelship.io/run-id": store["run_id"],
                "modelship.io/model-uri": "models:/churn/1",
                "modelship.io/model-version": "1",
                "modelship.io/image-digest": DIGEST,
                "modelship.io/environment": "production",
            },
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "model", "image": f"registry.local/churn@{DIGEST}"}]
                },
            },
        },
    }


def test_deployment_through_the_kubernetes_api(store: dict[str, str], tmp_path: Path) -> None:
    from tests.fixtures.kube import kube_server

    with kube_server(tmp_path) as kube:
        kube.create(_deployment(store))
        code, out = run(
            [
                "deployment/default/churn-production",
                "--json",
                "--kubeconfig",
                str(tmp_path / "kubeconfig"),
                "--tracking-uri",
                store["uri"],
            ]
        )
    assert code == 0, out
    record = json.loads(out)
    assert record["deployment"] == "default/churn-production"
    assert record["deployment-revision"] == "1"
    assert record["image-digest"] == DIGEST
    assert record["environment"] == "production"
    assert record["data-version"] == "3f9a0c1d2b4e5f60"
    assert record["branch"] == "main"


def test_missing_deployment_is_a_usage_error(tmp_path: Path) -> None:
    from tests.fixtures.kube import kube_server

    with kube_server(tmp_path) as _kube:
        code, _ = run(["deployment/default/nothing", "--kubeconfig", str(tmp_path / "kubeconfig")])
    assert code == 2


def test_the_cli_dispatches_lineage() -> None:
    out = io.StringIO()
    assert cli(["lineage", "--help"], {}, Path.cwd(), out) == 0
