"""A refused build context keeps no secret on disk: all that was written is removed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelship.ci.errors import UsageError
from modelship.images import buildcontext
from modelship.images.model import ModelInfo

INDEX_PASSWORD = "idx-pa55word-9f8e7d"
PIP_CONF = f"[global]\nindex-url = https://ci:{INDEX_PASSWORD}@pypi.internal.example/simple\n"


def _model(root: Path) -> ModelInfo:
    """A model folder whose requirements name a private index, as teams' models do."""
    model = root / "model"
    model.mkdir(parents=True)
    (model / "MLmodel").write_text("flavors: {}\n")
    (model / "requirements.txt").write_text("-r extra.txt\nscikit-learn==1.5.0\n")
    (model / "extra.txt").write_text("pandas==2.2.0\n")
    (model / "pip.conf").write_text(PIP_CONF)
    return ModelInfo(
        uri="runs:/abc/model", path=model, python_version="3.11.9", mlflow_version="2.17.0"
    )


def _files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


@pytest.mark.parametrize("given_folder", [False, True], ids=["new-folder", "empty-folder"])
def test_a_bad_input_found_after_the_copy_leaves_no_secret_file_behind(
    tmp_path: Path, given_folder: bool
) -> None:
    info = _model(tmp_path)
    dest = tmp_path / "ws" / "context"
    if given_folder:
        dest.mkdir(parents=True)

    # The model (with its pip.conf) is copied before the Containerfile is rendered.
    with pytest.raises(UsageError, match="is not an image reference"):
        buildcontext.render(info, dest, "python:3.11\nRUN cat /run/secrets/x", {})

    assert _files_under(dest) == []
    assert dest.exists() is given_folder  # a folder the user gave stays, empty
    assert not [p for p in (tmp_path / "ws").rglob("*") if p.is_file()]


@pytest.mark.parametrize("given_folder", [False, True], ids=["new-folder", "empty-folder"])
def test_a_context_refused_after_rendering_is_discarded_whole(
    tmp_path: Path, given_folder: bool
) -> None:
    info = _model(tmp_path)
    dest = tmp_path / "ws" / "context"
    if given_folder:
        dest.mkdir(parents=True)
    rendered = buildcontext.render(info, dest, "python:3.11-slim", {})
    leaked = buildcontext.find_secret(dest, [INDEX_PASSWORD])
    assert leaked is not None
    assert leaked.name == "pip.conf"

    buildcontext.discard(rendered)

    assert _files_under(dest) == []
    assert dest.exists() is given_folder


def test_a_link_out_of_the_model_is_refused_and_nothing_stays(tmp_path: Path) -> None:
    info = _model(tmp_path)
    outside = tmp_path / "home" / ".netrc"
    outside.parent.mkdir()
    outside.write_text(f"machine pypi.internal.example login ci password {INDEX_PASSWORD}\n")
    os.symlink(outside, info.path / "credentials")
    dest = tmp_path / "ws" / "context"

    with pytest.raises(UsageError, match="link to a file outside the model"):
        buildcontext.render(info, dest, "python:3.11-slim", {})

    assert _files_under(dest) == []
    assert not dest.exists()


def test_an_accepted_context_is_complete(tmp_path: Path) -> None:
    info = _model(tmp_path)
    dest = tmp_path / "ws" / "context"

    rendered = buildcontext.render(info, dest, "python:3.11-slim", {})

    assert rendered.containerfile.is_file()
    assert (dest / "requirements" / "extra.txt").read_text() == "pandas==2.2.0\n"
    assert (dest / "model" / "MLmodel").is_file()
