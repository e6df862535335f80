"""The single declaration of a stage: its inputs and outputs.

Everything a user sees about a stage comes from one `Stage` value: the CLI
flags, the `INPUT_*`/`MODELSHIP_*` environment variables, the composite
action, the GitLab template and the documentation tables. Keep this module
free of heavy imports: the generator and `--help` import every declaration.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from modelship.ci.context import Result, StageContext

InputType = Literal["string", "boolean", "number", "list", "path"]

# What a value means, checked before the stage runs (see ci/inputs.py):
# `url` a URL with one of `schemes` (and a host where the scheme needs one),
# `tracking-uri` an MLflow tracking URI (a URL of TRACKING_SCHEMES or a path),
# `integer` a whole number within `minimum`..`maximum`, `duration` a time such
# as `90s` or `10m` above zero, `k8s-name` / `k8s-namespace` a DNS-1123 name,
# `file` a path that, when it exists, is not a directory, `kubeconfig` a
# kubeconfig path or content whose credentials are masked up front.
InputKind = Literal[
    "url",
    "tracking-uri",
    "integer",
    "duration",
    "k8s-name",
    "k8s-namespace",
    "file",
    "kubeconfig",
]

# Schemes whose URLs name no host (a file or database path).
HOSTLESS_SCHEMES = frozenset({"file", "sqlite"})
# What MLflow accepts as a tracking URI ("" is a bare path: a file store).
# A database scheme may carry a driver: `postgresql+psycopg2://`.
TRACKING_SCHEMES = (
    "http",
    "https",
    "file",
    "sqlite",
    "postgresql",
    "mysql",
    "mssql",
    "databricks",
    "databricks-uc",
    "",
)

_KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Input:
    """One stage input.

    `default` is the string a user would write in `action.yml`; None means the
    input is optional and has no value unless given. `required` inputs must be
    given by the user.
    """

    name: str
    description: str
    type: InputType = "string"
    default: str | None = None
    required: bool = False
    options: tuple[str, ...] = ()
    pattern: str | None = None
    secret: bool = False
    kind: InputKind | None = None
    # For `url`: the schemes allowed, e.g. ("http", "https"); "" allows a bare path.
    schemes: tuple[str, ...] = ()
    # For `integer` and `number` inputs, and `duration` (in seconds): the range.
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if not _KEBAB.match(self.name):
            raise ValueError(f"input name {self.name!r} is not kebab-case")
        if self.required and self.default is not None:
            raise ValueError(f"input {self.name!r}: a required input has no default")
        if self.secret and self.default:
            raise ValueError(f"input {self.name!r}: a secret has no default value")
        if self.type == "boolean" and self.default not in (None, "true", "false"):
            raise ValueError(f"input {self.name!r}: boolean default must be 'true' or 'false'")
        if self.options and self.default not in (None, "", *self.options):
            raise ValueError(f"input {self.name!r}: default {self.default!r} not in options")
        if self.kind == "url" and not self.schemes:
            raise ValueError(f"input {self.name!r}: a url input names its allowed schemes")

    @property
    def env_name(self) -> str:
        """The suffix of `INPUT_<NAME>` and `MODELSHIP_<NAME>`."""
        return self.name.upper().replace("-", "_")

    @property
    def flag(self) -> str:
        return f"--{self.name}"


@dataclass(frozen=True)
class Output:
    name: str
    description: str

    def __post_init__(self) -> None:
        if not _KEBAB.match(self.name):
            raise ValueError(f"output name {self.name!r} is not kebab-case")


Runner = Callable[["StageContext[Any]"], "Result"]


@dataclass(frozen=True)
class Stage:
    """A pipeline stage.

    `run` is a dotted `module:function` path, imported only when the stage runs,
    so that declaring a stage never imports MLflow, pandas or Kubernetes.
    `extras` names the pip extras the stage needs (installed by the action).
    """

    name: str
    title: str
    description: str
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    run: str
    extras: tuple[str, ...] = ()
    # GitLab stage the template's job goes to by default.
    gitlab_stage: str = "test"
    # An example step for the action README; YAML lines under `with:`.
    example_with: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [i.name for i in self.inputs]
        if len(names) != len(set(names)):
            raise ValueError(f"stage {self.name}: duplicate input names")
        outs = [o.name for o in self.outputs]
        if len(outs) != len(set(outs)):
            raise ValueError(f"stage {self.name}: duplicate output names")

    def input(self, name: str) -> Input:
        for item in self.inputs:
            if item.name == name:
                return item
        raise KeyError(name)

    def load_runner(self) -> Runner:
        import importlib

        module_name, _, func = self.run.partition(":")
        module = importlib.import_module(module_name)
        runner: Runner = getattr(module, func)
        return runner
