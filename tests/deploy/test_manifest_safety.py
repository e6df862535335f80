"""User manifests stay in the workspace, keep their secrets, and are called valid only when checked.

Each test is named after the property it protects. The cluster is the
Kubernetes API test server; a model server is not needed (a tiny HTTP server
answers the smoke test's `/ping`).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import Run, run_deploy
from tests.harness.http import JsonHandler, LoopbackServer

IMAGE = "registry.local/churn:5"
PASSWORD = "pa55-w0rd-never-shown"
API_KEY = "api-key-never-shown-42"

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: churn}
spec:
  replicas: 1
  selector: {matchLabels: {app: churn}}
  template:
    metadata: {labels: {app: churn}}
    spec:
      containers:
        - name: model
          image: MODELSHIP_IMAGE
          ports: [{name: http, containerPort: 8080}]
          resources: {requests: {cpu: 250m, memory: 256Mi}}
"""
SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: churn}
spec:
  selector: {app: churn}
  ports: [{name: http, port: 80, targetPort: http}]
"""
SECRET = f"""
apiVersion: v1
kind: Secret
metadata: {{name: churn-credentials}}
type: Opaque
stringData: {{password: {PASSWORD}}}
data: {{api-key: {base64.b64encode(API_KEY.encode()).decode()}}}
"""


class _Ping(JsonHandler):
    def do_GET(self) -> None:
        self.send_bytes(200, b"\n")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Any]:
    """The API test server; pods of IMAGE answer `/ping` through the service proxy."""
    from tests.fixtures.kube import kube_server

    directory = tmp_path / "kube"
    directory.mkdir()
    with (
        LoopbackServer(_Ping) as backend,
        kube_server(directory, namespaces=("ml",), namespace="ml") as server,
    ):
        server.set_backend(IMAGE, backend.url)
        yield server


def _github(workspace: Path) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(workspace / "github_output"),
        "GITHUB_STEP_SUMMARY": str(workspace / "step_summary.md"),
    }


def _deploy(workspace: Path, *extra: str, env: dict[str, str] | None = None) -> Run:
    args = ["--image", IMAGE, "--namespace", "ml", "--name", "churn", "--timeout", "60s"]
    return run_deploy(workspace, [*args, *extra], env)


def _write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")


def _shown(run: Run) -> str:
    """What the run printed and wrote (logs, outputs, reports, rendered files, step summary).

    Not the user's own manifests, and not the runner's `::add-mask::` commands,
    which carry a secret by design so that the runner hides it.
    """
    parts = [run.stdout, run.stderr, str(run.outputs)]
    for current, _dirs, files in os.walk(run.workspace):
        for name in files:
            path = Path(current) / name
            if not path.is_symlink() and "k8s" not in path.relative_to(run.workspace).parts:
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
    lines = "\n".join(parts).splitlines()
    return "\n".join(line for line in lines if not line.startswith("::add-mask::"))


# -- item: manifests stay in the workspace --------------------------------------------


def test_a_symlink_in_the_manifests_directory_cannot_read_outside_the_workspace(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    workspace = tmp_path / "ws"
    _write(outside, {"stolen.yaml": SECRET.replace("churn-credentials", "outside-secret")})
    _write(workspace / "k8s", {"deployment.yaml": DEPLOYMENT})
    os.symlink(outside / "stolen.yaml", workspace / "k8s" / "extra.yaml")

    run = _deploy(workspace, "--manifests", "k8s", "--dry-run", env=_github(workspace))

    assert run.code == 2, run.stderr
    assert "points outside the workspace" in run.stderr
    assert "extra.yaml" in run.stderr
    seen = _shown(run)
    assert "outside-secret" not in seen
    assert PASSWORD not in seen
    assert "Traceback" not in run.stderr


def test_a_manifests_file_that_links_outside_the_workspace_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    workspace = tmp_path / "ws"
    _write(outside, {"all.yaml": DEPLOYMENT + "---" + SECRET})
    workspace.mkdir()
    os.symlink(outside / "all.yaml", workspace / "k8s.yaml")

    run = _deploy(workspace, "--manifests", "k8s.yaml", "--dry-run")

    assert run.code == 2, run.stderr
    assert "points outside the workspace" in run.stderr
    assert PASSWORD not in _shown(run)


def test_a_symlinked_folder_in_the_manifests_directory_pointing_out_is_refused(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    workspace = tmp_path / "ws"
    _write(outside, {"stolen.yaml": SECRET})
    _write(workspace / "k8s", {"deployment.yaml": DEPLOYMENT})
    os.symlink(outside, workspace / "k8s" / "more")

    run = _deploy(workspace, "--manifests", "k8s", "--dry-run")

    assert run.code == 2, run.stderr
    assert "points outside the workspace" in run.stderr
    assert PASSWORD not in _shown(run)


def test_a_symlink_that_stays_inside_the_workspace_is_followed(tmp_path: Path) -> None:
    _write(tmp_path / "shared", {"service.yaml": SERVICE})
    _write(tmp_path / "k8s", {"deployment.yaml": DEPLOYMENT})
    os.symlink(tmp_path / "shared" / "service.yaml", tmp_path / "k8s" / "service.yaml")

    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run")

    assert run.code == 0, run.stderr
    written = tmp_path / run.outputs["manifests-dir"] / "churn.yaml"
    assert [d["kind"] for d in yaml.safe_load_all(written.read_text())] == [
        "Deployment",
        "Service",
    ]


def test_a_kustomization_cannot_pull_a_base_from_outside_the_workspace(tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "base"
    workspace = tmp_path / "ws"
    _write(outside, {"secret.yaml": SECRET, "kustomization.yaml": "resources: [secret.yaml]\n"})
    base = os.path.relpath(outside, workspace / "k8s")
    _write(
        workspace / "k8s",
        {"app.yaml": DEPLOYMENT, "kustomization.yaml": f"resources: [app.yaml, {base}]\n"},
    )

    run = _deploy(workspace, "--manifests", "k8s", "--dry-run")

    assert run.code == 2, run.stderr
    assert "points outside the workspace" in run.stderr
    assert PASSWORD not in _shown(run)


def test_a_kustomization_with_a_link_out_is_refused_before_kustomize_reads_it(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    workspace = tmp_path / "ws"
    _write(outside, {"secret.yaml": SECRET})
    _write(
        workspace / "k8s",
        {"app.yaml": DEPLOYMENT, "kustomization.yaml": "resources: [app.yaml, secret.yaml]\n"},
    )
    os.symlink(outside / "secret.yaml", workspace / "k8s" / "secret.yaml")

    run = _deploy(workspace, "--manifests", "k8s", "--dry-run")

    assert run.code == 2, run.stderr
    assert "secret.yaml" in run.stderr
    assert "points outside the workspace" in run.stderr
    assert PASSWORD not in _shown(run)


# -- item: Secrets keep their values -----------------------------------------------------


def test_secret_values_never_reach_the_summary_reports_or_rendered_files(tmp_path: Path) -> None:
    _write(tmp_path / "k8s", {"app.yaml": DEPLOYMENT, "secret.yaml": SECRET})

    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run", env=_github(tmp_path))

    assert run.code == 0, run.stderr
    summary = (tmp_path / "step_summary.md").read_text()
    written = (tmp_path / run.outputs["manifests-dir"] / "churn.yaml").read_text()
    everything = _shown(run)
    encoded = base64.b64encode(API_KEY.encode()).decode()
    for value in (PASSWORD, API_KEY, encoded):
        assert value not in everything
    # The keys stay, so a reader still sees what the Secret holds.
    secret = next(d for d in yaml.safe_load_all(written) if d["kind"] == "Secret")
    assert secret["stringData"] == {"password": "***"}
    assert secret["data"] == {"api-key": "***"}
    assert "kind: Secret" in summary


def test_the_cluster_still_receives_the_secret_values(cluster: Any, tmp_path: Path) -> None:
    _write(tmp_path / "k8s", {"app.yaml": DEPLOYMENT, "svc.yaml": SERVICE, "sec.yaml": SECRET})

    run = _deploy(
        tmp_path,
        "--manifests",
        "k8s",
        "--kubeconfig",
        cluster.kubeconfig.read_text(),
        env=_github(tmp_path),
    )

    assert run.code == 0, run.stderr
    stored = cluster.get("Secret", "churn-credentials", "ml")
    values = {
        **{k: base64.b64decode(v).decode() for k, v in (stored.get("data") or {}).items()},
        **(stored.get("stringData") or {}),
    }
    assert values == {"password": PASSWORD, "api-key": API_KEY}
    everything = _shown(run)
    assert "Secret/churn-credentials" in everything
    assert PASSWORD not in everything
    assert API_KEY not in everything


def test_an_invalid_secret_is_refused_without_showing_its_values(tmp_path: Path) -> None:
    bad = SECRET.replace(f"password: {PASSWORD}", f"password: [{PASSWORD}]")
    _write(tmp_path / "k8s", {"app.yaml": DEPLOYMENT, "secret.yaml": bad})

    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run")

    assert run.code == 2, run.stderr
    assert "Secret/churn-credentials is not a valid Secret" in run.stderr
    assert "stringData.password" in run.stderr
    assert PASSWORD not in _shown(run)


# -- item: a manifest or file name cannot issue a command, the token is masked first ------

INJECTION = "\n::stop-commands::pwned\n"


def _shown_lines(run: Run, workspace: Path) -> list[str]:
    summary = workspace / "step_summary.md"
    text = run.stdout + run.stderr + (summary.read_text() if summary.exists() else "")
    return text.splitlines()


def test_a_manifest_name_cannot_start_a_workflow_command_or_unmask_the_token(
    tmp_path: Path,
) -> None:
    from tests.deploy.conftest import kubeconfig_for

    token = "b64-derived-token-0f9e8d7c6b"
    kubeconfig = base64.b64encode(kubeconfig_for("https://127.0.0.1:9", token).encode()).decode()
    evil = DEPLOYMENT.replace("metadata: {name: churn}", f"metadata: {{name: {INJECTION!r}}}")
    evil = evil.replace("'", '"')
    _write(tmp_path / "k8s", {"app.yaml": evil})

    run = _deploy(tmp_path, "--manifests", "k8s", "--kubeconfig", kubeconfig, env=_github(tmp_path))

    assert run.code == 2, run.stderr
    lines = _shown_lines(run, tmp_path)
    assert not [line for line in lines if line.startswith("::stop-commands::pwned")]
    assert [line for line in lines if token in line] == [f"::add-mask::{token}"]
    assert "Traceback" not in run.stderr


def test_a_manifest_file_name_cannot_start_a_workflow_command_and_the_token_is_masked_first(
    cluster: Any, tmp_path: Path
) -> None:
    kubeconfig = base64.b64encode(cluster.kubeconfig.read_bytes()).decode()
    _write(tmp_path / "k8s", {f"churn{INJECTION}.yaml": DEPLOYMENT, "svc.yaml": SERVICE})

    run = _deploy(tmp_path, "--manifests", "k8s", "--kubeconfig", kubeconfig, env=_github(tmp_path))

    assert run.code == 0, run.stderr
    lines = _shown_lines(run, tmp_path)
    assert not [line for line in lines if line.startswith("::stop-commands::pwned")]
    with_token = [i for i, line in enumerate(lines) if cluster.token in line]
    assert [lines[i] for i in with_token] == [f"::add-mask::{cluster.token}"]
    # The mask goes out before the first line that names a manifest.
    first_named = min(i for i, line in enumerate(lines) if "Deployment/churn" in line)
    assert with_token[0] < first_named
    # Masks cover values only: the structure of a kubeconfig is never masked.
    assert not [line for line in lines if line.startswith("::add-mask::apiVersion")]


# -- item: --dry-run validates as the API server would ------------------------------------


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("containerPort: 8080", "containerPort: 99999"), "containerPort"),
        (("containerPort: 8080", "containerPort: 0"), "containerPort"),
        (("cpu: 250m", "cpu: abc"), "requests: cpu"),
        (("memory: 256Mi", "memory: -1Gi"), "memory"),
        (("replicas: 1", "replicas: -1"), "spec.replicas"),
        (("metadata: {name: churn}", "metadata: {name: Churn_Model}"), "metadata.name"),
        (("- name: model", "- name: Model"), "containers.0.name"),
        (("labels: {app: churn}}\n    spec", "labels: {app: 'churn model'}}\n    spec"), "labels"),
        (("matchLabels: {app: churn}", "matchLabels: {app/x/y: churn}"), "matchLabels"),
    ],
)
def test_dry_run_refuses_what_the_api_server_would_refuse(
    tmp_path: Path, change: tuple[str, str], where: str
) -> None:
    old, new = change
    assert old in DEPLOYMENT
    _write(tmp_path / "k8s", {"app.yaml": DEPLOYMENT.replace(old, new, 1)})

    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run")

    assert run.code == 2, run.stderr
    assert "is not a valid Deployment" in run.stderr
    assert where in run.stderr
    assert "valid for Kubernetes" not in run.stderr


def test_dry_run_refuses_a_service_port_out_of_range(tmp_path: Path) -> None:
    _write(
        tmp_path / "k8s",
        {"app.yaml": DEPLOYMENT, "svc.yaml": SERVICE.replace("port: 80", "port: 70000")},
    )
    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run")
    assert run.code == 2, run.stderr
    assert "Service/churn is not a valid Service" in run.stderr
    assert "70000 is not a port number" in run.stderr


def test_an_unknown_kind_is_reported_as_not_validated_never_as_valid(tmp_path: Path) -> None:
    custom = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: gadget}\nspec: {x: 1}\n"
    _write(tmp_path / "k8s", {"app.yaml": DEPLOYMENT, "widget.yaml": custom})

    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run")

    assert run.code == 0, run.stderr
    assert "Widget/gadget" in run.stderr
    assert "not validated" in run.stderr
    valid_line = next(line for line in run.stderr.splitlines() if "manifests valid" in line)
    assert valid_line.startswith("1 manifests valid")
    assert "Widget" not in valid_line.split(":", 1)[1]
    report = run.report()
    assert "1 NOT validated" in report
    assert "Widget/gadget" in report


def test_manifests_are_validated_against_the_requested_kubernetes_version(
    tmp_path: Path,
) -> None:
    # `resizePolicy` on a container exists from Kubernetes 1.27 on.
    resized = DEPLOYMENT.replace(
        "          resources:",
        "          resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]\n"
        "          resources:",
    )
    _write(tmp_path / "k8s", {"app.yaml": resized})

    old = _deploy(tmp_path, "--manifests", "k8s", "--dry-run", "--kube-version", "1.26")
    new = _deploy(tmp_path, "--manifests", "k8s", "--dry-run", "--kube-version", "v1.30.2")

    assert old.code == 2, old.stderr
    assert "Kubernetes 1.26" in old.stderr
    assert "resizePolicy" in old.stderr
    assert new.code == 0, new.stderr
    assert "valid for Kubernetes 1.30" in new.stderr


def test_a_kube_version_without_a_schema_is_a_clear_error(tmp_path: Path) -> None:
    _write(tmp_path / "k8s", {"app.yaml": DEPLOYMENT})
    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run", "--kube-version", "1.2")
    assert run.code == 2, run.stderr
    assert "no schema for Kubernetes 1.2" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("cpu: 250m", '"cpu\\n::stop-commands::pwned": abc'),
        ("labels: {app: churn}}\n    spec", 'labels: {"a\\n::stop-commands::pwned": x}}\n    spec'),
        ("kind: Deployment", 'kind: "Deployment\\n::stop-commands::pwned"'),
        ("ports: [{name: http, ", 'ports: [{"name\\n::stop-commands::pwned": http, '),
    ],
    ids=["resource-key", "label-key", "kind", "unknown-field"],
)
def test_outside_text_in_a_validation_message_never_starts_a_line(
    tmp_path: Path, old: str, new: str
) -> None:
    assert old in DEPLOYMENT
    _write(tmp_path / "k8s", {"app.yaml": DEPLOYMENT.replace(old, new, 1)})

    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run")  # a local run: no escaping

    assert run.code in (0, 2), run.stderr
    assert not [line for line in run.stderr.splitlines() if line.startswith("::")]
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [("v1", "../../../../../../../etc/hostname"), ("../../x/v1", "Widget"), ("v1", "")],
)
def test_a_kind_or_api_version_that_is_no_identifier_is_refused(
    tmp_path: Path, api_version: str, kind: str
) -> None:
    odd = f"apiVersion: '{api_version}'\nkind: '{kind}'\nmetadata: {{name: x}}\n"
    _write(tmp_path / "k8s", {"app.yaml": DEPLOYMENT, "odd.yaml": odd})

    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run")

    assert run.code == 2, run.stderr
    assert "valid for Kubernetes" not in run.stderr
    assert "Traceback" not in run.stderr


def test_a_malformed_secret_is_reported_without_quoting_its_lines(tmp_path: Path) -> None:
    broken = SECRET.replace(f"password: {PASSWORD}}}", f"password: {PASSWORD}: [}}")
    _write(tmp_path / "k8s", {"app.yaml": DEPLOYMENT, "secret.yaml": broken})

    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run")

    assert run.code == 2, run.stderr
    assert "'secret.yaml': not valid YAML at line" in run.stderr
    assert PASSWORD not in _shown(run)


def test_names_follow_the_rule_of_their_kind(tmp_path: Path) -> None:
    role = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: 'model:reader'}\n"
        "rules: [{apiGroups: [''], resources: [configmaps], verbs: [get]}]\n"
    )
    _write(tmp_path / "k8s", {"app.yaml": DEPLOYMENT, "role.yaml": role})
    assert _deploy(tmp_path, "--manifests", "k8s", "--dry-run").code == 0

    # A Service name is a DNS-1035 label: no dots, a letter first.
    _write(tmp_path / "k8s", {"svc.yaml": SERVICE.replace("name: churn}", "name: churn.v2}")})
    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run")
    assert run.code == 2, run.stderr
    assert "DNS-1035" in run.stderr


def test_free_form_maps_are_not_read_as_fields(tmp_path: Path) -> None:
    config = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
        "  annotations: {replicas: 'many'}\n"
        "data: {port: '99999', replicas: '-1', containerPort: 'x', cpu: abc}\n"
    )
    _write(tmp_path / "k8s", {"app.yaml": DEPLOYMENT, "svc.yaml": SERVICE, "cm.yaml": config})

    run = _deploy(tmp_path, "--manifests", "k8s", "--dry-run")

    assert run.code == 0, run.stderr
    assert "3 manifests valid" in run.stderr
