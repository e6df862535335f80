"""The build stage without building for real: context, errors, and the Docker path.

The Docker path runs against `tests/fakes/docker_engine.py`, a loopback
server speaking the Docker Engine API, since no engine runs here.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from tests.build.conftest import DATA_VERSION, GIT_SHA, LoggedModel
from tests.fakes.docker_engine import FakeEngine, parse_containerfile

from modelship.images import builders
from modelship.images.labels import label_instruction

pytestmark = pytest.mark.services

PASSWORD = "s3cr3t-Registry-Pa55"


def _env(model: LoggedModel, **extra: str) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": model.tracking_uri, **extra}


def _lines_before(text: str, marker: str) -> list[str]:
    return text[: text.index(marker)].splitlines()


# -- the build context ---------------------------------------------------------


def test_context_dir_writes_a_containerfile_that_installs_requirements_before_the_model(
    run_build, logged_model: LoggedModel
) -> None:
    done = run_build(
        [
            "--model-uri",
            logged_model.registered_uri,
            "--image",
            "ghcr.io/acme/churn",
            "--tags",
            "1.2.0",
            "--context-dir",
            "image-context",
        ],
        _env(logged_model),
    )
    assert done.code == 0, done.stderr
    context = done.workspace / "image-context"
    text = (context / "Containerfile").read_text()
    # Dependencies are a layer of their own, before the model is copied.
    pip_at = text.index("RUN pip install --no-cache-dir -r /opt/modelship/requirements/")
    assert text.index("COPY requirements/") < pip_at < text.index("COPY model/ /opt/ml/model/")
    assert "\nUSER 10001:10001\n" in text
    assert "HEALTHCHECK" in text
    assert "/ping" in text
    assert "mlflow models serve --model-uri /opt/ml/model --env-manager local" in text
    # The model's pinned requirements are the ones MLflow recorded.
    recorded = (context / "model" / "requirements.txt").read_text()
    assert (context / "requirements" / "requirements.txt").read_text() == recorded
    assert "scikit-learn==" in recorded
    assert (context / "model" / "MLmodel").is_file()

    labels = parse_containerfile(text)["labels"]
    assert labels["io.modelship.run-id"] == logged_model.run_id
    assert labels["io.modelship.model-name"] == logged_model.name
    assert labels["io.modelship.model-version"] == logged_model.version
    assert labels["io.modelship.data-version"] == DATA_VERSION
    assert labels["org.opencontainers.image.revision"] == GIT_SHA
    assert labels["org.opencontainers.image.title"] == logged_model.name
    assert labels["org.opencontainers.image.created"].endswith("Z")
    # Labels come last, so that a new `created` does not invalidate cached layers.
    assert text.rstrip().splitlines()[-1].strip().startswith('"')
    assert text.index("LABEL ") > text.index("CMD [")

    outputs = done.outputs
    assert outputs["image"] == "ghcr.io/acme/churn:1.2.0"
    assert json.loads(outputs["tags"]) == ["ghcr.io/acme/churn:1.2.0"]
    assert outputs["digest"] == ""
    assert "not building" in done.stderr


def test_default_tags_are_the_version_the_short_sha_and_the_model_version(
    run_build, logged_model: LoggedModel
) -> None:
    env = _env(
        logged_model,
        MODELSHIP_CONTEXT_IMAGE_TAG="1.4.1-dev.3-gabc1234",
        MODELSHIP_CONTEXT_SHORT_SHA="abc1234",
        MODELSHIP_CONTEXT_VERSION="1.4.1-dev.3+gabc1234",
    )
    done = run_build(
        [
            "--model-uri",
            logged_model.registered_uri,
            "--image",
            "registry.example.com/t/churn",
            "--context-dir",
            "ctx",
        ],
        env,
    )
    assert done.code == 0, done.stderr
    assert json.loads(done.outputs["tags"]) == [
        "registry.example.com/t/churn:1.4.1-dev.3-gabc1234",
        "registry.example.com/t/churn:abc1234",
        f"registry.example.com/t/churn:model-{logged_model.version}",
    ]
    labels = parse_containerfile((done.workspace / "ctx" / "Containerfile").read_text())["labels"]
    assert labels["org.opencontainers.image.version"] == "1.4.1-dev.3+gabc1234"


def test_label_values_with_quotes_dollars_and_backslashes_survive_the_containerfile() -> None:
    tricky = {"a.b": 'say "hi" $HOME \\n ${X}', "c": "plain", "d": "trailing\\"}
    text = "FROM scratch\n" + label_instruction(tricky)
    assert parse_containerfile(text)["labels"] == tricky


# -- bad input -----------------------------------------------------------------


def test_a_model_uri_that_does_not_resolve_exits_2(run_build, logged_model: LoggedModel) -> None:
    done = run_build(
        [
            "--model-uri",
            "runs:/0123456789abcdef0123456789abcdef/model",
            "--image",
            "acme/churn",
            "--context-dir",
            "ctx",
        ],
        _env(logged_model),
    )
    assert done.code == 2
    assert "does not resolve" in done.stderr


def test_a_registered_model_that_does_not_exist_exits_2(
    run_build, logged_model: LoggedModel
) -> None:
    done = run_build(
        ["--model-uri", "models:/no-such-model/7", "--image", "acme/churn", "--context-dir", "c"],
        _env(logged_model),
    )
    assert done.code == 2
    assert "models:/no-such-model/7" in done.stderr


def test_no_builder_exits_3_listing_what_was_looked_for(
    run_build, logged_model: LoggedModel, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = _env(logged_model, PATH=str(empty), DOCKER_HOST="unix:///nonexistent/docker.sock")
    done = run_build(
        ["--model-uri", logged_model.run_uri, "--image", "acme/churn", "--tags", "t1"], env
    )
    assert done.code == 3
    message = done.stderr
    for looked in ("docker:", "unix:///nonexistent/docker.sock", "buildah:", "podman:"):
        assert looked in message
    assert "apt-get install buildah" in message


def test_a_password_in_a_label_is_refused(run_build, logged_model: LoggedModel) -> None:
    done = run_build(
        [
            "--model-uri",
            logged_model.run_uri,
            "--image",
            "acme/churn",
            "--labels",
            f"com.example.note=token {PASSWORD}",
            "--registry-username",
            "ci",
            "--registry-password",
            PASSWORD,
            "--context-dir",
            "ctx",
        ],
        _env(logged_model),
    )
    assert done.code == 2
    assert "secret" in done.stderr
    assert PASSWORD not in done.everything()
    # The refused context is gone: no Containerfile carrying the label stays on disk.
    assert not [p for p in (done.workspace / "ctx").rglob("*") if p.is_file()]


def test_auto_takes_a_reachable_docker_engine_then_buildah(
    fake_engine: FakeEngine, tmp_path: Path
) -> None:
    chosen = builders.choose("auto", {**fake_engine.env, "PATH": os.environ["PATH"]})
    assert chosen.name == "docker"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for tool in ("buildah", "podman"):
        (fake_bin / tool).write_text("#!/bin/sh\nexit 0\n")
        (fake_bin / tool).chmod(0o755)
    unreachable = {"DOCKER_HOST": "tcp://127.0.0.1:9", "PATH": str(fake_bin)}
    assert builders.choose("auto", unreachable).name == "buildah"
    (fake_bin / "buildah").unlink()
    assert builders.choose("auto", unreachable).name == "podman"


# -- the Docker path, against the fake engine ----------------------------------


def test_docker_builds_tags_and_reports_labels(
    run_build, logged_model: LoggedModel, fake_engine: FakeEngine
) -> None:
    done = run_build(
        [
            "--model-uri",
            logged_model.registered_uri,
            "--image",
            "registry.example.com/acme/churn",
            "--tags",
            "1.0.0\nstable",
            "--builder",
            "docker",
            "--base-image",
            "python:3.11-slim",
            "--platform",
            "linux/amd64",
        ],
        _env(logged_model, **fake_engine.env),
    )
    assert done.code == 0, done.stderr
    (build,) = fake_engine.requests_to("/build")
    assert build.query["t"] == ["registry.example.com/acme/churn:1.0.0"]
    assert build.query["dockerfile"] == ["Containerfile"]
    assert build.query["platform"] == ["linux/amd64"]
    with tarfile.open(fileobj=io.BytesIO(build.body)) as tar:
        names = set(tar.getnames())
    assert {"Containerfile", "requirements/requirements.txt", "model/MLmodel"} <= names
    (tag,) = fake_engine.requests_to(r"/images/.+/tag")
    assert tag.query["repo"] == ["registry.example.com/acme/churn"]
    assert tag.query["tag"] == ["stable"]

    (image,) = fake_engine.state.images.values()
    assert sorted(image.tags) == [
        "registry.example.com/acme/churn:1.0.0",
        "registry.example.com/acme/churn:stable",
    ]
    assert image.user == "10001:10001"
    assert image.healthcheck[0] == "CMD"
    outputs = done.outputs
    assert outputs["digest"] == image.id
    assert outputs["image-ref"] == f"registry.example.com/acme/churn@{image.id}"
    assert image.labels["io.modelship.model-version"] == logged_model.version
    summary = (done.workspace / "modelship-reports" / "build.md").read_text()
    assert image.id in summary
    assert "io.modelship.run-id" in summary
    assert "not pushed" not in summary


def test_docker_push_sends_credentials_only_in_the_auth_header(
    run_build, logged_model: LoggedModel, fake_engine: FakeEngine
) -> None:
    fake_engine.state.registry_users["registry.example.com"] = ("ci-bot", PASSWORD)
    done = run_build(
        [
            "--model-uri",
            logged_model.run_uri,
            "--image",
            "registry.example.com/acme/churn",
            "--tags",
            "1.0.0,latest",
            "--builder",
            "docker",
            "--base-image",
            "python:3.11-slim",
            "--push",
            "true",
            "--registry-username",
            "ci-bot",
        ],
        _env(logged_model, **fake_engine.env, INPUT_REGISTRY_PASSWORD=PASSWORD),
    )
    assert done.code == 0, done.stderr
    pushes = fake_engine.requests_to(r"/images/.+/push")
    assert [p.query["tag"] for p in pushes] == [["1.0.0"], ["latest"]]
    header = pushes[0].headers["X-Registry-Auth"]
    auth = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    assert auth["username"] == "ci-bot"
    assert auth["password"] == PASSWORD
    assert auth["serveraddress"] == "registry.example.com"
    # Nowhere else: not in the build context, its parameters, or any other request.
    for request in fake_engine.state.requests:
        assert PASSWORD.encode() not in request.body
        assert PASSWORD not in json.dumps(request.query)
    outputs = done.outputs
    pushed_digest = fake_engine.state.pushed["registry.example.com/acme/churn:latest"]
    assert outputs["digest"] == pushed_digest
    assert outputs["image-ref"] == f"registry.example.com/acme/churn@{pushed_digest}"
    assert PASSWORD not in done.everything()


def test_a_refused_push_exits_3_and_never_shows_the_password(
    run_build, logged_model: LoggedModel, fake_engine: FakeEngine
) -> None:
    fake_engine.state.registry_users["registry.example.com"] = ("ci-bot", "the-right-one")
    done = run_build(
        [
            "--model-uri",
            logged_model.run_uri,
            "--image",
            "registry.example.com/acme/churn",
            "--tags",
            "1.0.0",
            "--builder",
            "docker",
            "--base-image",
            "python:3.11-slim",
            "--push",
            "true",
            "--registry-username",
            "ci-bot",
            "--registry-password",
            PASSWORD,
        ],
        _env(logged_model, **fake_engine.env),
    )
    assert done.code == 3
    assert "refused" in done.stderr
    assert "unauthorized" in done.stderr
    assert PASSWORD not in done.everything()
    assert fake_engine.state.pushed == {}


def test_docker_base_image_without_python_is_a_clear_usage_error(
    run_build, logged_model: LoggedModel, fake_engine: FakeEngine
) -> None:
    fake_engine.state.images_without_python.add("gcr.io/distroless/static")
    done = run_build(
        [
            "--model-uri",
            logged_model.run_uri,
            "--image",
            "acme/churn",
            "--tags",
            "x",
            "--builder",
            "docker",
            "--base-image",
            "gcr.io/distroless/static",
        ],
        _env(logged_model, **fake_engine.env),
    )
    assert done.code == 2
    assert "base image gcr.io/distroless/static has no Python 3" in done.stderr


def test_docker_builder_asked_for_but_absent_exits_3(run_build, logged_model: LoggedModel) -> None:
    done = run_build(
        ["--model-uri", logged_model.run_uri, "--image", "acme/churn", "--builder", "docker"],
        _env(logged_model, DOCKER_HOST="tcp://127.0.0.1:9"),
    )
    assert done.code == 3
    assert "builder docker is not available" in done.stderr
    assert "did not answer" in done.stderr
