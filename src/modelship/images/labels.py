"""OCI image labels and modelship lineage labels.

The OCI annotation keys (`org.opencontainers.image.*`) are what registries,
scanners and `docker inspect` users look for; the `io.modelship.*` keys carry
the lineage record (run, model version, data version) so `modelship lineage`
can read it back from an image.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from modelship.ci.errors import UsageError

OCI = "org.opencontainers.image"
LINEAGE = "io.modelship"

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


@dataclass(frozen=True)
class LabelFacts:
    source: str = ""
    revision: str = ""
    version: str = ""
    title: str = ""
    created: datetime | None = None
    run_id: str = ""
    model_name: str = ""
    model_version: str = ""
    model_uri: str = ""
    data_version: str = ""
    branch: str = ""
    ci_run_url: str = ""


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_labels(facts: LabelFacts, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """All labels of the image; empty values are left out, extra labels win."""
    created = facts.created or datetime.now(timezone.utc)
    labels = {
        f"{OCI}.title": facts.title,
        f"{OCI}.source": facts.source,
        f"{OCI}.revision": facts.revision,
        f"{OCI}.version": facts.version,
        f"{OCI}.created": rfc3339(created),
        f"{LINEAGE}.run-id": facts.run_id,
        f"{LINEAGE}.model-name": facts.model_name,
        f"{LINEAGE}.model-version": facts.model_version,
        f"{LINEAGE}.model-uri": facts.model_uri,
        f"{LINEAGE}.data-version": facts.data_version,
        f"{LINEAGE}.git-sha": facts.revision,
        f"{LINEAGE}.branch": facts.branch,
        f"{LINEAGE}.ci-run-url": facts.ci_run_url,
    }
    result = {key: value for key, value in labels.items() if value}
    for key, value in (extra or {}).items():
        check_label(key, value)
        result[key] = value
    return result


def check_label(key: str, value: str) -> None:
    if not _KEY.match(key):
        raise UsageError(
            f"label key {key[:60]!r} is not valid",
            "use reverse-DNS keys of letters, digits, '.', '-', '_' and '/'",
        )
    if "\n" in value or "\r" in value or "\0" in value:
        raise UsageError(f"label {key} has a line break; a label value is one line")


def containerfile_value(value: str) -> str:
    """A double-quoted Containerfile word that the parser reads back unchanged.

    Inside double quotes the Dockerfile parser unescapes `\\"` and `\\\\`, and
    expands `$VAR`; `\\$` keeps a dollar sign literal.
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def label_instruction(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    lines = [f"{containerfile_value(k)}={containerfile_value(v)}" for k, v in labels.items()]
    return "LABEL " + " \\\n      ".join(lines) + "\n"
