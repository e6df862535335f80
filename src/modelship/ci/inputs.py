"""Reading stage inputs: CLI flag > INPUT_<NAME> > MODELSHIP_<NAME> > default.

The rules follow @actions/core: strings are trimmed, booleans accept only
true/false in any case. Allowed values and patterns are enforced here, once,
so every stage gets the same clear message naming the input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from modelship.ci.errors import UsageError
from modelship.spec import Input, Stage


def env_candidates(item: Input) -> tuple[str, ...]:
    """Environment names that carry an input, most specific first.

    `INPUT_BRANCH-ENVIRONMENTS` is what the Actions runner sets for JavaScript
    actions; composite actions and GitLab jobs use the underscore form.
    """
    upper = item.name.upper()
    names = [f"INPUT_{item.env_name}"]
    if upper != item.env_name:
        names.append(f"INPUT_{upper}")
    names.append(f"MODELSHIP_{item.env_name}")
    return tuple(names)


@dataclass(frozen=True)
class RawValue:
    value: str | None
    source: str  # "flag", an env var name, or "default"


def resolve_raw(item: Input, flags: Mapping[str, str | None], env: Mapping[str, str]) -> RawValue:
    flag_value = flags.get(item.name)
    if flag_value is not None:
        return RawValue(flag_value.strip(), item.flag)
    for name in env_candidates(item):
        value = env.get(name)
        # An empty INPUT_ is what a composite action passes for an input the
        # user did not set; it must not hide MODELSHIP_ or the default.
        if value is not None and value.strip() != "":
            return RawValue(value.strip(), name)
    return RawValue(item.default, "default")


Name = TypeVar("Name", bound=str)


class Inputs(Generic[Name]):
    """Validated, typed input values of one stage run.

    A stage reads them as `Inputs[<its input names>]`, a `Literal` generated
    from its declaration (`modelship.stages.input_names`), so a misspelt input
    name is a type error, not a `KeyError` at run time.
    """

    def __init__(self, stage: Stage, raw: Mapping[str, RawValue]) -> None:
        self._stage = stage
        self._raw = dict(raw)

    @classmethod
    def read(
        cls,
        stage: Stage,
        flags: Mapping[str, str | None],
        env: Mapping[str, str],
        cwd: Path | None = None,
    ) -> Inputs[Any]:
        raw = {item.name: resolve_raw(item, flags, env) for item in stage.inputs}
        inputs = cls(stage, raw)
        inputs.validate(cwd)
        return inputs

    def validate(self, cwd: Path | None = None) -> None:
        """Check every input against its declaration; relative files against `cwd`."""
        from modelship.ci.kinds import check_kind

        for item in self._stage.inputs:
            raw = self._raw[item.name]
            value = raw.value
            if value is None or value == "":
                if item.required:
                    raise UsageError(
                        f"input '{item.name}' is required",
                        f"pass {item.flag} or set INPUT_{item.env_name}",
                    )
                continue
            where = "" if raw.source == "default" else f" (from {raw.source})"
            if item.type == "boolean":
                parse_bool(item.name, value, where)
            elif item.type == "number":
                number = parse_number(item.name, value, where)
                if item.kind is None:
                    from modelship.ci.kinds import check_range

                    check_range(item, number, where)
            if item.options and value not in item.options:
                raise UsageError(
                    f"input '{item.name}'{where} must be one of "
                    f"{', '.join(item.options)}; got {_show(value, item)}"
                )
            if item.pattern and item.type != "list" and not re.fullmatch(item.pattern, value):
                raise UsageError(
                    f"input '{item.name}'{where} must match {item.pattern}; "
                    f"got {_show(value, item)}"
                )
            if item.pattern and item.type == "list":
                for entry in split_list(value):
                    if not re.fullmatch(item.pattern, entry):
                        raise UsageError(
                            f"input '{item.name}'{where}: entry {_show(entry, item)} "
                            f"must match {item.pattern}"
                        )
            if item.kind is not None:
                check_kind(item, value, where, cwd)

    def given(self, name: Name) -> bool:
        """True when the user set the input (not only its default)."""
        return self._raw[name].source != "default" and bool(self._raw[name].value)

    def source(self, name: Name) -> str:
        return self._raw[name].source

    def text(self, name: Name, default: str = "") -> str:
        value = self._raw[name].value
        return default if value is None else value

    def optional(self, name: Name) -> str | None:
        value = self._raw[name].value
        return value if value else None

    def flag(self, name: Name) -> bool:
        value = self._raw[name].value
        return parse_bool(name, value or "false", "")

    def number(self, name: Name) -> float | None:
        value = self._raw[name].value
        return parse_number(name, value, "") if value else None

    def integer(self, name: Name) -> int | None:
        number = self.number(name)
        if number is None:
            return None
        if number != int(number):
            raise UsageError(f"input '{name}' must be a whole number; got {number}")
        return int(number)

    def items(self, name: Name) -> list[str]:
        return split_list(self._raw[name].value or "")

    def path(self, name: Name, workspace: Path, cwd: Path | None = None) -> Path | None:
        """The input as a path: relative to `cwd` (default: the workspace), confined."""
        value = self._raw[name].value
        if not value:
            return None
        from modelship.ci.paths import confine

        candidate = Path(value)
        if not candidate.is_absolute() and cwd is not None:
            candidate = cwd / candidate
        return confine(candidate, workspace, what=f"input '{name}'")

    def secrets(self) -> list[str]:
        return [
            self._raw[item.name].value or ""
            for item in self._stage.inputs
            if item.secret and self._raw[item.name].value
        ]

    def as_dict(self) -> dict[str, str]:
        """Input values for reports: secrets are replaced, never shown."""
        shown: dict[str, str] = {}
        for item in self._stage.inputs:
            value = self._raw[item.name].value
            if value is None:
                continue
            shown[item.name] = "***" if item.secret else value
        return shown


def parse_bool(name: str, value: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise UsageError(
        f"input '{name}'{where} must be true or false; got {value[:40]!r}",
        "booleans follow the YAML 1.2 core schema: only true/false, any case",
    )


def parse_number(name: str, value: str | None, where: str) -> float:
    try:
        number = float(value or "")
    except ValueError:
        raise UsageError(
            f"input '{name}'{where} must be a number; got {(value or '')[:40]!r}"
        ) from None
    if not math.isfinite(number):
        raise UsageError(
            f"input '{name}'{where} must be a finite number; got {(value or '')[:40]!r}"
        )
    return number


def split_list(value: str) -> list[str]:
    """Lists are one entry per line or comma-separated; blanks and `#` comments drop."""
    entries: list[str] = []
    for line in value.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        entries.extend(part.strip() for part in stripped.split(",") if part.strip())
    return entries


def parse_key_values(name: str, value: str) -> dict[str, str]:
    """`key=value` lines (as in `params` or `labels`), order kept."""
    pairs: dict[str, str] = {}
    for number, line in enumerate(value.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, val = stripped.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"input '{name}' line {number}: expected key=value; got {stripped[:60]!r}"
            )
        pairs[key.strip()] = val.strip()
    return pairs


def _show(value: str, item: Input) -> str:
    if item.secret:
        return "(hidden)"
    from modelship.ci.redact import redact_urls_in_text

    value = redact_urls_in_text(value)
    return repr(value if len(value) <= 60 else value[:57] + "...")
