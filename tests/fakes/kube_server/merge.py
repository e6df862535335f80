"""Patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

Strategic merge follows the schema's `x-kubernetes-patch-strategy` and
`x-kubernetes-patch-merge-key`, with the `$patch`, `$retainKeys`,
`$setElementOrder/` and `$deleteFromPrimitiveList/` directives kubectl sends.
"""

from __future__ import annotations

import copy
from typing import Any

from . import schema
from .errors import ApiError


def json_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for part in parts:
        if isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError) as err:
                raise ApiError(422, "Invalid", f"no such index {part!r}") from err
        elif isinstance(cur, dict):
            if part not in cur:
                raise ApiError(422, "Invalid", f"doc is missing path: {part!r}")
            cur = cur[part]
        else:
            raise ApiError(422, "Invalid", f"cannot descend into {part!r}")
    return cur


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        parts = _pointer(op.get("path", ""))
        if kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise ApiError(422, "Invalid", f"testing value {op.get('path')} failed")
            continue
        if kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, src))
            if kind == "move":
                doc = _remove(doc, src)
            doc = _add(doc, parts, value, replace=False)
        elif kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), replace=False)
        elif kind == "replace":
            _walk(doc, parts)  # must exist
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "remove":
            doc = _remove(doc, parts)
        else:
            raise ApiError(422, "Invalid", f"unexpected json patch operation {kind!r}")
    return doc


def _add(doc: Any, parts: list[str], value: Any, *, replace: bool) -> Any:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            idx = int(last)
            if replace:
                parent[idx] = value
            else:
                parent.insert(idx, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ApiError(422, "Invalid", f"cannot add at {'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        del parent[int(last)]
    elif isinstance(parent, dict):
        if last not in parent:
            raise ApiError(422, "Invalid", f"unable to remove nonexistent key: {last}")
        del parent[last]
    return doc


# -- strategic merge patch -------------------------------------------------------------

_DELETE = object()


def strategic_merge(original: Any, patch: Any, node: schema.Node | None) -> Any:
    result = _smp_map(original if isinstance(original, dict) else {}, patch, node)
    return {} if result is _DELETE else result


def _smp_map(orig: dict[str, Any], patch: dict[str, Any], node: schema.Node | None) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _smp_map({}, {k: v for k, v in patch.items() if k != "$patch"}, node)
    result = copy.deepcopy(orig)
    orders: dict[str, list[Any]] = {}
    for key, pval in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = pval
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in (pval or [])]
            continue
        _, sub = schema.child(node, key)
        if pval is None:
            result.pop(key, None)
            continue
        cur = result.get(key)
        if isinstance(pval, dict) and not _is_free_form(sub):
            merged = _smp_map(cur if isinstance(cur, dict) else {}, pval, sub)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(pval, list):
            result[key] = _smp_list(cur if isinstance(cur, list) else [], pval, sub)
        else:
            result[key] = copy.deepcopy(pval)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for key in list(result):
            if key not in retain:
                del result[key]
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            _, sub = schema.child(node, field)
            result[field] = _reorder(result[field], order, schema.patch_strategy(sub)[1])
    return result


def _is_free_form(node: schema.Node | None) -> bool:
    return node is not None and "properties" not in node and "additionalProperties" not in node


def _smp_list(orig: list[Any], patch: list[Any], node: schema.Node | None) -> list[Any]:
    strategies, merge_key = schema.patch_strategy(node)
    item_node = schema.items(node)
    if "merge" not in strategies:
        return [
            _smp_map({}, p, item_node) if isinstance(p, dict) else copy.deepcopy(p)
            for p in patch
            if not (isinstance(p, dict) and p.get("$patch") == "delete")
        ]
    if merge_key is None:  # a set of scalars: union
        out = copy.deepcopy(orig)
        for p in patch:
            if isinstance(p, dict) and p.get("$patch") == "replace":
                return [q for q in patch if not isinstance(q, dict)]
            if p not in out:
                out.append(copy.deepcopy(p))
        return out
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [
            _smp_map({}, p, item_node)
            for p in patch
            if isinstance(p, dict) and p.get("$patch") != "replace"
        ]
    out = copy.deepcopy(orig)
    for p in patch:
        if not isinstance(p, dict):
            continue
        keyval = p.get(merge_key)
        idx = next(
            (i for i, o in enumerate(out) if isinstance(o, dict) and o.get(merge_key) == keyval),
            None,
        )
        if p.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append(_smp_map({}, p, item_node))
        else:
            out[idx] = _smp_map(out[idx], p, item_node)
    return out


def _reorder(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    def ident(v: Any) -> Any:
        if merge_key and isinstance(v, dict):
            return repr(v.get(merge_key))
        return repr(v)

    rank = {ident(v): i for i, v in enumerate(order)}
    indexed = list(enumerate(items))
    indexed.sort(key=lambda iv: rank.get(ident(iv[1]), len(rank) + iv[0]))
    return [v for _, v in indexed]
