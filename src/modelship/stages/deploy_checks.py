"""Deploy's own input checks, all made before a file is written or a server contacted.

The declaration's patterns say what a value looks like; these say what the
API server, the kernel or common sense will accept (a port up to 65535, a
timeout above zero, a namespace that is a DNS-1123 label), so a bad value
ends the run with one `error:` line and an untouched cluster.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Callable
from typing import NoReturn

from modelship.ci.context import StageContext
from modelship.ci.errors import UsageError
from modelship.kube import names
from modelship.stages.input_names import DeployInput

# A rollout or a server start that may take longer than a day is a typo.
MAX_TIMEOUT_SECONDS = 24 * 3600.0
MAX_SMOKE_REQUESTS = 1000
_IMAGE_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]*")
# C0 and C1 controls, DEL, and the separators that start a new line in some readers.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_IDENTIFIERS: tuple[DeployInput, ...] = (
    "model-name",
    "model-uri",
    "model-version",
    "run-id",
    "kube-context",
)


def check(ctx: StageContext[DeployInput], parse_duration: Callable[[str], float]) -> None:
    """Refuse any input the deploy could not carry out, naming it."""
    inputs = ctx.inputs
    for name in _IDENTIFIERS:
        if _LINE_BREAKING.search(inputs.text(name)):
            _refuse(name, "holds a line break or a control character")
    durations: tuple[DeployInput, ...] = ("timeout", "progress-deadline")
    for name in durations:
        seconds = parse_duration(inputs.text(name))
        if not math.isfinite(seconds) or seconds <= 0:
            _refuse(name, f"must be a positive duration; got {inputs.text(name)!r}")
        if seconds > MAX_TIMEOUT_SECONDS:
            _refuse(name, f"must be at most 24h; got {inputs.text(name)!r}")
    budget = inputs.number("latency-budget-ms")
    if budget is not None and budget <= 0:
        _refuse("latency-budget-ms", f"must be above 0; got {budget:g}")
    _bounded(ctx, "smoke-requests", 1, MAX_SMOKE_REQUESTS)
    _smoke_url(inputs.text("smoke-url"))
    if inputs.text("port"):
        _why("port", names.port_number(inputs.integer("port")))
    if inputs.text("target") == "kubernetes":
        _kubernetes(ctx)


def _kubernetes(ctx: StageContext[DeployInput]) -> None:
    inputs = ctx.inputs
    image = inputs.text("image")
    if image and (len(image) > 512 or not _IMAGE_REFERENCE.fullmatch(image)):
        _refuse("image", f"{names.shown(image[:80])} is not an image reference")
    _why("namespace", names.dns1123_label(inputs.text("namespace")))
    if inputs.text("name"):
        _why("name", names.dns1035_label(inputs.text("name")))
    _bounded(ctx, "replicas", 0, names.INT32_MAX)
    _why("container-port", names.port_number(inputs.integer("container-port")))
    if inputs.text("autoscale-max"):
        _bounded(ctx, "autoscale-max", 1, names.INT32_MAX)
    _bounded(ctx, "autoscale-cpu", 1, 1000)
    if inputs.text("strategy") == "canary":
        _bounded(ctx, "canary-weight", 1, 99)
    for item in inputs.items("resources"):
        _key, _sep, value = item.partition("=")
        if value.strip():
            _why("resources", names.quantity(value.strip()))


def _smoke_url(url: str) -> None:
    if not url:
        return
    if _LINE_BREAKING.search(url) or any(c.isspace() for c in url):
        _refuse("smoke-url", "holds a space, a line break or a control character")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        _refuse("smoke-url", "is not a valid URL (its port must be 1-65535)")
    if parts.scheme not in ("http", "https"):
        _refuse("smoke-url", "must start with http:// or https://")
    if not parts.hostname:
        _refuse("smoke-url", "names no host")
    if port is not None and names.port_number(port):
        _refuse("smoke-url", "has a port outside 1-65535")


def _bounded(ctx: StageContext[DeployInput], name: DeployInput, lowest: int, highest: int) -> None:
    value = ctx.inputs.integer(name)
    if value is not None and not lowest <= value <= highest:
        _refuse(name, f"must be between {lowest} and {highest}; got {value}")


def _why(name: str, problem: str | None) -> None:
    if problem:
        raise UsageError(f"input '{name}': {problem}", "nothing was changed")


def _refuse(name: str, problem: str) -> NoReturn:
    raise UsageError(f"input '{name}' {problem}", "nothing was changed")
