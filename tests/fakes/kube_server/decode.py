"""What the real decoder does with a request body: drop unknown fields, refuse wrong types."""

from __future__ import annotations

from typing import Any

from . import schema
from .errors import ApiError

_GO_TYPES = {"integer": "int64", "number": "float64", "string": "string", "boolean": "bool"}


def check(kind: str, obj: Any, node: schema.Node | None) -> list[str]:
    """Remove unknown fields from `obj` in place; return their paths. Raises on type errors."""
    unknown: list[str] = []
    _walk(kind, obj, node, "", unknown)
    return unknown


def _type_error(kind: str, path: str, value: Any, want: set[str]) -> ApiError:
    got = {dict: "object", list: "array", str: "string", bool: "bool"}.get(type(value), "number")
    go = "/".join(sorted(_GO_TYPES.get(w, w) for w in want if w != "null")) or "value"
    return ApiError(
        400,
        "BadRequest",
        f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal {got} '
        f"into Go struct field {path.lstrip('.')} of type {go}",
    )


def _walk(kind: str, value: Any, node: schema.Node | None, path: str, unknown: list[str]) -> None:
    if node is None or value is None:
        return
    types = schema.types_of(node)
    if isinstance(value, dict):
        if types and "object" not in types:
            raise _type_error(kind, path, value, types)
        props = node.get("properties")
        extra = node.get("additionalProperties")
        if props is None and not isinstance(extra, dict):
            return  # free-form
        for key in list(value):
            if value[key] is None:  # a null decodes to the zero value, which is omitted
                del value[key]
                continue
            if props is not None:
                if key not in props:
                    unknown.append(f"{path}.{key}".lstrip("."))
                    del value[key]
                    continue
                sub = schema.resolve(props[key])
            else:
                sub = schema.resolve(extra) if isinstance(extra, dict) else None
            _walk(kind, value[key], sub, f"{path}.{key}", unknown)
        return
    if isinstance(value, list):
        if types and "array" not in types:
            raise _type_error(kind, path, value, types)
        item = schema.items(node)
        for i, v in enumerate(value):
            _walk(kind, v, item, f"{path}[{i}]", unknown)
        return
    if not types:
        return
    if isinstance(value, bool):
        ok = "boolean" in types
    elif isinstance(value, int):
        ok = bool(types & {"integer", "number"})
    elif isinstance(value, float):
        ok = "number" in types or ("integer" in types and value.is_integer())
    else:
        ok = "string" in types
    if not ok:
        raise _type_error(kind, path, value, types)


_ZERO: dict[str, Any] = {"integer": 0, "number": 0, "boolean": False, "string": ""}


def fill_required(value: Any, node: schema.Node | None) -> None:
    """Give required scalars their zero value, as Go's encoder prints non-omitempty fields.

    Only used on `status`, which servers write; clients (the pydantic-based Python
    client among them) expect e.g. an HPA's `desiredReplicas` to be there.
    """
    if node is None:
        return
    if isinstance(value, dict):
        props = node.get("properties") or {}
        for key in node.get("required") or []:
            if key not in value and key in props:
                sub = schema.resolve(props[key]) or {}
                zero = next((_ZERO[t] for t in schema.types_of(sub) if t in _ZERO), None)
                if zero is not None:
                    value[key] = zero
        for key, sub_value in value.items():
            if key in props:
                fill_required(sub_value, schema.resolve(props[key]))
    elif isinstance(value, list):
        item = schema.items(node)
        for v in value:
            fill_required(v, item)
