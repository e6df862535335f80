"""Builders: the Docker engine through its SDK, Buildah and Podman through their CLIs.

All three take the same build context and give back the same facts (image
id, digest, size, labels), so the stage does not care which one ran. A
registry password only ever travels through the SDK's auth config or a
private authfile (mode 0600, deleted after the push): never a command-line
argument, a build argument, a layer or a label.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from modelship.ci.errors import ExternalError, ModelshipError, UsageError
from modelship.ci.log import Logger
from modelship.images.buildcontext import CONTAINERFILE
from modelship.images.buildsecrets import BuildOptions

BUILDERS = ("docker", "buildah", "podman")
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
INSTALL_HINT = (
    "install one: Buildah (`apt-get install buildah`, `dnf install buildah`, or the "
    "quay.io/buildah/stable image on GitLab), Podman (`apt-get install podman`), or "
    "run a Docker engine and set DOCKER_HOST (GitHub-hosted runners have one)"
)


@dataclass
class BuiltImage:
    """What a builder reports about the image it made."""

    id: str
    digest: str
    size: int
    labels: dict[str, str] = field(default_factory=dict)
    user: str = ""
    healthcheck: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RegistryAuth:
    registry: str
    username: str
    password: str


class BuildFailed(ExternalError):
    pass


class Builder(Protocol):
    name: str

    def build(
        self,
        context: Path,
        refs: list[str],
        platform: str | None,
        log: Logger,
        options: BuildOptions | None = None,
    ) -> BuiltImage: ...

    def push(self, ref: str, auth: RegistryAuth | None, log: Logger) -> str: ...


# -- output handling ---------------------------------------------------------


class _Sink:
    """Build output to the log, in batches (each batch fenced as untrusted text).

    Lines that the Containerfile prints with a `modelship-` prefix are kept,
    so a base image without Python becomes a clear error, not a stack of
    builder output.
    """

    def __init__(self, log: Logger) -> None:
        self.log = log
        self.lines: list[str] = []
        self._pending: list[str] = []
        self._last = time.monotonic()

    def write(self, line: str) -> None:
        line = line.rstrip("\r\n")
        self.lines.append(line)
        if len(self.lines) > 4000:
            del self.lines[:1000]
        self._pending.append(line)
        if len(self._pending) >= 40 or time.monotonic() - self._last > 2:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.log.untrusted("\n".join(self._pending))
            self._pending = []
        self._last = time.monotonic()

    def tail(self, count: int = 30) -> str:
        return "\n".join(self.lines[-count:])

    def markers(self, kind: str) -> list[str]:
        prefix = f"modelship-{kind}: "
        found = []
        for line in self.lines:
            at = line.find(prefix)
            if at >= 0 and "echo " not in line and "print(" not in line:
                found.append(line[at + len(prefix) :].strip())
        return found


def explain_failure(sink: _Sink, builder: str, base_image: str | None = None) -> ModelshipError:
    """The error for a failed build: a bad base image is the user's to fix (exit 2)."""
    for marker in sink.markers("error"):
        code, _, text = marker.partition(": ")
        if code == "no-python":
            return UsageError(
                f"the base image{f' {base_image}' if base_image else ''} has no Python 3: {text}",
                "pass a base-image with python3 and venv, e.g. python:3.11-slim",
            )
        if code == "no-venv":
            return UsageError(
                f"the base image{f' {base_image}' if base_image else ''} cannot make a "
                f"Python virtual environment: {text}",
                "use a base image with the venv module (Debian: python3-venv)",
            )
    text = sink.tail(200)
    if "executable file not found" in text or "/bin/sh: no such file" in text.lower():
        return UsageError(
            "the base image has no /bin/sh and no usable Python 3",
            "pass a base-image with a shell, python3 and venv, e.g. python:3.11-slim",
        )
    last = [line for line in sink.lines if line.strip()][-1:] or ["(no output)"]
    return BuildFailed(f"{builder} build failed: {last[0][:300]}", "see the build log above")


def warn_markers(sink: _Sink, log: Logger) -> None:
    for marker in dict.fromkeys(sink.markers("warning")):
        log.warning(marker)


# -- CLI builders: Buildah and Podman -----------------------------------------


class CliBuilder:
    """Buildah or Podman through its command line."""

    def __init__(self, name: str, executable: str, env: Mapping[str, str]) -> None:
        self.name = name
        self.executable = executable
        self.env = dict(env)
        self.base_image: str | None = None

    def run(
        self,
        args: list[str],
        sink: _Sink | None = None,
        stdin: str | None = None,
        timeout: float = 3600,
    ) -> tuple[int, str]:
        """Run the tool; stream its output into `sink` or return it."""
        try:
            proc = subprocess.Popen(
                [self.executable, *args],
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=self.env,
            )
        except OSError as err:
            raise ExternalError(f"cannot run {self.executable}: {err}") from None
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            if stdin is not None and proc.stdin is not None:
                proc.stdin.write(stdin)
                proc.stdin.close()
            collected: list[str] = []
            assert proc.stdout is not None
            for line in proc.stdout:
                if sink is not None:
                    sink.write(line)
                else:
                    collected.append(line)
            code = proc.wait()
        finally:
            timer.cancel()
        if sink is not None:
            sink.flush()
        return code, "".join(collected)

    def _isolation(self) -> list[str]:
        # chroot isolation needs no OCI runtime and works in unprivileged CI
        # containers; BUILDAH_ISOLATION, when set, is the user's choice.
        return [] if self.env.get("BUILDAH_ISOLATION") else ["--isolation", "chroot"]

    def build(
        self,
        context: Path,
        refs: list[str],
        platform: str | None,
        log: Logger,
        options: BuildOptions | None = None,
    ) -> BuiltImage:
        with tempfile.TemporaryDirectory(prefix="modelship-build-") as tmp:
            iidfile = Path(tmp) / "iid"
            args = ["build", "--layers", "--format", "docker", *self._isolation()]
            args += ["-f", str(context / CONTAINERFILE), "--iidfile", str(iidfile)]
            for ref in refs:
                args += ["-t", ref]
            if platform:
                args += ["--platform", platform]
            args += build_option_args(options or BuildOptions())
            args.append(str(context))
            sink = _Sink(log)
            with log.group(f"{self.name} build"):
                code, _ = self.run(args, sink)
            warn_markers(sink, log)
            if code != 0:
                raise explain_failure(sink, self.name, self.base_image)
            image_id = iidfile.read_text().strip() if iidfile.exists() else ""
        if not image_id:
            raise BuildFailed(f"{self.name} build did not report an image id")
        return self.inspect(image_id)

    def inspect(self, image: str) -> BuiltImage:
        if self.name == "podman":
            code, out = self.run(["image", "inspect", image])
            if code != 0:
                raise ExternalError(f"podman image inspect {image} failed: {out.strip()[-300:]}")
            data = json.loads(out)[0]
            config = data.get("Config") or {}
            health = (data.get("Healthcheck") or config.get("Healthcheck") or {}).get("Test")
            return BuiltImage(
                id=_sha(data.get("Id", "")),
                digest=str(data.get("Digest") or ""),
                size=int(data.get("Size") or 0),
                labels=dict(data.get("Labels") or config.get("Labels") or {}),
                user=str(config.get("User") or ""),
                healthcheck=list(health or []),
            )
        code, out = self.run(["inspect", "--type", "image", image])
        if code != 0:
            raise ExternalError(f"buildah inspect {image} failed: {out.strip()[-300:]}")
        data = json.loads(out)
        docker = data.get("Docker") or {}
        config = docker.get("config") or (data.get("OCIv1") or {}).get("config") or {}
        health = (config.get("Healthcheck") or {}).get("Test")
        return BuiltImage(
            id=_sha(data.get("FromImageID", "")),
            digest=str(data.get("FromImageDigest") or ""),
            size=self._size(data),
            labels=dict(config.get("Labels") or {}),
            user=str(config.get("User") or ""),
            healthcheck=list(health or []),
        )

    @staticmethod
    def _size(data: dict[str, Any]) -> int:
        """Bytes of the image's layers, from its manifest (`buildah images` rounds)."""
        try:
            manifest = json.loads(data.get("Manifest") or "{}")
            layers = manifest.get("layers") or []
            return sum(int(layer.get("size") or 0) for layer in layers)
        except (ValueError, TypeError, AttributeError):
            return 0

    def push(self, ref: str, auth: RegistryAuth | None, log: Logger) -> str:
        with tempfile.TemporaryDirectory(prefix="modelship-push-") as tmp:
            os.chmod(tmp, 0o700)
            digestfile = Path(tmp) / "digest"
            auth_args: list[str] = []
            if auth is not None:
                # An authfile of our own, readable by us only and gone after the
                # push: the password never becomes an argument another process sees.
                # (`login --password-stdin` would do too, but Buildah 1.28's login
                # ignores `insecure` registries in registries.conf.)
                authfile = Path(tmp) / "auth.json"
                token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
                fd = os.open(authfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    json.dump({"auths": {auth.registry: {"auth": token}}}, handle)
                auth_args = ["--authfile", str(authfile)]
            sink = _Sink(log)
            with log.group(f"{self.name} push {ref}"):
                code, _ = self.run(
                    ["push", *auth_args, "--digestfile", str(digestfile), ref, f"docker://{ref}"],
                    sink,
                    timeout=3600,
                )
            if code != 0:
                raise ExternalError(
                    f"pushing {ref} was refused: {log.redact(_last_line(sink.tail(5)))}",
                    "check the registry, the credentials and that they may push to this repository",
                )
            return digestfile.read_text().strip() if digestfile.exists() else ""


def build_option_args(options: BuildOptions) -> list[str]:
    """`--build-arg`, `--secret` and `--network` as Buildah, Podman and `docker build` take them."""
    args: list[str] = []
    for key, value in options.build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    for secret_id, path in options.secret_files.items():
        args += ["--secret", f"id={secret_id},src={path}"]
    if options.network != "default":
        args += ["--network", options.network]
    return args


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _sha(value: str) -> str:
    return value if not value or value.startswith("sha256:") else f"sha256:{value}"


# -- Docker engine through the SDK --------------------------------------------


class DockerBuilder:
    """The Docker engine API through the `docker` SDK (classic builder)."""

    name = "docker"

    def __init__(self, client: Any, env: Mapping[str, str] | None = None) -> None:
        self.client = client
        self.env = dict(env or {})
        self.base_image: str | None = None

    @classmethod
    def connect(cls, env: Mapping[str, str], timeout: int = 10) -> DockerBuilder:
        import docker

        client = docker.from_env(environment=dict(env), timeout=timeout)
        client.ping()
        # Builds and pushes can take long; the ping used a short timeout.
        client.api.timeout = 3600
        return cls(client, env)

    def build(
        self,
        context: Path,
        refs: list[str],
        platform: str | None,
        log: Logger,
        options: BuildOptions | None = None,
    ) -> BuiltImage:
        options = options or BuildOptions()
        if options.secret_files:
            # The engine API's classic builder cannot mount secrets; BuildKit
            # can, and the SDK does not speak BuildKit's session protocol.
            return self._build_with_buildkit(context, refs, platform, log, options)
        return self._build_classic(context, refs, platform, log, options)

    def _build_classic(
        self,
        context: Path,
        refs: list[str],
        platform: str | None,
        log: Logger,
        options: BuildOptions,
    ) -> BuiltImage:
        import docker.errors

        first, *others = refs
        sink = _Sink(log)
        image_id = ""
        failure = ""
        with log.group("docker build"):
            try:
                stream = self.client.api.build(
                    path=str(context),
                    dockerfile=CONTAINERFILE,
                    tag=first,
                    rm=True,
                    forcerm=True,
                    decode=True,
                    platform=platform or None,
                    buildargs=options.build_args or None,
                    network_mode=None if options.network == "default" else options.network,
                )
                for chunk in stream:
                    if "stream" in chunk:
                        for line in str(chunk["stream"]).splitlines():
                            sink.write(line)
                    if "aux" in chunk and isinstance(chunk["aux"], dict):
                        image_id = str(chunk["aux"].get("ID") or image_id)
                    if "error" in chunk or "errorDetail" in chunk:
                        detail = chunk.get("errorDetail") or {}
                        failure = str(detail.get("message") or chunk.get("error") or "")
                        sink.write(failure)
            except docker.errors.APIError as err:
                failure = str(err.explanation or err)
                sink.write(failure)
            sink.flush()
        warn_markers(sink, log)
        if failure:
            raise explain_failure(sink, "docker", self.base_image)
        if not image_id:
            image_id = _docker_id_from_log(sink.lines)
        if not image_id:
            raise BuildFailed("docker build did not report an image id")
        for ref in others:
            repo, tag = split_ref(ref)
            self.client.api.tag(image_id, repo, tag)
        return self.inspect(image_id)

    def _build_with_buildkit(
        self,
        context: Path,
        refs: list[str],
        platform: str | None,
        log: Logger,
        options: BuildOptions,
    ) -> BuiltImage:
        command, env = buildkit_cli(self.env)
        with tempfile.TemporaryDirectory(prefix="modelship-build-") as tmp:
            iidfile = Path(tmp) / "iid"
            args = [*command, "--progress", "plain", "-f", str(context / CONTAINERFILE)]
            args += ["--iidfile", str(iidfile)]
            for ref in refs:
                args += ["-t", ref]
            if platform:
                args += ["--platform", platform]
            args += [*build_option_args(options), str(context)]
            cli = CliBuilder("docker", args[0], env)
            cli.base_image = self.base_image
            sink = _Sink(log)
            with log.group("docker build (BuildKit)"):
                code, _ = cli.run(args[1:], sink)
            warn_markers(sink, log)
            if code != 0:
                raise explain_failure(sink, "docker", self.base_image)
            image_id = iidfile.read_text().strip() if iidfile.exists() else ""
        if not image_id:
            raise BuildFailed("docker build did not report an image id")
        return self.inspect(image_id)

    def inspect(self, image: str) -> BuiltImage:
        data = self.client.api.inspect_image(image)
        config = data.get("Config") or {}
        repo_digests = data.get("RepoDigests") or []
        digest = repo_digests[0].split("@", 1)[1] if repo_digests else str(data.get("Id") or "")
        return BuiltImage(
            id=str(data.get("Id") or ""),
            digest=digest,
            size=int(data.get("Size") or 0),
            labels=dict(config.get("Labels") or {}),
            user=str(config.get("User") or ""),
            healthcheck=list((config.get("Healthcheck") or {}).get("Test") or []),
        )

    def push(self, ref: str, auth: RegistryAuth | None, log: Logger) -> str:
        import docker.errors

        repo, tag = split_ref(ref)
        auth_config = None
        if auth is not None:
            auth_config = {
                "username": auth.username,
                "password": auth.password,
                "serveraddress": auth.registry,
            }
        digest = ""
        failure = ""
        sink = _Sink(log)
        with log.group(f"docker push {ref}"):
            try:
                for chunk in self.client.api.push(
                    repo, tag=tag, stream=True, decode=True, auth_config=auth_config
                ):
                    if "error" in chunk or "errorDetail" in chunk:
                        detail = chunk.get("errorDetail") or {}
                        failure = str(detail.get("message") or chunk.get("error") or "")
                        continue
                    aux = chunk.get("aux")
                    if isinstance(aux, dict) and aux.get("Digest"):
                        digest = str(aux["Digest"])
                    status = chunk.get("status")
                    # A layer's progress bar is hundreds of lines a push; its
                    # states (preparing, pushed, already exists) tell the story.
                    if status and not chunk.get("progressDetail"):
                        sink.write(f"{chunk.get('id', '')} {status}".strip())
            except docker.errors.APIError as err:
                failure = str(err.explanation or err)
            sink.flush()
        if failure:
            raise ExternalError(
                f"pushing {ref} was refused: {log.redact(failure)[:300]}",
                "check the registry, the credentials and that they may push to this repository",
            )
        return digest


def buildkit_cli(env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The first `docker` on PATH that builds with BuildKit, and the environment it needs.

    A CLI with the buildx plugin runs `docker buildx build --load`; a CLI older
    than 23.0 (Debian 12's docker.io is 20.10) has BuildKit built in and only
    needs `DOCKER_BUILDKIT=1`. A newer CLI without buildx cannot use BuildKit.
    """
    looked: list[str] = []
    for folder in dict.fromkeys(env.get("PATH", os.defpath).split(os.pathsep)):
        candidate = Path(folder or ".") / "docker"
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        path = str(candidate)
        if _quiet_ok([path, "buildx", "version"], env):
            return [path, "buildx", "build", "--load"], dict(env)
        version = _quiet_output([path, "version", "--format", "{{.Client.Version}}"], env)
        major = version.split(".", 1)[0]
        if major.isdigit() and int(major) < 23:
            return [path, "build"], {**env, "DOCKER_BUILDKIT": "1"}
        looked.append(f"{path} ({version or 'unknown version'}, no buildx)")
    raise ExternalError(
        "build secrets need BuildKit, and no docker CLI on PATH can use it"
        + (f" (found {'; '.join(looked)})" if looked else " (no docker CLI found)"),
        "install the buildx plugin (Debian: docker-buildx; Docker's docker-buildx-plugin), "
        "or build with builder buildah or podman, which mount secrets themselves",
    )


def _quiet_ok(args: list[str], env: Mapping[str, str]) -> bool:
    try:
        done = subprocess.run(args, env=dict(env), capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _quiet_output(args: list[str], env: Mapping[str, str]) -> str:
    try:
        done = subprocess.run(
            args, env=dict(env), capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _docker_id_from_log(lines: Iterable[str]) -> str:
    for line in reversed(list(lines)):
        if line.startswith("Successfully built "):
            return line.split()[-1]
    return ""


def split_ref(ref: str) -> tuple[str, str]:
    """`registry:5000/team/app:1.0` -> (`registry:5000/team/app`, `1.0`)."""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, "latest"


# -- choosing a builder -------------------------------------------------------


def _which(tool: str, env: Mapping[str, str]) -> str | None:
    return shutil.which(tool, path=env.get("PATH", os.defpath))


def docker_engine(env: Mapping[str, str]) -> tuple[DockerBuilder | None, str]:
    """A reachable Docker engine, or why there is none."""
    host = env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    if host.startswith("unix://") and not Path(host[len("unix://") :]).exists():
        return None, f"no Docker engine socket at {host}"
    try:
        import docker  # noqa: F401
    except ImportError:
        return None, "the docker SDK is not installed (pip install 'modelship-ci[image]')"
    try:
        return DockerBuilder.connect(env), ""
    except Exception as err:  # any connection failure means "not reachable"
        return None, f"Docker engine at {host} did not answer: {str(err)[:200]}"


def choose(choice: str, env: Mapping[str, str]) -> Builder:
    """The builder `choice` names, or for `auto` the first one that is there."""
    looked: list[str] = []
    candidates = BUILDERS if choice == "auto" else (choice,)
    for name in candidates:
        if name == "docker":
            builder, why = docker_engine(env)
            if builder is not None:
                return builder
            looked.append(f"docker: {why}")
            continue
        path = _which(name, env)
        if path:
            return CliBuilder(name, path, env)
        looked.append(f"{name}: not found on PATH")
    raise ExternalError(
        (
            "no image builder is available"
            if choice == "auto"
            else f"builder {choice} is not available"
        )
        + " (looked for "
        + "; ".join(looked)
        + ")",
        INSTALL_HINT,
    )
