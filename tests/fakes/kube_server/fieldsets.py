"""Server-side apply: field ownership (`metadata.managedFields`, FieldsV1) and conflicts.

A field path is a tuple of FieldsV1 elements: `f:name` (struct/map field),
`k:{"name":"model"}` (associative list item), `v:"x"` (set member), `i:0`.
Apply owns the fields of the applied configuration; Update operations own the
fields they changed. This is a faithful subset of structured-merge-diff.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from . import schema

Path = tuple[str, ...]

# Never tracked: identity and server-owned bookkeeping.
_IGNORED: set[Path] = {
    ("f:apiVersion",),
    ("f:kind",),
    ("f:metadata", "f:name"),
    ("f:metadata", "f:namespace"),
    ("f:metadata", "f:uid"),
    ("f:metadata", "f:resourceVersion"),
    ("f:metadata", "f:generation"),
    ("f:metadata", "f:creationTimestamp"),
    ("f:metadata", "f:deletionTimestamp"),
    ("f:metadata", "f:deletionGracePeriodSeconds"),
    ("f:metadata", "f:managedFields"),
    ("f:metadata", "f:selfLink"),
    ("f:metadata", "f:generateName"),
}


# Key fields the schema defaults; SMD fills them in before matching list items.
KEY_DEFAULTS = {"protocol": "TCP"}


def key_of(item: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {k: item.get(k, KEY_DEFAULTS.get(k)) for k in sorted(keys)}


def _key_elem(item: dict[str, Any], keys: list[str]) -> str:
    return "k:" + json.dumps(key_of(item, keys), separators=(",", ":"))


def _item_matches(item: Any, want: dict[str, Any]) -> bool:
    return isinstance(item, dict) and all(
        item.get(k, KEY_DEFAULTS.get(k)) == v for k, v in want.items()
    )


def compute(obj: Any, node: schema.Node | None, *, skip_status: bool = True) -> set[Path]:
    out: set[Path] = set()
    _collect(obj, node, (), out)
    return {
        p
        for p in out
        if not any(p[: len(ig)] == ig for ig in _IGNORED)
        and not (skip_status and p[:1] == ("f:status",))
    }


def _collect(value: Any, node: schema.Node | None, prefix: Path, out: set[Path]) -> None:
    if isinstance(value, dict):
        if prefix and (
            not value
            or schema.map_is_atomic(node)
            or (
                node is not None and "properties" not in node and "additionalProperties" not in node
            )
        ):
            out.add(prefix)
            return
        for key, sub in value.items():
            known, sub_node = schema.child(node, key)
            if not known:
                continue
            _collect(sub, sub_node, (*prefix, f"f:{key}"), out)
        return
    if isinstance(value, list):
        kind, keys = schema.list_type(node)
        if kind == "map" and keys and all(isinstance(i, dict) for i in value):
            item_node = schema.items(node)
            for item in value:
                p = (*prefix, _key_elem(item, keys))
                out.add(p)
                _collect(item, item_node, p, out)
            return
        if kind == "set" and value and not any(isinstance(i, (dict, list)) for i in value):
            for item in value:
                out.add((*prefix, "v:" + json.dumps(item, separators=(",", ":"))))
            return
        out.add(prefix)
        return
    out.add(prefix)


_MISSING = object()


def get_at(obj: Any, path: Path) -> Any:
    cur = obj
    for elem in path:
        kind, _, rest = elem.partition(":")
        if kind == "f":
            if not isinstance(cur, dict) or rest not in cur:
                return _MISSING
            cur = cur[rest]
        elif kind == "k":
            want = json.loads(rest)
            if not isinstance(cur, list):
                return _MISSING
            cur = next((i for i in cur if _item_matches(i, want)), _MISSING)
            if cur is _MISSING:
                return _MISSING
        elif kind == "v":
            want = json.loads(rest)
            if not isinstance(cur, list) or want not in cur:
                return _MISSING
            cur = want
        elif kind == "i":
            if not isinstance(cur, list) or int(rest) >= len(cur):
                return _MISSING
            cur = cur[int(rest)]
    return cur


def remove_at(obj: Any, path: Path) -> None:
    parent = get_at(obj, path[:-1])
    if parent is _MISSING:
        return
    kind, _, rest = path[-1].partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(rest, None)
    elif kind == "k" and isinstance(parent, list):
        want = json.loads(rest)
        parent[:] = [i for i in parent if not _item_matches(i, want)]
    elif kind == "v" and isinstance(parent, list):
        want = json.loads(rest)
        parent[:] = [i for i in parent if i != want]


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for elem in path:
            node = node.setdefault(elem, {})
        node[""] = True
    return _render(tree)


def _render(node: dict[str, Any]) -> dict[str, Any]:
    children = {k: v for k, v in node.items() if k != ""}
    out: dict[str, Any] = {}
    if node.get("") and children:
        out["."] = {}
    for key in sorted(children):
        out[key] = _render(children[key])
    return out


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in (tree or {}).items():
        if key == ".":
            out.add(prefix)
        elif not sub:
            out.add((*prefix, key))
        else:
            out |= from_fields_v1(sub, (*prefix, key))
    return out


def display(path: Path) -> str:
    """`.spec.template.spec.containers[name="model"].image`, as conflict messages show it."""
    text = ""
    for elem in path:
        kind, _, rest = elem.partition(":")
        if kind == "f":
            text += "." + rest
        elif kind == "k":
            text += (
                "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(rest).items()) + "]"
            )
        elif kind == "v":
            text += f"[={rest}]"
        else:
            text += f"[{rest}]"
    return text


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    fields: set[Path] = field(default_factory=set)
    subresource: str = ""

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.fields),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def read_entries(obj: dict[str, Any]) -> list[Entry]:
    out = []
    for raw in obj.get("metadata", {}).get("managedFields") or []:
        if not raw.get("manager") and not raw.get("operation"):
            continue
        out.append(
            Entry(
                manager=raw.get("manager", ""),
                operation=raw.get("operation", "Update"),
                api_version=raw.get("apiVersion", ""),
                time=raw.get("time", ""),
                fields=from_fields_v1(raw.get("fieldsV1") or {}),
                subresource=raw.get("subresource", ""),
            )
        )
    return out


def write_entries(obj: dict[str, Any], entries: list[Entry]) -> None:
    kept = [e.to_json() for e in entries if e.fields]
    if kept:
        obj.setdefault("metadata", {})["managedFields"] = kept
    else:
        obj.get("metadata", {}).pop("managedFields", None)


def _leafish(paths: set[Path]) -> set[Path]:
    """Paths that carry a value (not just the presence of a list item)."""
    return {p for p in paths if not p[-1].startswith(("k:", "v:"))}


@dataclass
class Conflict:
    manager: str
    api_version: str
    path: Path


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    node: schema.Node | None,
    *,
    manager: str,
    api_version: str,
    force: bool,
    now: str,
) -> tuple[dict[str, Any], list[Conflict]]:
    """Server-side apply `config` onto `live`; returns (new object, conflicts)."""
    base = copy.deepcopy(live) if live else {}
    entries = read_entries(base)
    mine = ("Apply", "")
    cfg_fields = compute(config, node)
    conflicts: list[Conflict] = []
    for entry in entries:
        if entry.manager == manager and (entry.operation, entry.subresource) == mine:
            continue
        for p in sorted(_leafish(cfg_fields & entry.fields)):
            if get_at(base, p) != get_at(config, p):
                conflicts.append(Conflict(entry.manager, entry.api_version, p))
    if conflicts and not force:
        return base, conflicts
    for c in conflicts:
        for entry in entries:
            if entry.manager == c.manager:
                entry.fields.discard(c.path)
    previous = next(
        (e for e in entries if e.manager == manager and (e.operation, e.subresource) == mine), None
    )
    if previous is not None:
        others: set[Path] = set()
        for e in entries:
            if e is not previous:
                others |= e.fields
        for p in sorted(previous.fields - cfg_fields, key=len, reverse=True):
            owned_below = any(o[: len(p)] == p for o in others)
            if not owned_below:
                remove_at(base, p)
        previous.fields = set(cfg_fields)
        previous.time = now
        previous.api_version = api_version
    else:
        entries.append(Entry(manager, "Apply", api_version, now, set(cfg_fields)))
    merged = merge_applied(base, config, node)
    write_entries(merged, entries)
    return merged, []


def merge_applied(live: Any, config: Any, node: schema.Node | None) -> Any:
    if isinstance(live, dict) and isinstance(config, dict) and not schema.map_is_atomic(node):
        out = dict(live)
        for key, value in config.items():
            _, sub = schema.child(node, key)
            out[key] = (
                merge_applied(live.get(key), value, sub) if key in live else copy.deepcopy(value)
            )
        return out
    if isinstance(live, list) and isinstance(config, list):
        kind, keys = schema.list_type(node)
        if kind == "map" and keys:
            item_node = schema.items(node)
            out_list = [copy.deepcopy(i) for i in live]
            for item in config:
                if not isinstance(item, dict):
                    continue
                want = key_of(item, keys)
                idx = next((n for n, cur in enumerate(out_list) if _item_matches(cur, want)), None)
                if idx is None:
                    out_list.append(copy.deepcopy(item))
                else:
                    out_list[idx] = merge_applied(out_list[idx], item, item_node)
            return out_list
        if kind == "set":
            out_list = [copy.deepcopy(i) for i in config]
            out_list += [i for i in live if i not in config]
            return out_list
    return copy.deepcopy(config)


def track_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    node: schema.Node | None,
    *,
    manager: str,
    api_version: str,
    now: str,
    subresource: str = "",
) -> None:
    """Record in `new` the fields an Update operation by `manager` set or changed."""
    skip_status = subresource != "status"
    old_fields = compute(old, node, skip_status=skip_status) if old else set()
    new_fields = compute(new, node, skip_status=skip_status)
    changed = {p for p in new_fields if p not in old_fields or get_at(old, p) != get_at(new, p)}
    removed = old_fields - new_fields
    entries = read_entries(old) if old else []
    if not changed and not removed:
        write_entries(new, entries)
        return
    target = None
    for e in entries:
        e.fields -= removed
        if (e.manager, e.operation, e.subresource) == (manager, "Update", subresource):
            target = e
        else:
            e.fields -= changed
    if changed:
        if target is None:
            target = Entry(manager, "Update", api_version, now, set(), subresource)
            entries.append(target)
        target.fields |= changed
        target.time = now
    write_entries(new, entries)
