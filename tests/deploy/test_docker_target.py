"""The `docker` target on the real engine: blue-green takeover, and rollback on a failed smoke test.

The images here are small servers that keep the serving image's contract
(port 8080, `/ping`, `/invocations`, a HEALTHCHECK) and answer with a
version of their own, built on the engine from the local Python base image in
seconds. Building a real model's image is covered in tests/build.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.deploy.conftest import run_deploy
from tests.fixtures.docker_engine import DockerEngine

pytestmark = [pytest.mark.services, pytest.mark.timeout(600)]

SERVER = textwrap.dedent(
    """
    import json, os, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    if sys.argv[1:] == ["--probe"]:
        import urllib.request
        urllib.request.urlopen("http://127.0.0.1:8080/ping", timeout=4)
        sys.exit(0)

    ANSWER = json.loads(os.environ["ANSWER"])

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send(200, {"status": "ok"})

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if ANSWER is None:
                self._send(500, {"message": "model failed to load"})
            else:
                self._send(200, {"predictions": ANSWER})

        def log_message(self, *args):
            pass

    HTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
    """
)

CONTAINERFILE = """\
FROM {base}
COPY server.py /srv/server.py
ENV ANSWER='{answer}' PORT=8080
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\
    CMD ["python3", "/srv/server.py", "--probe"]
CMD ["python3", "/srv/server.py"]
"""

PAYLOAD = '[{"a": 1.0, "b": 18.0}, {"a": 15.0, "b": 4.0}]'


@pytest.fixture(scope="module")
def serving_images(
    real_docker: DockerEngine, docker_base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """v1 and v2 answer (differently), `broken` fails every prediction, `crash` never starts."""
    images: dict[str, str] = {}
    answers = {"v1": "[0, 1]", "v2": "[1, 1]", "broken": "null", "crash": "not json"}
    for tag, answer in answers.items():
        context = tmp_path_factory.mktemp(f"image-{tag}")
        (context / "server.py").write_text(SERVER)
        (context / "Dockerfile").write_text(
            CONTAINERFILE.format(base=docker_base_image, answer=answer)
        )
        ref = f"localhost/modelship-test/serving:{tag}"
        real_docker.client.images.build(path=str(context), tag=ref, rm=True)
        images[tag] = ref
    return images


@pytest.fixture
def app_name(real_docker: DockerEngine) -> Iterator[str]:
    name = f"mstest-{uuid.uuid4().hex[:8]}"
    yield name
    for container in real_docker.client.containers.list(all=True, filters={"name": name}):
        container.remove(force=True)


def _deploy(tmp_path: Path, engine: DockerEngine, name: str, image: str) -> Any:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return run_deploy(
        tmp_path,
        [
            "--target",
            "docker",
            "--image",
            image,
            "--name",
            name,
            "--environment",
            "staging",
            "--smoke-payload",
            PAYLOAD,
            "--timeout",
            "90s",
        ],
        engine.env,
    )


def _predict(endpoint: str) -> Any:
    answer = requests.post(
        endpoint + "/invocations", json={"dataframe_records": json.loads(PAYLOAD)}, timeout=10
    )
    return answer.status_code, answer.json()


def _revision(engine: DockerEngine, image: str) -> str:
    return str(engine.client.images.get(image).id)


def test_a_good_image_takes_the_stable_name_and_port_and_the_previous_one_steps_aside(
    real_docker: DockerEngine, serving_images: dict[str, str], app_name: str, tmp_path: Path
) -> None:
    first = _deploy(tmp_path / "one", real_docker, app_name, serving_images["v1"])
    assert first.code == 0, first.stderr[-3000:]
    assert first.outputs["status"] == "succeeded"
    assert first.outputs["previous-revision"] == ""
    assert first.outputs["revision"] == _revision(real_docker, serving_images["v1"])
    endpoint = first.outputs["endpoint"]
    assert endpoint.startswith("http://127.0.0.1:")
    assert _predict(endpoint) == (200, {"predictions": [0, 1]})

    second = _deploy(tmp_path / "two", real_docker, app_name, serving_images["v2"])
    assert second.code == 0, second.stderr[-3000:]
    assert second.outputs["status"] == "succeeded"
    assert second.outputs["rolled-back"] == "false"
    assert second.outputs["endpoint"] == endpoint  # the same stable port
    assert second.outputs["revision"] == _revision(real_docker, serving_images["v2"])
    assert second.outputs["previous-revision"] == first.outputs["revision"]
    assert _predict(endpoint) == (200, {"predictions": [1, 1]})

    client = real_docker.client
    serving = client.containers.get(app_name)
    assert serving.status == "running"
    assert serving.attrs["State"]["Health"]["Status"] == "healthy"
    assert serving.image.id == _revision(real_docker, serving_images["v2"])
    assert client.containers.get(app_name + "-previous").status == "exited"
    names = [c.name for c in client.containers.list(all=True)]
    assert app_name + "-candidate" not in names
    assert "Docker deploy (blue-green)" in second.report()


def test_an_image_that_fails_the_smoke_test_rolls_back_and_the_old_container_keeps_serving(
    real_docker: DockerEngine, serving_images: dict[str, str], app_name: str, tmp_path: Path
) -> None:
    good = _deploy(tmp_path / "good", real_docker, app_name, serving_images["v1"])
    assert good.code == 0, good.stderr[-3000:]
    endpoint = good.outputs["endpoint"]
    serving_id = real_docker.client.containers.get(app_name).id

    bad = _deploy(tmp_path / "bad", real_docker, app_name, serving_images["broken"])
    assert bad.code == 1, bad.stderr[-3000:]
    assert bad.outputs["status"] == "rolled-back"
    assert bad.outputs["rolled-back"] == "true"
    assert bad.outputs["revision"] == good.outputs["revision"]
    assert bad.outputs["endpoint"] == endpoint
    assert "HTTP 500" in bad.stderr
    # The old container was never touched, and still answers.
    assert real_docker.client.containers.get(app_name).id == serving_id
    assert _predict(endpoint) == (200, {"predictions": [0, 1]})
    names = [c.name for c in real_docker.client.containers.list(all=True)]
    assert app_name + "-candidate" not in names


def test_a_container_that_exits_at_start_is_rolled_back_without_waiting_for_the_timeout(
    real_docker: DockerEngine, serving_images: dict[str, str], app_name: str, tmp_path: Path
) -> None:
    good = _deploy(tmp_path / "good", real_docker, app_name, serving_images["v1"])
    assert good.code == 0, good.stderr[-3000:]
    started = time.monotonic()
    crash = _deploy(tmp_path / "crash", real_docker, app_name, serving_images["crash"])
    assert crash.code == 1
    assert time.monotonic() - started < 60  # the timeout is 90 s
    assert crash.outputs["status"] == "rolled-back"
    assert f"{app_name}-candidate exited with 1" in crash.stderr
    assert _predict(good.outputs["endpoint"]) == (200, {"predictions": [0, 1]})


def test_a_first_deploy_of_a_failing_image_fails_and_leaves_nothing_running(
    real_docker: DockerEngine, serving_images: dict[str, str], app_name: str, tmp_path: Path
) -> None:
    done = _deploy(tmp_path, real_docker, app_name, serving_images["broken"])
    assert done.code == 1
    assert done.outputs["status"] == "failed"
    assert done.outputs["rolled-back"] == "false"
    names = [c.name for c in real_docker.client.containers.list(all=True)]
    assert not [n for n in names if n.startswith(app_name)]


def test_an_image_the_engine_cannot_find_or_pull_exits_3(
    real_docker: DockerEngine, app_name: str, tmp_path: Path
) -> None:
    done = _deploy(tmp_path, real_docker, app_name, "127.0.0.1:9/nothing/here:1")
    assert done.code == 3
    assert "cannot pull" in done.stderr


def test_the_docker_target_without_an_engine_exits_3_and_changes_nothing(tmp_path: Path) -> None:
    done = run_deploy(
        tmp_path,
        ["--target", "docker", "--image", "acme/churn:1", "--name", "churn"],
        {"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    assert done.code == 3
    assert "does not answer" in done.stderr
