"""`make demo` ships a real container: engine, registry, base image, then the whole run.

The services part runs in seconds once the base image is cached: the demo's
registry answers on loopback while the run lasts, a container left by a
killed demo is removed before the run and the deployed ones after it, and
the registry is stopped. The whole demo (`slow`: about a quarter of an hour
on a busy two-core machine) builds the serving image on the real engine,
pushes it, deploys staging and production as containers and must end with
the image digest, the production container's answer and one lineage record
from the model version, the image and the container, leaving nothing behind.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType

import pytest

from tests.fixtures.docker_engine import DockerEngine

pytestmark = [pytest.mark.services, pytest.mark.timeout(3600)]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _demo_containers(engine: DockerEngine, demo: ModuleType) -> list[str]:
    names = set(demo.DEPLOYED_CONTAINERS)
    return [c.name for c in engine.client.containers.list(all=True) if c.name in names]


@pytest.fixture
def on_engine(real_docker: DockerEngine, monkeypatch: pytest.MonkeyPatch) -> DockerEngine:
    """The demo reaches the tests' engine as a user's shell would: through DOCKER_HOST."""
    monkeypatch.setenv("DOCKER_HOST", real_docker.host)
    return real_docker


def test_demo_services_serve_a_registry_for_the_run_and_leave_no_container_or_registry(
    demo: ModuleType, on_engine: DockerEngine, docker_base_image: str, tmp_path: Path
) -> None:
    from modelship.dev.registry import available

    if not available(auth=False):
        pytest.skip("needs docker-registry (make deps)")
    # What a killed demo leaves: a container under a name the pipeline deploys.
    on_engine.client.containers.create(
        docker_base_image, ["sleep", "600"], name=f"{demo.MODEL_NAME}-staging"
    )
    state = demo.Demo(tmp_path / "demo", "github", quiet=True)
    state.workdir.mkdir(parents=True)
    try:
        with demo.container_services(state) as containers:
            assert containers is not None
            state.containers = containers
            assert containers.docker_host == on_engine.host
            registry = f"http://{containers.registry}/v2/"
            assert re.fullmatch(r"127\.0\.0\.1:\d+", containers.registry)
            assert _answers(registry)
            assert _demo_containers(on_engine, demo) == []
            settings = demo.settings(state)
            assert settings["DEPLOY_TARGET"] == "docker"
            assert settings["BUILD_CONTEXT_ONLY"] == "false"
            assert settings["IMAGE_NAME"].startswith(containers.registry + "/")
            base = containers.base_image or "docker.io/library/python"
            assert on_engine.client.images.list(name=base.rsplit(":", 1)[0])
            on_engine.client.containers.create(
                docker_base_image, ["true"], name=f"{demo.MODEL_NAME}-production"
            )
        assert not _answers(registry)
        assert _demo_containers(on_engine, demo) == []
    finally:
        for name in _demo_containers(on_engine, demo):
            on_engine.client.containers.get(name).remove(force=True)


@pytest.mark.slow
@pytest.mark.e2e
def test_make_demo_ships_a_container_whose_lineage_matches_the_model_version(
    demo: ModuleType, on_engine: DockerEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = demo.main(["github", "--workdir", str(tmp_path / "demo"), "--quiet"])
    shown = capsys.readouterr().out
    assert code == 0, shown
    digest = re.search(r"^image digest:\s+(sha256:[0-9a-f]{64})$", shown, re.M)
    assert digest, shown
    assert re.search(
        rf"^image:\s+127\.0\.0\.1:\d+/modelship-demo/breast-cancer@{digest[1]}$", shown, re.M
    ), shown
    assert re.search(r"^endpoint answer: \{\"predictions\": \[0, 0, 1, 1\]\}$", shown, re.M)
    assert re.search(
        r"^production:\s+container breast-cancer-production at http://127", shown, re.M
    )
    assert (
        "lineage:         the same record from the model version, the image and the container"
        in shown
    )
    assert _demo_containers(on_engine, demo) == []
