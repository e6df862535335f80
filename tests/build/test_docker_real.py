"""Real builds with the Docker Engine, from the locally made Debian base image.

The image is built by `modelship build` through the engine's API, run with
`docker run` from the reference the stage published, and pushed to Debian's
`docker-registry` on loopback. The first build of a session on a fresh engine
installs MLflow and the model's requirements from PyPI (minutes); later builds
reuse the engine's layer cache.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from tests.build.conftest import DATA_VERSION, GIT_SHA, LoggedModel, StageRun
from tests.build.private_index import MARKER, MODULE, PACKAGE, private_index
from tests.build.registry import Registry, registry
from tests.build.registry import available as registry_available
from tests.fixtures.docker_engine import DockerEngine
from tests.fixtures.net import free_port, wait_http
from tests.harness.cli import run_cli
from tests.harness.mlflow_fluent import fluent_mlflow

from modelship.images import builders

pytestmark = [pytest.mark.services, pytest.mark.timeout(1800)]

IMAGE = "localhost/modelship-test/churn-docker"
PASSWORD = "D0cker-registry-s3cret"


def _env(model: LoggedModel, engine: DockerEngine) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": model.tracking_uri, **engine.env}


@pytest.fixture(scope="module")
def run_build(tmp_path_factory: pytest.TempPathFactory):

    def run(args: list[str], env: dict[str, str]) -> StageRun:
        workspace = tmp_path_factory.mktemp("ws")
        full_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **env}
        done = run_cli(["build", *args], workspace, full_env, json_outputs=True)
        return StageRun(done.code, done.stdout, done.stderr, workspace)

    return run


@pytest.fixture(scope="module")
def built(
    run_build, logged_model: LoggedModel, real_docker: DockerEngine, docker_base_image: str
) -> StageRun:
    """The image, built once for the module by the docker builder, not pushed."""
    started = time.monotonic()
    done: StageRun = run_build(
        [
            "--model-uri",
            logged_model.registered_uri,
            "--image",
            IMAGE,
            "--tags",
            "e2e\nstable",
            "--builder",
            "docker",
            "--base-image",
            docker_base_image,
        ],
        _env(logged_model, real_docker),
    )
    assert done.code == 0, done.stderr[-4000:]
    print(f"\nfirst docker build in this session: {time.monotonic() - started:.1f}s")
    return done


def test_docker_image_carries_oci_and_lineage_labels_a_non_root_user_and_a_healthcheck(
    built: StageRun, real_docker: DockerEngine, logged_model: LoggedModel
) -> None:
    outputs = built.outputs
    assert outputs["image"] == f"{IMAGE}:e2e"
    assert json.loads(outputs["tags"]) == [f"{IMAGE}:e2e", f"{IMAGE}:stable"]
    image = real_docker.client.images.get(outputs["image"])
    assert sorted(image.tags) == [f"{IMAGE}:e2e", f"{IMAGE}:stable"]
    config = image.attrs["Config"]
    labels = config["Labels"]
    assert labels["io.modelship.run-id"] == logged_model.run_id
    assert labels["io.modelship.model-name"] == logged_model.name
    assert labels["io.modelship.model-version"] == logged_model.version
    assert labels["io.modelship.data-version"] == DATA_VERSION
    assert labels["org.opencontainers.image.revision"] == GIT_SHA
    assert labels["org.opencontainers.image.title"] == logged_model.name
    assert labels["org.opencontainers.image.created"].endswith("Z")
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert "/ping" in " ".join(config["Healthcheck"]["Test"])
    # Unpushed, the digest is the local image's and the reference is the local tag.
    assert outputs["digest"] == image.id
    assert outputs["image-ref"] == f"{IMAGE}:e2e"
    summary = (built.workspace / "modelship-reports" / "build.md").read_text()
    assert image.id in summary


@pytest.fixture(scope="module")
def served(built: StageRun, real_docker: DockerEngine) -> Iterator[tuple[str, Any]]:
    """`docker run` of the published `image-ref`, on a free loopback port."""
    port = free_port()
    container = real_docker.client.containers.run(
        built.outputs["image-ref"],
        detach=True,
        ports={"8080/tcp": ("127.0.0.1", port)},
        labels={"io.modelship.test": "build"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{url}/ping", timeout=180)
        except TimeoutError:
            container.reload()
            raise AssertionError(container.logs(tail=50).decode(errors="replace")) from None
        yield url, container
    finally:
        container.remove(force=True)


def test_the_unpushed_image_ref_runs_and_answers_ping_and_invocations_as_a_non_root_user(
    served: tuple[str, Any], logged_model: LoggedModel
) -> None:
    import mlflow.pyfunc
    import pandas as pd

    url, container = served
    with urllib.request.urlopen(f"{url}/ping", timeout=10) as response:
        assert response.status == 200
    rows = [[1.5, 9.0], [45.0, 0.0], [3.0, 7.0]]
    payload = {"dataframe_split": {"columns": ["tenure", "calls"], "data": rows}}
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    with fluent_mlflow(logged_model.tracking_uri):
        model = mlflow.pyfunc.load_model(logged_model.registered_uri)
    reference = model.predict(pd.DataFrame(rows, columns=["tenure", "calls"]))
    assert body == {"predictions": [int(value) for value in reference]}
    top = container.top(ps_args="-o pid,uid,args")
    uid_column = top["Titles"].index("UID")
    assert top["Processes"]
    assert {row[uid_column] for row in top["Processes"]} == {"10001"}


def test_the_engine_reports_the_container_healthy(served: tuple[str, Any]) -> None:
    _, container = served
    # Probes run every 30 s; a server slow to start may have been marked
    # unhealthy before it answered, and the next passing probe clears that.
    deadline = time.monotonic() + 150
    status = ""
    while time.monotonic() < deadline:
        container.reload()
        status = container.attrs["State"].get("Health", {}).get("Status", "")
        if status == "healthy":
            break
        time.sleep(2)
    assert status == "healthy", container.attrs["State"].get("Health")


def test_auto_takes_the_reachable_docker_engine(real_docker: DockerEngine) -> None:
    chosen = builders.choose("auto", {**real_docker.env, "PATH": os.environ["PATH"]})
    assert chosen.name == "docker"


def test_a_base_image_without_python_is_a_clear_usage_error(
    run_build, logged_model: LoggedModel, real_docker: DockerEngine, docker_base_image: str
) -> None:
    from tests.build.baseimage import ensure_docker_image_without_python

    without = ensure_docker_image_without_python(real_docker.client, docker_base_image)
    done = run_build(
        [
            "--model-uri",
            logged_model.run_uri,
            "--image",
            IMAGE,
            "--tags",
            "no-python",
            "--builder",
            "docker",
            "--base-image",
            without,
        ],
        _env(logged_model, real_docker),
    )
    assert done.code == 2, done.stderr[-2000:]
    assert f"the base image {without} has no Python 3" in done.stderr


# -- pushing to a real registry on loopback ------------------------------------


@pytest.fixture(scope="module")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if not registry_available():
        pytest.skip(
            "needs docker-registry and htpasswd (apt-get install docker-registry apache2-utils)"
        )
    with registry(tmp_path_factory.mktemp("registry"), "ci-bot", PASSWORD) as running:
        yield running


def _push_args(image: str, base: str, model: LoggedModel) -> list[str]:
    return [
        "--model-uri",
        model.registered_uri,
        "--image",
        image,
        "--tags",
        "1.0.0,latest",
        "--builder",
        "docker",
        "--base-image",
        base,
        "--push",
        "true",
        "--registry-username",
        "ci-bot",
    ]


def _manifest_digest(registry_: Registry, repository: str, tag: str) -> str:
    token = base64.b64encode(f"ci-bot:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        f"http://{registry_.host}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={
            "Authorization": f"Basic {token}",
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, "
            "application/vnd.oci.image.manifest.v1+json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.headers["Docker-Content-Digest"])


def test_push_publishes_the_registry_manifest_digest_and_never_shows_the_password(
    built: StageRun,
    run_build,
    real_docker: DockerEngine,
    docker_base_image: str,
    logged_model: LoggedModel,
    local_registry: Registry,
) -> None:
    image = f"{local_registry.host}/acme/churn"
    env = {**_env(logged_model, real_docker), "INPUT_REGISTRY_PASSWORD": PASSWORD}
    done = run_build(_push_args(image, docker_base_image, logged_model), env)
    assert done.code == 0, done.stderr[-3000:]
    digest = done.outputs["digest"]
    assert digest == _manifest_digest(local_registry, "acme/churn", "1.0.0")
    assert digest == _manifest_digest(local_registry, "acme/churn", "latest")
    assert done.outputs["image-ref"] == f"{image}@{digest}"
    assert PASSWORD not in done.everything()
    # The engine can run what was published: the digest reference resolves.
    assert real_docker.client.images.get(done.outputs["image-ref"]).id


def test_a_refused_push_exits_3_and_never_shows_the_password(
    built: StageRun,
    run_build,
    real_docker: DockerEngine,
    docker_base_image: str,
    logged_model: LoggedModel,
    local_registry: Registry,
) -> None:
    image = f"{local_registry.host}/acme/refused"
    wrong = "not-the-Password-42"
    done = run_build(
        [*_push_args(image, docker_base_image, logged_model), "--registry-password", wrong],
        _env(logged_model, real_docker),
    )
    assert done.code == 3
    assert "refused" in done.stderr
    assert wrong not in done.everything()


# -- build secrets: a private index that needs a password ------------------------

INDEX_PASSWORD = "Pr1vate-index-s3cret-77"


def _image_bytes(image: Any) -> bytes:
    return b"".join(image.save(named=False))


def test_a_secret_pip_configuration_reaches_the_private_index_and_no_layer_or_history(
    run_build,
    real_docker: DockerEngine,
    docker_base_image: str,
    private_model: str,
    mlflow_tracking: Any,
) -> None:
    with private_index("ci-reader", INDEX_PASSWORD) as index:
        pip_conf = f"[global]\nindex-url = {index.url}\nextra-index-url = https://pypi.org/simple\n"
        done = run_build(
            [
                "--model-uri",
                private_model,
                "--image",
                IMAGE,
                "--tags",
                "secret",
                "--builder",
                "docker",
                "--base-image",
                docker_base_image,
                "--secrets",
                "id=pipconf,env=PIP_CONF_SECRET",
                "--build-args",
                # A new value each run: the pip step runs for real, not from the
                # layer cache of an earlier run (a secret is not part of its key).
                f"PIP_DEFAULT_TIMEOUT=120\nMODELSHIP_TEST_RUN={uuid.uuid4().hex}",
                "--network",
                "host",
            ],
            {
                "MLFLOW_TRACKING_URI": mlflow_tracking.uri,
                **real_docker.env,
                "PIP_CONF_SECRET": pip_conf,
            },
        )
        assert done.code == 0, done.stderr[-4000:]
        assert (f"/simple/{PACKAGE}/", True) in index.requests
    assert INDEX_PASSWORD not in done.everything()

    image = real_docker.client.images.get(f"{IMAGE}:secret")
    # The private package is in the image...
    output = real_docker.client.containers.run(
        image.id,
        ["python", "-c", f"import {MODULE}; print({MODULE}.VALUE)"],
        remove=True,
    )
    assert output.decode().strip() == MARKER
    # ...and the password that fetched it is in no layer and no history entry.
    assert INDEX_PASSWORD.encode() not in _image_bytes(image)
    history = json.dumps(image.history())
    assert INDEX_PASSWORD not in history
    assert "PIP_DEFAULT_TIMEOUT=120" in history  # build args are history, by design


# -- lineage read back from the image and from its running container -----------------

LINEAGE_KEYS = (
    "git-sha",
    "branch",
    "data-version",
    "run-id",
    "model-name",
    "model-version",
    "model-uri",
    "ci-run-url",
)


@pytest.fixture(scope="module")
def deployed(
    built: StageRun, real_docker: DockerEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The built image as a container of the `docker` deploy target, named and labelled by it."""
    from modelship.cli import main

    name = f"mstest-lineage-{uuid.uuid4().hex[:8]}"
    workspace = tmp_path_factory.mktemp("deploy")
    env = {"PATH": os.environ["PATH"], "HOME": str(workspace), **real_docker.env}
    out, err = io.StringIO(), io.StringIO()
    argv = ["deploy", "--target", "docker", "--image", built.outputs["image-ref"], "--name", name]
    argv += ["--environment", "production", "--timeout", "5m", "--json"]
    try:
        code = main(argv, env=env, cwd=workspace, stdout=out, stderr=err)
        assert code == 0, err.getvalue()[-3000:]
        yield name
    finally:
        for container in real_docker.client.containers.list(all=True, filters={"name": name}):
            container.remove(force=True)


def _lineage(reference: str, engine: DockerEngine, *args: str) -> tuple[int, dict[str, Any]]:
    from modelship.lineage_cli import main as lineage

    out, err = io.StringIO(), io.StringIO()
    env = {"PATH": os.environ["PATH"], **engine.env}
    code = lineage([reference, "--json", *args], env, None, out, err)
    return code, (json.loads(out.getvalue()) if code == 0 else {"error": err.getvalue()})


def test_lineage_of_the_image_and_of_its_running_container_is_the_model_versions_record(
    built: StageRun, deployed: str, real_docker: DockerEngine, logged_model: LoggedModel
) -> None:
    tracking = ("--tracking-uri", logged_model.tracking_uri)
    records = {
        "model version": _lineage(logged_model.registered_uri, real_docker, *tracking),
        "image": _lineage(built.outputs["image-ref"], real_docker, "--tool", "docker", *tracking),
        "container": _lineage(f"container/{deployed}", real_docker, *tracking),
        # A bare name that no image has: the container of that name.
        "container by name": _lineage(deployed, real_docker, *tracking),
    }
    for what, (code, record) in records.items():
        assert code == 0, (what, record)
    version = records["model version"][1]
    assert version["git-sha"] == GIT_SHA
    assert version["data-version"] == DATA_VERSION
    assert version["run-id"] == logged_model.run_id
    assert version["model-version"] == logged_model.version
    for what, (_, record) in records.items():
        assert {k: record[k] for k in LINEAGE_KEYS} == {k: version[k] for k in LINEAGE_KEYS}, what
    image, container = records["image"][1], records["container"][1]
    assert image["image-digest"] == built.outputs["digest"]
    assert container["image-digest"] == built.outputs["digest"]
    assert container["deployment-revision"] == built.outputs["digest"]
    assert container["deployment"] == deployed
    assert container["environment"] == "production"
    assert "container labels (docker)" in container["sources"]
    assert records["container by name"][1]["kind"] == "container"


def test_lineage_of_a_container_reads_its_labels_without_mlflow(
    deployed: str, real_docker: DockerEngine, logged_model: LoggedModel
) -> None:
    code, record = _lineage(f"container/{deployed}", real_docker)
    assert code == 0, record
    assert record["git-sha"] == GIT_SHA
    assert record["data-version"] == DATA_VERSION
    assert record["run-id"] == logged_model.run_id
    assert record["model-version"] == logged_model.version
    assert record["sources"] == ["container labels (docker)"]


def test_lineage_of_a_container_the_engine_does_not_have_is_a_usage_error(
    real_docker: DockerEngine,
) -> None:
    code, record = _lineage(f"container/mstest-missing-{uuid.uuid4().hex[:8]}", real_docker)
    assert code == 2
    assert "has no container" in record["error"]
