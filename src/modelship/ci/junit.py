"""Reading JUnit XML reports: counts and the failing cases.

The report is written by the project's own test command, so it is untrusted
XML: it is parsed with defusedxml, which refuses entity declarations (the
"billion laughs" expansion and external entities that read local files or
reach the network) instead of expanding them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from modelship.ci.errors import UsageError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

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
        tree = SafeET.parse(path)
    except DefusedXmlException:
        raise UsageError(
            f"the JUnit report {path} declares XML entities or external references, "
            "which are refused",
            "a JUnit report needs no DTD entities; check what wrote it",
        ) from None
    except (OSError, SafeET.ParseError) as err:
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


def _location(case: Element, detail: str, root: Path) -> tuple[str | None, int | None]:
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
