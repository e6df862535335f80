"""The suite image (`Containerfile`): built with the real Docker Engine and smoke-tested.

No registry is reachable here, so the image starts FROM the Python base made
locally with debootstrap (tests/build/baseimage.py) and imported into the
session's engine (`docker_base_image`). Docker's layer cache keeps a rebuild
to seconds while pyproject.toml is unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelship import __version__
from tests.fixtures.docker_engine import DockerEngine
from tests.harness.checkout import export_checkout, init_project

SUITE_IMAGE = f"localhost/modelship-test/suite:{__version__}"
REVISION = "0123456789abcdef0123456789abcdef01234567"
# One import per extra of the distribution (pyproject.toml's `all`).
EXTRA_IMPORTS = {
    "data": "dvc",
    "mlflow": "mlflow, sklearn, pandas, numpy",
    "image": "docker",
    "kube": "kubernetes, kubernetes_validate",
    "monitor": "scipy, pyarrow",
}


@dataclass(frozen=True)
class SuiteImage:
    ref: str
    engine_env: dict[str, str]  # DOCKER_HOST of the session's engine

    def docker(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", *args],
            env={**os.environ, **self.engine_env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(self, script: str, *docker_args: str) -> subprocess.CompletedProcess[str]:
        return self.docker("run", "--rm", *docker_args, self.ref, "sh", "-c", script)


@pytest.fixture(scope="module")
def suite_image(
    tmp_path_factory: pytest.TempPathFactory, real_docker: DockerEngine, docker_base_image: str
) -> SuiteImage:
    if shutil.which("docker") is None:
        pytest.skip("no docker command here (make deps installs docker.io)")
    image = SuiteImage(SUITE_IMAGE, real_docker.env)
    context = export_checkout(tmp_path_factory.mktemp("context"))
    built = image.docker(
        "build",
        "--file", str(context / "Containerfile"),
        "--build-arg", f"BASE={docker_base_image}",
        "--build-arg", f"VERSION={__version__}",
        "--build-arg", f"REVISION={REVISION}",
        "--tag", SUITE_IMAGE,
        str(context),
        timeout=3600,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return image


def test_suite_image_runs_modelship_as_a_non_root_user(suite_image: SuiteImage) -> None:
    done = suite_image.run("id -u; modelship --version")
    assert done.returncode == 0, done.stderr
    uid, version = done.stdout.split("\n", 1)
    assert uid.strip() != "0"
    assert version.strip() == f"modelship {__version__}"
    # The image's own command, as `docker run IMAGE` runs it, is the CLI's help.
    default = suite_image.docker("run", "--rm", suite_image.ref)
    assert default.returncode == 0
    assert "usage: modelship" in default.stdout


def test_suite_image_has_every_extra_installed(suite_image: SuiteImage) -> None:
    for extra, modules in EXTRA_IMPORTS.items():
        done = suite_image.run(f"python3 -c 'import {modules}'")
        assert done.returncode == 0, f"extra {extra}: {done.stderr[-1000:]}"


def test_suite_image_byte_code_is_compiled_at_build_time(suite_image: SuiteImage) -> None:
    """Every module of modelship and of MLflow has its .pyc in the image already."""
    script = (
        "import importlib.util, pathlib, modelship, mlflow\n"
        "missing = [str(p) for pkg in (modelship, mlflow)\n"
        "           for p in pathlib.Path(pkg.__file__).parent.rglob('*.py')\n"
        "           if not pathlib.Path(importlib.util.cache_from_source(str(p))).exists()]\n"
        "print(len(missing), missing[:5])\n"
    )
    # Read-only: nothing the check imports can write byte code on the way.
    done = suite_image.docker(
        "run", "--rm", "--read-only", suite_image.ref, "python3", "-c", script
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("0 "), done.stdout


def test_suite_image_carries_oci_labels(suite_image: SuiteImage) -> None:
    inspected = suite_image.docker(
        "image", "inspect", "--format", "{{json .Config.Labels}}", suite_image.ref
    )
    labels = json.loads(inspected.stdout)
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.revision"] == REVISION
    assert labels["org.opencontainers.image.source"] == "https://github.com/modelship/modelship"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.title"] == "modelship"


def test_suite_image_runs_a_stage_in_a_checkout_it_does_not_own(
    suite_image: SuiteImage, tmp_path: Path
) -> None:
    """A CI checkout belongs to the runner's user, not the image's; the stage still runs.

    GitLab's Docker executor leaves the checkout writable by every user
    (umask 0000), which the chmod reproduces."""
    project = init_project(tmp_path / "project", {"README.md": "a model\n"})
    for path in [project, *project.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    done = suite_image.docker(
        "run", "--rm", "--volume", f"{project}:/workspace", suite_image.ref,
        "modelship", "context", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["branch"] == "main"
    written = json.loads((project / ".modelship" / "outputs" / "context.json").read_text())
    assert written["environment"] == "production"
    assert os.stat(project).st_uid != 1000
