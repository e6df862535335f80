"""What an input's value means, checked from its declaration before the stage runs.

Each check raises one `UsageError` naming the input, so a bad URL, port,
timeout or Kubernetes name is refused before MLflow, a cluster, a registry or
a webhook is contacted.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from modelship.ci.errors import UsageError
from modelship.ci.redact import redact_url
from modelship.spec import HOSTLESS_SCHEMES, TRACKING_SCHEMES, Input

# DNS-1123: a label (namespaces, Services) and a subdomain (most object names).
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def check_kind(item: Input, value: str, where: str, cwd: Path | None) -> None:
    """Refuse `value` unless it is what `item.kind` (and its range) says."""
    if item.kind == "url":
        check_url(item, value, where, item.schemes)
    elif item.kind == "tracking-uri":
        check_url(item, value, where, TRACKING_SCHEMES)
    elif item.kind == "integer":
        check_range(item, _whole(item, value, where), where)
    elif item.kind == "duration":
        check_range(item, duration_seconds(item.name, value, where), where, positive=True)
    elif item.kind == "k8s-namespace":
        _dns(item, value, where, DNS1123_LABEL, 63, "a DNS-1123 label")
    elif item.kind == "k8s-name":
        _dns(item, value, where, DNS1123_SUBDOMAIN, 253, "a DNS-1123 subdomain")
    elif item.kind == "file":
        _not_a_directory(item, value, where, cwd)


def check_url(item: Input, value: str, where: str, schemes: tuple[str, ...]) -> None:
    shown = "(hidden)" if item.secret else repr(redact_url(value)[:80])
    if any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in value):
        raise UsageError(f"input '{item.name}'{where} must be a URL without blanks; got {shown}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as err:
        raise UsageError(
            f"input '{item.name}'{where} is not a valid URL ({err}); got {shown}"
        ) from None
    scheme = parts.scheme.lower().partition("+")[0]
    # No scheme (or a one-letter one: a Windows drive) is a path, as MLflow reads it.
    bare_path = len(parts.scheme) <= 1
    if bare_path and "" in schemes:
        return
    allowed = [s for s in schemes if s]
    if bare_path or scheme not in allowed:
        raise UsageError(
            f"input '{item.name}'{where} must be a URL with scheme "
            f"{', '.join(f'{s}://' for s in allowed)}; got {shown}"
        )
    if scheme not in HOSTLESS_SCHEMES and not parts.hostname:
        raise UsageError(f"input '{item.name}'{where} must name a host; got {shown}")


def _shown(number: float) -> str:
    """A bound as a user writes it: 4294967295, not 4.29497e+09."""
    return str(int(number)) if float(number).is_integer() and abs(number) < 1e16 else f"{number:g}"


def check_range(item: Input, number: float, where: str, positive: bool = False) -> None:
    got = _shown(number)
    if positive and number <= 0:
        raise UsageError(f"input '{item.name}'{where} must be above zero; got {got}")
    if item.minimum is not None and number < item.minimum:
        raise UsageError(
            f"input '{item.name}'{where} must be at least {_shown(item.minimum)}; got {got}"
        )
    if item.maximum is not None and number > item.maximum:
        raise UsageError(
            f"input '{item.name}'{where} must be at most {_shown(item.maximum)}; got {got}"
        )


def duration_seconds(name: str, value: str, where: str = "") -> float:
    """`90s`, `10m`, `1.5h`, `250ms` or a number of seconds, as seconds."""
    match = _DURATION.fullmatch(value.strip())
    if not match:
        raise UsageError(
            f"input '{name}'{where} must be a duration such as 90s, 10m or 1h; got {value[:40]!r}"
        )
    return float(match.group(1)) * _DURATION_UNITS[match.group(2) or ""]


def _whole(item: Input, value: str, where: str) -> float:
    from modelship.ci.inputs import parse_number

    number = parse_number(item.name, value, where)
    if number != int(number):
        raise UsageError(f"input '{item.name}'{where} must be a whole number; got {value[:40]!r}")
    return number


def _dns(
    item: Input, value: str, where: str, pattern: re.Pattern[str], limit: int, what: str
) -> None:
    if len(value) > limit or not pattern.fullmatch(value):
        raise UsageError(
            f"input '{item.name}'{where} must be {what} (lower-case letters, digits and '-', "
            f"at most {limit} characters); got {value[:70]!r}"
        )


def _not_a_directory(item: Input, value: str, where: str, cwd: Path | None) -> None:
    path = Path(value)
    if not path.is_absolute() and cwd is not None:
        path = cwd / path
    try:
        is_dir = path.is_dir()
    except (OSError, ValueError):  # a name too long or with a NUL is not a folder
        return
    if is_dir:
        raise UsageError(
            f"input '{item.name}'{where} names a directory, not a file: {value[:80]!r}"
        )
