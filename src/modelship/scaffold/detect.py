"""What a repository holds, read without running anything in it.

Every file is read with `yaml.safe_load` or `json.loads`; a file that does not
parse counts as absent, since the user's repository is outside text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DATA_SUFFIXES = (".csv", ".tsv", ".parquet")
# Parameter names that name the label column, in the order they are trusted.
LABEL_KEYS = ("target", "label", "target_column", "label_column", "target_col", "label_col")
# Column names that are a label when no parameter names one.
LABEL_COLUMNS = ("target", "label", "class", "y")
VALIDATION_HINTS = ("valid", "val", "holdout", "eval", "test")
TRAIN_SCRIPTS = ("train.py", "src/train.py", "training.py", "scripts/train.py", "train/train.py")
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".dvc", ".modelship"}
METRICS_FILES = ("metrics.json", "metrics.yaml", "metrics.yml")
PARAMS_FILES = ("params.yaml", "params.yml", "params.json")
# Walking a huge data folder is not worth it: the first files are enough.
MAX_FILES = 5000


@dataclass(frozen=True)
class Repository:
    """The facts `modelship init` found; paths are relative, with `/`."""

    root: Path
    dvc: bool  # a dvc.yaml pipeline
    mlproject: str | None  # the MLproject's `name`, or "" when it has none
    train_script: str | None
    requirements: str | None
    pyproject_installable: bool
    tests: str | None
    data_files: tuple[str, ...]
    dvc_tracked: tuple[str, ...]
    label: str | None
    label_source: str | None
    smoke_payload: bool
    default_branch: str | None


def read_structured(path: Path) -> Any:
    """A YAML or JSON file's content, or None when missing or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return None


def _walk(root: Path) -> Iterator[Path]:
    count = 0
    stack = [root]
    while stack and count < MAX_FILES:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                continue  # never follow a link out of the repository
            if entry.is_dir():
                if entry.name not in SKIPPED_DIRS and not entry.name.startswith("."):
                    stack.append(entry)
            elif entry.is_file():
                count += 1
                yield entry


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _dvc_outputs(root: Path) -> list[str]:
    """Files that `dvc.yaml` stages write and `.dvc` files track."""
    found: list[str] = []
    pipeline = read_structured(root / "dvc.yaml")
    stages = pipeline.get("stages") if isinstance(pipeline, dict) else None
    for stage in (stages or {}).values() if isinstance(stages, dict) else ():
        outs = stage.get("outs", []) if isinstance(stage, dict) else []
        for out in outs if isinstance(outs, list) else []:
            name = next(iter(out), None) if isinstance(out, dict) else out
            if isinstance(name, str):
                found.append(name)
    for path in _walk(root):
        if path.suffix == ".dvc":
            found.append(_relative(path.with_suffix(""), root))
    return found


def _label_in(content: Any) -> str | None:
    """The first string value under one of LABEL_KEYS, searched breadth first."""
    queue = [content]
    while queue:
        node = queue.pop(0)
        if isinstance(node, dict):
            for key in LABEL_KEYS:
                value = node.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
                if isinstance(value, dict) and isinstance(value.get("default"), str):
                    return str(value["default"]).strip()  # an MLproject parameter
            queue.extend(node.values())
        elif isinstance(node, list):
            queue.extend(node)
    return None


def csv_header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            delimiter = "\t" if path.suffix == ".tsv" else ","
            return next(csv.reader(handle, delimiter=delimiter), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _find_label(root: Path, data_files: tuple[str, ...]) -> tuple[str | None, str | None]:
    """The label column and the file that named it."""
    candidates = [*PARAMS_FILES, "MLproject", *METRICS_FILES]
    for name in candidates:
        label = _label_in(read_structured(root / name))
        if label:
            return label, name
    validation = validation_candidate(data_files)
    ordered = [validation] if validation else []
    for name in [*ordered, *data_files]:
        header = csv_header(root / name) if name.endswith((".csv", ".tsv")) else []
        for column in header:
            if column.strip().lower() in LABEL_COLUMNS:
                return column.strip(), name
    return None, None


def _tests_folder(root: Path) -> str | None:
    for name in ("tests", "test"):
        folder = root / name
        if folder.is_dir() and (any(folder.rglob("test_*.py")) or any(folder.rglob("*_test.py"))):
            return name
    if any(root.glob("test_*.py")):
        return "."
    return None


def _train_script(root: Path) -> str | None:
    for name in TRAIN_SCRIPTS:
        if (root / name).is_file():
            return name
    scripts = sorted(p.name for p in root.glob("*.py") if "train" in p.name.lower())
    return scripts[0] if scripts else None


def _mlproject_name(root: Path) -> str | None:
    path = root / "MLproject"
    if not path.is_file():
        return None
    content = read_structured(path)
    name = content.get("name") if isinstance(content, dict) else None
    return name.strip() if isinstance(name, str) else ""


def _installable(root: Path) -> bool:
    """A `[project]` table: `pip install .` installs the project and its dependencies."""
    lines = _read_text(root / "pyproject.toml").splitlines()
    return any(line.strip() == "[project]" for line in lines)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _default_branch(root: Path) -> str | None:
    head = _read_text(root / ".git" / "HEAD").strip()
    prefix = "ref: refs/heads/"
    return head[len(prefix) :] if head.startswith(prefix) else None


def detect(root: Path) -> Repository:
    dvc_tracked = tuple(dict.fromkeys(p for p in _dvc_outputs(root) if p.endswith(DATA_SUFFIXES)))
    on_disk = [_relative(p, root) for p in _walk(root) if p.suffix in DATA_SUFFIXES]
    data_files = tuple(dict.fromkeys([*dvc_tracked, *on_disk]))
    label, label_source = _find_label(root, data_files)
    return Repository(
        root=root,
        dvc=(root / "dvc.yaml").is_file(),
        mlproject=_mlproject_name(root),
        train_script=_train_script(root),
        requirements="requirements.txt" if (root / "requirements.txt").is_file() else None,
        pyproject_installable=(root / "pyproject.toml").is_file() and _installable(root),
        tests=_tests_folder(root),
        data_files=data_files,
        dvc_tracked=dvc_tracked,
        label=label,
        label_source=label_source,
        smoke_payload=(root / "smoke.json").is_file(),
        default_branch=_default_branch(root),
    )


def validation_candidate(data_files: tuple[str, ...]) -> str | None:
    """The data file whose name says it is for validation."""
    for hint in VALIDATION_HINTS:
        for name in data_files:
            stem = Path(name).stem.lower()
            if hint in stem.replace("-", "_").split("_") or stem.startswith(hint):
                return name
    return None
