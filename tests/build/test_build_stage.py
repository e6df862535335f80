"""The build stage without building: the build context, bad input, no builder.

Real builds are in test_docker_real.py (Docker Engine) and
test_buildah_real.py (Buildah and Podman).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.build.conftest import DATA_VERSION, GIT_SHA, LoggedModel
from tests.build.containerfile import parse_containerfile

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


def test_docker_builder_asked_for_but_absent_exits_3(run_build, logged_model: LoggedModel) -> None:
    done = run_build(
        ["--model-uri", logged_model.run_uri, "--image", "acme/churn", "--builder", "docker"],
        _env(logged_model, DOCKER_HOST="tcp://127.0.0.1:9"),
    )
    assert done.code == 3
    assert "builder docker is not available" in done.stderr
    assert "did not answer" in done.stderr


# -- build arguments and secrets -------------------------------------------------


def test_secrets_are_mounted_for_the_pip_step_only_and_build_args_declared_before_it(
    run_build, logged_model: LoggedModel
) -> None:
    done = run_build(
        [
            "--model-uri",
            logged_model.run_uri,
            "--image",
            "ghcr.io/acme/churn",
            "--tags",
            "t",
            "--secrets",
            "id=pipconf,env=PIP_CONF\nid=cacert,env=COMPANY_CA",
            "--build-args",
            "PIP_INDEX_URL=https://pypi.example.com/simple,with-a-comma",
            "--context-dir",
            "ctx",
        ],
        _env(logged_model, PIP_CONF="[global]\nindex-url = x", COMPANY_CA="pem"),
    )
    assert done.code == 0, done.stderr
    text = (done.workspace / "ctx" / "Containerfile").read_text()
    pip_at = text.index("pip install --no-cache-dir -r /opt/modelship/requirements/")
    step = text[text.rindex("\nRUN ", 0, pip_at) : pip_at]
    assert "--mount=type=secret,id=pipconf --mount=type=secret,id=cacert" in step
    assert "export PIP_CONFIG_FILE=/run/secrets/pipconf" in step
    assert "export PIP_CERT=/run/secrets/cacert" in step
    assert "\nARG PIP_INDEX_URL\n" in text[:pip_at]
    # Only that step sees them: no other instruction mounts or copies a secret.
    assert text.count("--mount=type=secret") == 2
    assert "index-url = x" not in text


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ("id=pipconf", "is not id=NAME,src=FILE or id=NAME,env=VARIABLE"),
        ("id=pipconf,src=a,env=B", "is not id=NAME,src=FILE or id=NAME,env=VARIABLE"),
        ("id=x,env=A\nid=x,env=B", "id 'x' is given twice"),
        ("id=pipconf,src=../../etc/passwd", "outside"),
    ],
)
def test_a_malformed_or_escaping_secret_is_a_usage_error(
    run_build, logged_model: LoggedModel, secrets: str, message: str
) -> None:
    done = run_build(
        [
            "--model-uri",
            logged_model.run_uri,
            "--image",
            "acme/churn",
            "--secrets",
            secrets,
            "--context-dir",
            "ctx",
        ],
        _env(logged_model),
    )
    assert done.code == 2
    assert message in done.stderr
