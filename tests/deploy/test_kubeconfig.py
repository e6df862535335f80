"""The kubeconfig stays secret, and an unreachable cluster fails fast with exit 3."""

from __future__ import annotations

import base64
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelship.ci.errors import UsageError
from modelship.deploy.local import free_port
from modelship.kube import config
from tests.deploy.conftest import kubeconfig_for, run_deploy

TOKEN = "s3cret-token-0123456789"


def _resolve(value: str | None, tmp_path: Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    masked: list[str] = []
    return config.kubeconfig(value, None, env or {}, tmp_path, masked.append), masked


def test_inline_content_goes_to_a_private_file_that_is_removed(tmp_path: Path) -> None:
    content = kubeconfig_for("https://127.0.0.1:6443", TOKEN)
    manager, masked = _resolve(content, tmp_path)
    with manager as resolved:
        path = resolved.path
        assert resolved.source == "inline"
        assert path.read_text() == content
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert not path.is_relative_to(tmp_path)  # never inside the workspace
    assert not path.exists()
    assert not path.parent.exists()
    assert TOKEN in masked


def test_base64_content_is_decoded(tmp_path: Path) -> None:
    content = kubeconfig_for("https://127.0.0.1:6443", TOKEN)
    manager, masked = _resolve(base64.b64encode(content.encode()).decode(), tmp_path)
    with manager as resolved:
        assert resolved.path.read_text() == content
    assert TOKEN in masked


def test_a_path_is_used_in_place_and_its_token_masked(tmp_path: Path) -> None:
    file = tmp_path / "kubeconfig"
    file.write_text(kubeconfig_for("https://127.0.0.1:6443", TOKEN))
    manager, masked = _resolve("kubeconfig", tmp_path)
    with manager as resolved:
        assert resolved.path == file
    assert file.exists()
    assert TOKEN in masked


def test_kubeconfig_variable_is_the_fallback(tmp_path: Path) -> None:
    file = tmp_path / "agent-config"
    file.write_text(kubeconfig_for("https://127.0.0.1:6443", TOKEN))
    manager, _ = _resolve(None, tmp_path, {"KUBECONFIG": str(file), "HOME": str(tmp_path)})
    with manager as resolved:
        assert resolved.path == file


def test_content_that_is_not_a_kubeconfig_is_refused_without_quoting_it(tmp_path: Path) -> None:
    manager, _ = _resolve("apiVersion: v1\nkind: Pod\nsecret: hunter2hunter2\n", tmp_path)
    with pytest.raises(UsageError) as caught, manager:
        pass
    assert "not a kubeconfig" in caught.value.line()
    assert "hunter2" not in caught.value.line()


def test_no_kubeconfig_at_all_is_a_usage_error(tmp_path: Path) -> None:
    run = run_deploy(tmp_path, ["--image", "img:1"])
    assert run.code == 2
    assert "no kubeconfig" in run.stderr


def test_unreachable_cluster_exits_3_quickly_and_keeps_the_secret(tmp_path: Path) -> None:
    content = kubeconfig_for(f"https://127.0.0.1:{free_port()}", TOKEN)
    started = time.monotonic()
    run = run_deploy(
        tmp_path, ["--image", "img:1", "--model-name", "churn", "--kubeconfig", content]
    )
    assert run.code == 3, run.stderr
    assert time.monotonic() - started < 30
    assert "does not answer" in run.stderr
    assert "nothing was changed" in run.stderr
    assert TOKEN not in run.everything()
    assert "current-context" not in run.everything()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers: a cluster behind a black hole."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_cluster_that_never_answers_fails_in_bounded_time(
    tmp_path: Path, silent_server: int
) -> None:
    content = kubeconfig_for(f"http://127.0.0.1:{silent_server}", TOKEN)
    started = time.monotonic()
    run = run_deploy(
        tmp_path, ["--image", "img:1", "--model-name", "churn", "--kubeconfig", content]
    )
    elapsed = time.monotonic() - started
    assert run.code == 3, run.stderr
    assert elapsed < 30, elapsed
    assert TOKEN not in run.everything()


def test_unknown_context_is_a_usage_error(tmp_path: Path) -> None:
    content = kubeconfig_for("https://127.0.0.1:6443", TOKEN)
    run = run_deploy(
        tmp_path,
        [
            "--image",
            "img:1",
            "--model-name",
            "m",
            "--kubeconfig",
            content,
            "--kube-context",
            "nope",
        ],
    )
    assert run.code == 2, run.stderr
    assert "nope" in run.stderr
    assert TOKEN not in run.everything()


def test_an_untrusted_server_certificate_is_exit_3(tmp_path: Path) -> None:
    from tests.fixtures.kube import kube_server

    directory = tmp_path / "kube"
    directory.mkdir()
    with kube_server(directory) as server:
        # No certificate-authority-data: the test server's CA is not trusted.
        content = kubeconfig_for(server.url, server.token)
        run = run_deploy(
            tmp_path, ["--image", "img:1", "--model-name", "churn", "--kubeconfig", content]
        )
        assert run.code == 3, run.stderr
        assert "does not answer" in run.stderr
        assert "CERTIFICATE_VERIFY_FAILED" in run.stderr or "certificate" in run.stderr
        assert server.requests_matching("PATCH") == []
        assert server.token not in run.everything()


def test_only_credential_values_are_masked_never_the_kubeconfig_structure(tmp_path: Path) -> None:
    content = kubeconfig_for("https://127.0.0.1:6443", TOKEN).replace(
        f"token: {TOKEN}", f"token: {TOKEN}\n    password: hunter2-pass\n    client-key-data: a2V5"
    )
    encoded = base64.b64encode(content.encode()).decode()
    (tmp_path / "kubeconfig").write_text(content)
    for value, extra in ((content, []), (encoded, [encoded]), ("kubeconfig", [])):
        masked: list[str] = []
        config.mask_credentials(value, {}, tmp_path, masked.append)
        assert sorted(masked) == sorted([TOKEN, "hunter2-pass", "a2V5", *extra]), value[:20]
    masked = []
    env = {"KUBECONFIG": str(tmp_path / "kubeconfig"), "HOME": str(tmp_path)}
    config.mask_credentials(None, env, tmp_path, masked.append)
    assert sorted(masked) == sorted([TOKEN, "hunter2-pass", "a2V5"])
