"""Reading JUnit XML reports: counts and the failing cases."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from modelship.ci.errors import UsageError

_LOCATION = re.compile(r"^([^\s:]+\.py):(\d+):", re.MULTILINE)


@dataclass(frozen=True)
class Failure:
    name: str
    message: str
    file: str | None
    line: int | None
    detail: str


@dataclass
class JUnitResult:
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    failed: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return self.tests - self.failures - self.errors - self.skipped


def parse_junit(path: Path, root: Path) -> JUnitResult:
    try:
        tree = ET.parse(path)  # noqa: S314
    except (OSError, ET.ParseError) as err:
        raise UsageError(f"cannot read the JUnit report {path}: {err}") from None
    result = JUnitResult()
    for case in tree.iter("testcase"):
        result.tests += 1
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
            if problem is not None:
                result.errors += 1
        else:
            result.failures += 1
        if case.find("skipped") is not None and problem is None:
            result.skipped += 1
        if problem is None:
            continue
        classname = case.get("classname", "")
        name = f"{classname}::{case.get('name', '?')}" if classname else case.get("name", "?")
        detail = (problem.text or "").strip()
        file, line = _location(case, detail, root)
        message = (problem.get("message") or detail.splitlines()[-1:] or ["failed"])[0]
        result.failed.append(Failure(name, message[:500], file, line, detail))
    return result


def _location(case: ET.Element, detail: str, root: Path) -> tuple[str | None, int | None]:
    """Where to annotate: the case's own file/line, else the deepest test-file frame."""
    if case.get("file"):
        line = case.get("line")
        return case.get("file"), int(line) + 1 if line and line.isdigit() else None
    matches = _LOCATION.findall(detail)
    if matches:
        file, line = matches[-1]
        return file, int(line)
    classname = case.get("classname", "")
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        candidate = "/".join(parts[:end]) + ".py"
        if (root / candidate).is_file():
            return candidate, None
    return None, None
