"""The build context: a Containerfile and the files it copies.

```
<context>/
  Containerfile
  requirements/requirements.txt   the model's pinned requirements (+ files they name)
  model/                          the MLflow model folder, served from /opt/ml/model
```

Any builder (Docker, Buildah, Podman, Kaniko, ...) can build it as it is;
`context-dir` hands it to teams with their own build tooling.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from modelship import __version__
from modelship.ci.errors import UsageError
from modelship.images import buildsecrets
from modelship.images.labels import label_instruction
from modelship.images.model import ModelInfo

CONTAINERFILE = "Containerfile"
MODEL_DIR = "/opt/ml/model"
PORT = 8080
USER_ID = 10001

# A requirement line that names another file: `-r other.txt`, `--constraint=c.txt`.
_FILE_OPTION = re.compile(r"^(?:-r|-c|--requirement|--constraint)(?:\s+|=)(?P<file>\S+)")
_MLFLOW_REQ = re.compile(r"^mlflow(?:-skinny)?(?:\[[^\]]*\])?\s*(?:[=<>~!]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class RenderedContext:
    path: Path
    containerfile: Path
    requirements: list[str]
    extra_requirements: list[str]
    made_folder: bool = False  # `render` created `path` (else the user gave it empty)


def default_base_image(python_version: str) -> str:
    """The official slim Python image for the model's Python (major.minor)."""
    parts = python_version.split(".")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return f"docker.io/library/python:{parts[0]}.{parts[1]}-slim"
    return "docker.io/library/python:3.11-slim"


def template() -> str:
    return (
        resources.files("modelship.images")
        .joinpath("Containerfile.template")
        .read_text(encoding="utf-8")
    )


def render_containerfile(
    base_image: str,
    labels: Mapping[str, str],
    model_uri: str,
    python_minor: str,
    extra_requirements: Iterable[str] = (),
    build_args: Iterable[str] = (),
    secret_ids: Iterable[str] = (),
) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*", base_image):
        raise UsageError(
            f"base-image {base_image[:80]!r} is not an image reference",
            "e.g. python:3.11-slim or registry.example.com/team/python:3.11",
        )
    if python_minor and not re.fullmatch(r"\d+\.\d+", python_minor):
        python_minor = ""
    extra = "".join(f" {_shell_word(req)}" for req in extra_requirements)
    pip_install = buildsecrets.pip_install_step(
        "pip install --no-cache-dir -r /opt/modelship/requirements/requirements.txt" + extra,
        build_args,
        secret_ids,
    )
    # The URI is only shown in a comment; keep it on one line.
    uri_comment = re.sub(r"[\r\n]", " ", model_uri)
    text = template()
    for key, value in {
        "@@MODELSHIP_VERSION@@": __version__,
        "@@MODEL_URI_COMMENT@@": uri_comment,
        "@@BASE_IMAGE@@": base_image,
        "@@PYTHON_MINOR@@": python_minor,
        "@@PIP_INSTALL@@": pip_install,
        "@@LABELS@@": label_instruction(labels),
    }.items():
        text = text.replace(key, value)
    return text


def _shell_word(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._=<>~!\[\],-]+", text):
        raise UsageError(f"requirement {text[:60]!r} cannot be passed to pip safely")
    return "'" + text + "'"


def _referenced_files(requirements: Path, model_dir: Path) -> list[Path]:
    """Files a requirements file names (nested -r/-c files, local wheels)."""
    found: list[Path] = []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        stripped = line.split(" #", 1)[0].strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _FILE_OPTION.match(stripped)
        candidate = match.group("file") if match else stripped.split(";", 1)[0].strip()
        target = (requirements.parent / candidate).resolve()
        try:
            target.relative_to(model_dir.resolve())
        except ValueError:
            continue
        if target.is_file() and target != requirements.resolve():
            found.append(target)
            if match:
                found.extend(_referenced_files(target, model_dir))
    return found


def render(
    info: ModelInfo,
    dest: Path,
    base_image: str,
    labels: Mapping[str, str],
    build_args: Iterable[str] = (),
    secret_ids: Iterable[str] = (),
) -> RenderedContext:
    """Write the build context for `info` into `dest` (created, must be empty).

    All or nothing: when the context is refused (a bad input, a file of the
    model that links outside it), everything written so far is removed, so no
    secret stays on disk. A refusal after this returns goes through `discard`.
    """
    made_folder = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise UsageError(
            f"context-dir {dest} is not empty",
            "pass an empty or new folder; modelship does not overwrite files",
        )
    try:
        _refuse_links_out(info.path)
        return _write(info, dest, base_image, labels, build_args, secret_ids, made_folder)
    except BaseException:
        _remove_written(dest, keep_folder=not made_folder)
        raise


def _write(
    info: ModelInfo,
    dest: Path,
    base_image: str,
    labels: Mapping[str, str],
    build_args: Iterable[str],
    secret_ids: Iterable[str],
    made_folder: bool,
) -> RenderedContext:
    model_dir = info.path
    req_dir = dest / "requirements"
    req_dir.mkdir()
    source_req = model_dir / "requirements.txt"
    requirements: list[str] = []
    if source_req.is_file():
        shutil.copyfile(source_req, req_dir / "requirements.txt")
        for extra_file in _referenced_files(source_req, model_dir):
            relative = extra_file.relative_to(model_dir.resolve())
            (req_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(extra_file, req_dir / relative)
        requirements = [
            line.strip()
            for line in source_req.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
    else:
        (req_dir / "requirements.txt").write_text("", encoding="utf-8")

    # The scoring server is MLflow's own; a model whose requirements do not
    # name MLflow gets the version it was saved with.
    extra: list[str] = []
    if not any(_MLFLOW_REQ.match(line) for line in requirements):
        extra.append(f"mlflow=={info.mlflow_version}" if info.mlflow_version else "mlflow")

    shutil.copytree(model_dir, dest / "model", symlinks=False)
    _world_readable(dest)
    text = render_containerfile(
        base_image, labels, info.uri, info.python_minor, extra, build_args, secret_ids
    )
    containerfile = dest / CONTAINERFILE
    containerfile.write_text(text, encoding="utf-8")
    containerfile.chmod(0o644)
    return RenderedContext(dest, containerfile, requirements, extra, made_folder)


def discard(rendered: RenderedContext) -> None:
    """Remove a context that was written and then refused (e.g. a secret found inside)."""
    _remove_written(rendered.path, keep_folder=not rendered.made_folder)


def _refuse_links_out(model_dir: Path) -> None:
    """A link inside the model that resolves outside it would copy that file into the image."""
    root = model_dir.resolve()
    for path in model_dir.rglob("*"):
        if not path.is_symlink():
            continue
        target = path.resolve()
        if target != root and root not in target.parents:
            raise UsageError(
                f"the model holds {str(path.relative_to(model_dir))!r}, "
                "a link to a file outside the model",
                "save the model with real files; nothing from outside it goes into an image",
            )


def _remove_written(dest: Path, *, keep_folder: bool) -> None:
    """Remove what `render` wrote: the folder it made, or what it put in a given empty one."""
    if not keep_folder:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in list(dest.iterdir()):
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _world_readable(root: Path) -> None:
    """The server runs as an unprivileged user; it must read what COPY put there."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod(0o755 if path.is_dir() else 0o644)


def find_secret(root: Path, secrets: Iterable[str]) -> Path | None:
    """The first file under `root` that contains one of `secrets`, if any."""
    needles = [s.encode() for s in secrets if len(s) >= 3]
    if not needles:
        return None
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if any(needle in data for needle in needles):
            return path
    return None
