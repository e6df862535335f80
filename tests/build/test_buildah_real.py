"""Real builds with Buildah (chroot isolation) from the locally made Debian base image.

The image is built by `modelship build`, then its own command runs with
`buildah run` (no container daemon here) and answers `/invocations`.
The first build of a session on a fresh cache installs MLflow and the model's
requirements from PyPI (minutes); later builds reuse the cached layers.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.build.conftest import DATA_VERSION, GIT_SHA, BuildahEnv, LoggedModel
from tests.build.registry import Registry, registry
from tests.build.registry import available as registry_available
from tests.fixtures.net import free_port, wait_http
from tests.harness.cli import run_cli
from tests.harness.servers import ServerProcess

pytestmark = [pytest.mark.services, pytest.mark.timeout(1800)]

IMAGE = "localhost/modelship-test/churn"
TRICKY = 'quote " dollar $HOME back \\ slash'


def _env(model: LoggedModel, buildah: BuildahEnv) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": model.tracking_uri, **buildah.env}


def _inspect(buildah: BuildahEnv, ref: str) -> dict[str, object]:
    out = buildah.store.buildah("inspect", "--type", "image", ref)
    loaded: dict[str, object] = json.loads(out)
    return loaded


@pytest.fixture(scope="module")
def built(request: pytest.FixtureRequest, logged_model: LoggedModel, buildah_env: BuildahEnv):
    """The image, built once for the module through the stage's CLI."""
    from tests.build.conftest import StageRun

    run_build = request.getfixturevalue("run_build")
    started = time.monotonic()
    done: StageRun = run_build(
        [
            "--model-uri",
            logged_model.registered_uri,
            "--image",
            IMAGE,
            "--tags",
            "e2e\nstable",
            "--base-image",
            buildah_env.base_image,
            "--labels",
            f"com.example.note={TRICKY}",
        ],
        _env(logged_model, buildah_env),
    )
    took = time.monotonic() - started
    assert done.code == 0, done.stderr[-4000:]
    print(f"\nfirst build in this session: {took:.1f}s")
    return done


# module-scoped use of a function fixture needs its own workspace
@pytest.fixture(scope="module")
def run_build(tmp_path_factory: pytest.TempPathFactory):
    from tests.build.conftest import StageRun

    def run(args: list[str], env: dict[str, str]) -> StageRun:
        workspace = tmp_path_factory.mktemp("ws")
        full_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **env}
        done = run_cli(["build", *args], workspace, full_env, json_outputs=True)
        return StageRun(done.code, done.stdout, done.stderr, workspace)

    return run


def test_buildah_image_carries_oci_and_lineage_labels(
    built, buildah_env: BuildahEnv, logged_model: LoggedModel
) -> None:
    outputs = built.outputs
    assert outputs["image"] == f"{IMAGE}:e2e"
    assert json.loads(outputs["tags"]) == [f"{IMAGE}:e2e", f"{IMAGE}:stable"]
    assert outputs["digest"].startswith("sha256:")
    # Not pushed: the reference to deploy is the local tag.
    assert outputs["image-ref"] == f"{IMAGE}:e2e"

    data = _inspect(buildah_env, outputs["image"])
    config = data["Docker"]["config"]  # type: ignore[index]
    labels = config["Labels"]
    assert labels["io.modelship.run-id"] == logged_model.run_id
    assert labels["io.modelship.model-name"] == logged_model.name
    assert labels["io.modelship.model-version"] == logged_model.version
    assert labels["io.modelship.data-version"] == DATA_VERSION
    assert labels["org.opencontainers.image.revision"] == GIT_SHA
    assert labels["org.opencontainers.image.title"] == logged_model.name
    for key in ("created", "version"):
        assert labels[f"org.opencontainers.image.{key}"]
    assert labels["com.example.note"] == TRICKY
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]["Test"][0] == "CMD"
    # The digest output names this very image.
    assert data["FromImageDigest"] == outputs["digest"]
    # Both tags point at it.
    assert _inspect(buildah_env, f"{IMAGE}:stable")["FromImageID"] == data["FromImageID"]

    summary = (built.workspace / "modelship-reports" / "build.md").read_text()
    assert outputs["digest"] in summary
    assert "io.modelship.data-version" in summary
    assert "MiB" in summary or "GiB" in summary


@pytest.fixture
def served(built, buildah_env: BuildahEnv) -> Iterator[tuple[str, int]]:
    """The image's own command, run with `buildah run` on a free loopback port."""
    ref = built.outputs["image"]
    cmd = _inspect(buildah_env, ref)["Docker"]["config"]["Cmd"]  # type: ignore[index]
    ctr = buildah_env.store.buildah("from", "--pull-never", ref)
    port = free_port()
    argv = ["buildah", "run", "--isolation", "chroot", "--env", f"PORT={port}", ctr, "--", *cmd]
    env = {**os.environ, **buildah_env.store.env}
    server = ServerProcess(argv, built.workspace / "server.log", env=env)
    try:
        with server:
            server.wait_http(f"http://127.0.0.1:{port}/ping", timeout=180)
            yield f"http://127.0.0.1:{port}", server.pid
    finally:
        buildah_env.store.buildah("rm", ctr, check=False)


def _server_uids(port: int) -> set[int]:
    """Real uids of the processes serving on `port` (found by their command line)."""
    uids: set[int] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if str(port) in cmdline and ("uvicorn" in cmdline or "mlflow" in cmdline):
            if "buildah" in cmdline:
                continue
            for line in status.splitlines():
                if line.startswith("Uid:"):
                    uids.add(int(line.split()[1]))
    return uids


def test_the_image_serves_predictions_as_a_non_root_user(served: tuple[str, int]) -> None:
    url, _ = served
    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
        assert response.status == 200
    rows = {"dataframe_split": {"columns": ["tenure", "calls"], "data": [[1.5, 9.0], [45.0, 0.0]]}}
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(rows).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    assert body == {"predictions": [1, 0]}
    port = int(url.rsplit(":", 1)[1])
    uids = _server_uids(port)
    assert uids, "no server process found"
    assert uids == {10001}


def test_a_rebuild_reuses_the_cached_dependency_layer(
    built, run_build, buildah_env: BuildahEnv, logged_model: LoggedModel
) -> None:
    started = time.monotonic()
    again = run_build(
        [
            "--model-uri",
            logged_model.registered_uri,
            "--image",
            IMAGE,
            "--tags",
            "e2e-again",
            "--base-image",
            buildah_env.base_image,
        ],
        _env(logged_model, buildah_env),
    )
    took = time.monotonic() - started
    assert again.code == 0, again.stderr[-3000:]
    log = again.stderr
    pip_step = log.index("RUN pip install")
    after_pip = log[pip_step : log.index("\n", log.index("\n", pip_step) + 1)]
    assert "Using cache" in after_pip
    assert "Collecting " not in log  # pip did not run again
    print(f"\nrebuild of the same model: {took:.1f}s")


def test_a_base_image_without_python_is_a_clear_error(
    run_build, buildah_env: BuildahEnv, logged_model: LoggedModel
) -> None:
    done = run_build(
        [
            "--model-uri",
            logged_model.run_uri,
            "--image",
            IMAGE,
            "--tags",
            "no-python",
            "--base-image",
            buildah_env.image_without_python,
        ],
        _env(logged_model, buildah_env),
    )
    assert done.code == 2
    assert f"the base image {buildah_env.image_without_python} has no Python 3" in done.stderr


# -- pushing to a real registry on loopback ------------------------------------

PASSWORD = "Reg1stry-s3cret-for-tests"


@pytest.fixture(scope="module")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if not registry_available():
        pytest.skip(
            "needs docker-registry and htpasswd (apt-get install docker-registry apache2-utils)"
        )
    with registry(tmp_path_factory.mktemp("registry"), "ci-bot", PASSWORD) as running:
        yield running


def _push_args(image: str, buildah_env: BuildahEnv, model: LoggedModel) -> list[str]:
    return [
        "--model-uri",
        model.registered_uri,
        "--image",
        image,
        "--tags",
        "1.0.0",
        "--base-image",
        buildah_env.base_image,
        "--builder",
        "buildah",
        "--push",
        "true",
        "--registry-username",
        "ci-bot",
    ]


def test_push_reports_the_digest_the_registry_serves(
    built, run_build, buildah_env: BuildahEnv, logged_model: LoggedModel, local_registry: Registry
) -> None:
    image = f"{local_registry.host}/acme/churn"
    env = {
        **_env(logged_model, buildah_env),
        **local_registry.env,
        "INPUT_REGISTRY_PASSWORD": PASSWORD,
    }
    done = run_build(_push_args(image, buildah_env, logged_model), env)
    assert done.code == 0, done.stderr[-3000:]
    digest = done.outputs["digest"]
    assert done.outputs["image-ref"] == f"{image}@{digest}"
    token = base64.b64encode(f"ci-bot:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        f"http://{local_registry.host}/v2/acme/churn/manifests/1.0.0",
        method="HEAD",
        headers={
            "Authorization": f"Basic {token}",
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, "
            "application/vnd.oci.image.manifest.v1+json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Docker-Content-Digest"] == digest
    assert PASSWORD not in done.everything()


def test_a_refused_push_exits_3_and_never_shows_the_password(
    built, run_build, buildah_env: BuildahEnv, logged_model: LoggedModel, local_registry: Registry
) -> None:
    image = f"{local_registry.host}/acme/churn"
    wrong = "not-the-Password-42"
    env = {**_env(logged_model, buildah_env), **local_registry.env}
    done = run_build(
        [*_push_args(image, buildah_env, logged_model), "--registry-password", wrong], env
    )
    assert done.code == 3
    assert "refused" in done.stderr
    assert wrong not in done.everything()
    assert PASSWORD not in done.everything()


# -- Podman, on the same store -------------------------------------------------


def test_podman_builds_the_image_and_reads_its_labels(
    built, run_build, buildah_env: BuildahEnv, logged_model: LoggedModel
) -> None:
    if shutil.which("podman") is None:
        pytest.skip("needs podman (apt-get install podman)")
    done = run_build(
        [
            "--model-uri",
            logged_model.registered_uri,
            "--image",
            IMAGE,
            "--tags",
            "podman",
            "--base-image",
            buildah_env.base_image,
            "--builder",
            "podman",
        ],
        _env(logged_model, buildah_env),
    )
    assert done.code == 0, done.stderr[-3000:]
    assert "podman build" in done.stderr
    out = subprocess.run(
        ["podman", "image", "inspect", f"{IMAGE}:podman"],
        env={**os.environ, **buildah_env.store.env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (data,) = json.loads(out)
    assert data["Labels"]["io.modelship.run-id"] == logged_model.run_id
    assert data["Config"]["User"] == "10001:10001"
    assert done.outputs["digest"] == data["Digest"]
    # It shares Buildah's layer cache: the dependency layer was not rebuilt.
    assert "Collecting " not in done.stderr


def test_the_podman_image_ref_runs_on_podman_and_answers_predictions(
    run_build, buildah_env: BuildahEnv, logged_model: LoggedModel
) -> None:
    if shutil.which("podman") is None:
        pytest.skip("needs podman (apt-get install podman)")
    done = run_build(
        [
            "--model-uri",
            logged_model.registered_uri,
            "--image",
            IMAGE,
            "--tags",
            "podman-run",
            "--base-image",
            buildah_env.base_image,
            "--builder",
            "podman",
        ],
        _env(logged_model, buildah_env),
    )
    assert done.code == 0, done.stderr[-3000:]
    image_ref = done.outputs["image-ref"]
    assert image_ref == f"{IMAGE}:podman-run"
    port = free_port()
    env = {**os.environ, **buildah_env.store.env}
    # runc, and rlimits no higher than this machine's hard limits.
    limits = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]
    publish = ["-p", f"127.0.0.1:{port}:8080"]
    started = subprocess.run(
        ["podman", "run", "-d", "--runtime", "runc", *limits, *publish, image_ref],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode == 0, started.stderr[-2000:]
    container = started.stdout.strip()
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", timeout=180)
        rows = {"dataframe_split": {"columns": ["tenure", "calls"], "data": [[1.5, 9.0]]}}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(rows).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.loads(response.read()) == {"predictions": [1]}
    finally:
        subprocess.run(["podman", "rm", "-f", container], env=env, capture_output=True, check=False)


# -- build secrets with Buildah ------------------------------------------------------

INDEX_PASSWORD = "Buildah-index-s3cret-31"


def test_buildah_mounts_a_secret_pip_configuration_that_no_layer_or_history_keeps(
    run_build,
    buildah_env: BuildahEnv,
    private_model: str,
    logged_model: LoggedModel,
    tmp_path: Path,
) -> None:
    from tests.build.private_index import MARKER, MODULE, PACKAGE, private_index

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
                "buildah",
                "--base-image",
                buildah_env.base_image,
                "--secrets",
                "id=pipconf,env=PIP_CONF_SECRET",
                "--network",
                "host",
                # A new value each run: the pip step runs for real, not from the
                # layer cache of an earlier run (a secret is not part of its key).
                "--build-args",
                f"MODELSHIP_TEST_RUN={uuid.uuid4().hex}",
            ],
            {**_env(logged_model, buildah_env), "PIP_CONF_SECRET": pip_conf},
        )
        assert done.code == 0, done.stderr[-4000:]
        assert (f"/simple/{PACKAGE}/", True) in index.requests
    assert INDEX_PASSWORD not in done.everything()

    ref = f"{IMAGE}:secret"
    data = _inspect(buildah_env, ref)
    assert INDEX_PASSWORD not in json.dumps(data)  # history, config, manifest
    # Every layer, uncompressed, as the registry would get it.
    layers = tmp_path / "layers"
    buildah_env.store.buildah("push", "--disable-compression", ref, f"dir:{layers}")
    for blob in layers.iterdir():
        assert INDEX_PASSWORD.encode() not in blob.read_bytes(), blob.name
    ctr = buildah_env.store.buildah("from", "--pull-never", ref)
    try:
        mount = Path(buildah_env.store.buildah("mount", ctr))
        site = next(mount.glob(f"opt/modelship/venv/lib/python3*/site-packages/{MODULE}"))
        assert MARKER in (site / "__init__.py").read_text()
    finally:
        buildah_env.store.buildah("umount", ctr, check=False)
        buildah_env.store.buildah("rm", ctr, check=False)
