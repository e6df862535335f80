"""The REST semantics of the verbs: create, get, list, update, patch, apply, delete."""

from __future__ import annotations

import base64
import copy
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import decode, defaults, errors, fieldsets, merge, schema
from .resources import BY_KEY, BY_KIND, Resource
from .selectors import parse_field_selector, parse_label_selector
from .store import Obj, Store

NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply",
}


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(NAME_ALPHABET) for _ in range(n))


def node_for(res: Resource) -> schema.Node | None:
    return schema.kind_schema(res.group, res.version, res.kind)


@dataclass
class Options:
    manager: str = ""
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    force: bool = False
    explicit_manager: bool = True
    warnings: list[str] = field(default_factory=list)


def strip_volatile(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    meta = out.get("metadata", {})
    meta.pop("resourceVersion", None)
    for entry in meta.get("managedFields") or []:
        entry.pop("time", None)
    return out


class Api:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._next_ip = 1

    # -- helpers ---------------------------------------------------------------------------

    def with_type(self, res: Resource, obj: Obj) -> Obj:
        out = {"kind": res.kind, "apiVersion": res.api_version}
        out.update({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})
        return out

    def require_namespace(self, res: Resource, ns: str, *, creating: bool) -> None:
        if not res.namespaced:
            return
        nsres = BY_KEY[("", "namespaces")]
        got = self.store.get(nsres, "", ns)
        if got is None:
            raise errors.namespace_not_found(ns)
        if creating and got.get("metadata", {}).get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                "Forbidden",
                f'{res.group_resource} "x" is forbidden: unable to create new content in namespace '
                f"{ns} because it is being terminated",
            )

    def _decode(self, res: Resource, obj: Obj, opts: Options, *, apply: bool = False) -> None:
        unknown = decode.check(res.kind, obj, node_for(res))
        if not unknown or opts.field_validation == "Ignore":
            return
        if opts.field_validation == "Strict":
            if apply:
                msg = "; ".join(f".{u}: field not declared in schema" for u in unknown)
                raise errors.bad_request(msg)
            texts = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise errors.bad_request(f"strict decoding error: {texts}")
        opts.warnings += [f'unknown field "{u}"' for u in unknown]

    def _check_identity(self, res: Resource, body: Any, ns: str) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the object provided is not a JSON object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != res.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({res.api_version})"
            )
        if kind and kind != res.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({res.kind})"
            )
        body = copy.deepcopy(body)
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        body["kind"], body["apiVersion"] = res.kind, res.api_version
        return body

    def _cluster_ip(self) -> str:
        self._next_ip += 1
        return f"10.96.{self._next_ip // 250}.{self._next_ip % 250 + 1}"

    def _finish(self, res: Resource, obj: Obj, old: Obj | None) -> None:
        if res.kind == "Service" and old is not None:
            spec, old_spec = obj.setdefault("spec", {}), old.get("spec", {})
            for key in ("clusterIP", "clusterIPs"):
                if not spec.get(key) and old_spec.get(key):
                    spec[key] = old_spec[key]
        ip = self._cluster_ip() if res.kind == "Service" and old is None else ""
        defaults.apply_defaults(res, obj, cluster_ip=ip)
        if isinstance(obj.get("status"), dict):
            _, status_node = schema.child(node_for(res), "status")
            decode.fill_required(obj["status"], status_node)
        causes = defaults.validate(res, obj, old)
        if causes:
            raise errors.invalid(res, obj["metadata"].get("name", ""), causes)

    def _bump_generation(self, res: Resource, old: Obj, new: Obj) -> None:
        if not res.has_generation:
            new["metadata"].pop("generation", None)
            return
        gen = old["metadata"].get("generation", 1)
        changed = old.get("spec") != new.get("spec")
        if res.kind == "Deployment":
            changed = changed or old["metadata"].get("annotations") != new["metadata"].get(
                "annotations"
            )
        new["metadata"]["generation"] = gen + 1 if changed else gen

    def _initial_status(self, res: Resource, obj: Obj) -> None:
        if not res.status_subresource:
            return
        if res.kind == "Pod":
            obj["status"] = {"phase": "Pending", "qosClass": _qos(obj.get("spec", {}))}
        elif res.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        elif res.kind == "Service":
            obj["status"] = {"loadBalancer": {}}
        else:
            obj["status"] = {}

    # -- reads -------------------------------------------------------------------------------

    def get(self, res: Resource, ns: str, name: str) -> Obj:
        with self.store.lock:
            obj = self.store.get(res, ns if res.namespaced else "", name)
            if obj is None:
                raise errors.not_found(res, name)
            return self.with_type(res, copy.deepcopy(obj))

    def list(
        self,
        res: Resource,
        ns: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 0,
        cont: str | None = None,
    ) -> Obj:
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, res.kind)
        with self.store.lock:
            rv = self.store.rv
            items = [
                copy.deepcopy(o)
                for o in self.store.list(res, ns if res.namespaced else None)
                if labels(o.get("metadata", {}).get("labels") or {}) and fields(o)
            ]
        start = 0
        if cont:
            try:
                token = json.loads(base64.b64decode(cont))
                start, rv = int(token["start"]), int(token["rv"])
            except (ValueError, KeyError) as err:
                raise errors.bad_request("continue key is not valid") from err
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        end = len(items)
        if limit and start + limit < len(items):
            end = start + limit
            meta["continue"] = base64.b64encode(
                json.dumps({"start": end, "rv": rv}).encode()
            ).decode()
            meta["remainingItemCount"] = len(items) - end
        return {
            "kind": f"{res.kind}List",
            "apiVersion": res.api_version,
            "metadata": meta,
            "items": items[start:end],
        }

    # -- writes ------------------------------------------------------------------------------

    def create(self, res: Resource, ns: str, body: Any, opts: Options) -> Obj:
        obj = self._check_identity(res, body, ns)
        self._decode(res, obj, opts)
        with self.store.lock:
            self.require_namespace(res, ns, creating=True)
            return self._create(res, obj, opts, track=True)

    def _create(self, res: Resource, obj: Obj, opts: Options, *, track: bool) -> Obj:
        meta = obj["metadata"]
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + random_suffix()
            else:
                raise errors.invalid(
                    res,
                    "",
                    [
                        (
                            "FieldValueRequired",
                            "metadata.name",
                            "Required value: name or generateName is required",
                        )
                    ],
                )
        ns = meta.get("namespace", "")
        if self.store.get(res, ns, meta["name"]) is not None:
            raise errors.already_exists(res, meta["name"])
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        for key in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ):
            meta.pop(key, None)
        if res.has_generation:
            meta["generation"] = 1
        self._initial_status(res, obj)
        self._finish(res, obj, None)
        if track:
            if meta.get("managedFields"):
                pass  # the client supplied ownership explicitly
            else:
                fieldsets.track_update(
                    None,
                    obj,
                    node_for(res),
                    manager=opts.manager,
                    api_version=res.api_version,
                    now=now(),
                )
        if opts.dry_run:
            return self.with_type(res, obj)
        return self.with_type(res, copy.deepcopy(self.store.put(res, obj)))

    def update(
        self, res: Resource, ns: str, name: str, body: Any, opts: Options, *, subresource: str = ""
    ) -> Obj:
        obj = self._check_identity(res, body, ns)
        if obj["metadata"].get("name") not in (None, "", name):
            raise errors.bad_request(
                "the name of the object "
                f"({obj['metadata']['name']}) does not match the name on the URL ({name})"
            )
        obj["metadata"]["name"] = name
        self._decode(res, obj, opts)
        with self.store.lock:
            self.require_namespace(res, ns, creating=False)
            old = self.store.get(res, ns if res.namespaced else "", name)
            if old is None:
                raise errors.not_found(res, name)
            rv = obj["metadata"].get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise errors.stale(res, name)
            return self.write(res, old, obj, opts, subresource=subresource)

    def write(
        self,
        res: Resource,
        old: Obj,
        new: Obj,
        opts: Options,
        *,
        subresource: str = "",
        track: bool = True,
    ) -> Obj:
        """Store `new` over `old` with the real server's update rules. Caller holds the lock."""
        new = copy.deepcopy(new)
        if subresource == "status":
            # the status strategy keeps spec and labels; annotations may change (the
            # deployment controller records the revision this way, without a new generation)
            status = new.get("status")
            annotations = new.get("metadata", {}).get("annotations")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            if annotations:
                new["metadata"]["annotations"] = annotations
            else:
                new["metadata"].pop("annotations", None)
        elif res.status_subresource:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        for key in (
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "deletionTimestamp",
            "generation",
        ):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        self._finish(res, new, old)
        if subresource != "status":
            self._bump_generation(res, old, new)
        client_fields = meta.get("managedFields")
        if client_fields == [{}]:
            meta.pop("managedFields", None)
        elif client_fields and client_fields != old_meta.get("managedFields"):
            pass  # the client rewrote ownership explicitly (kubectl's apply upgrade does)
        elif track:
            meta.pop("managedFields", None)
            if old_meta.get("managedFields"):
                meta["managedFields"] = copy.deepcopy(old_meta["managedFields"])
            fieldsets.track_update(
                old,
                new,
                node_for(res),
                manager=opts.manager,
                api_version=res.api_version,
                now=now(),
                subresource=subresource,
            )
        if strip_volatile(new) == strip_volatile(old):
            return self.with_type(res, copy.deepcopy(old))
        if opts.dry_run:
            return self.with_type(res, new)
        return self.with_type(res, copy.deepcopy(self.store.put(res, new)))

    def patch(
        self,
        res: Resource,
        ns: str,
        name: str,
        content_type: str,
        raw: bytes,
        *,
        opts: Options,
        subresource: str = "",
    ) -> Obj:
        kind = PATCH_TYPES.get(content_type.split(";", maxsplit=1)[0].strip())
        if kind is None:
            raise errors.unsupported_media(content_type)
        try:
            text = raw.decode()
            body = json.loads(text) if kind != "apply" else _load_yaml_or_json(text)
        except (ValueError, yaml.YAMLError) as err:
            raise errors.bad_request(f"error decoding patch: {err}") from err
        with self.store.lock:
            self.require_namespace(res, ns, creating=kind == "apply")
            key_ns = ns if res.namespaced else ""
            old = self.store.get(res, key_ns, name)
            if kind == "apply":
                return self._apply(res, ns, name, old, body, opts=opts, subresource=subresource)
            if old is None:
                raise errors.not_found(res, name)
            current = self.with_type(res, copy.deepcopy(old))
            if kind == "json":
                patched = merge.json_patch(current, body)
            elif kind == "merge":
                patched = merge.json_merge_patch(current, body)
            else:
                if not isinstance(body, dict):
                    raise errors.bad_request("strategic merge patch must be a JSON object")
                patched = merge.strategic_merge(current, body, node_for(res))
            if not isinstance(patched, dict):
                raise errors.bad_request("patch did not produce an object")
            patched = self._check_identity(res, patched, ns)
            self._decode(res, patched, opts)
            rv = patched["metadata"].get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise errors.stale(res, name)
            return self.write(res, old, patched, opts, subresource=subresource)

    def _apply(
        self,
        res: Resource,
        ns: str,
        name: str,
        old: Obj | None,
        body: Any,
        *,
        opts: Options,
        subresource: str,
    ) -> Obj:
        if not opts.manager or not opts.explicit_manager:
            raise errors.bad_request("PATCH, fieldManager is required for apply requests")
        if not isinstance(body, dict):
            raise errors.bad_request("apply patch must be an object")
        if not body.get("apiVersion") or not body.get("kind"):
            raise errors.bad_request("apiVersion and kind must be set in the applied configuration")
        config = self._check_identity(res, body, ns)
        if config["metadata"].get("name") not in (None, "", name):
            raise errors.bad_request("the name of the object does not match the name on the URL")
        config["metadata"]["name"] = name
        rv = config["metadata"].pop("resourceVersion", None)
        if rv and (old is None or rv != old["metadata"]["resourceVersion"]):
            raise errors.stale(res, name)  # a resourceVersion in an apply is a precondition
        self._decode(res, config, opts, apply=True)
        if subresource != "status":
            config.pop("status", None)
        node = node_for(res)
        live = copy.deepcopy(old) if old is not None else None
        merged, conflicts = fieldsets.apply(
            live,
            config,
            node,
            manager=opts.manager,
            api_version=res.api_version,
            force=opts.force,
            now=now(),
        )
        if conflicts:
            causes = [
                {
                    "reason": "FieldManagerConflict",
                    "message": f'conflict with "{c.manager}" using {c.api_version}',
                    "field": fieldsets.display(c.path),
                }
                for c in conflicts
            ]
            n = len(conflicts)
            lines = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
            raise errors.ApiError(
                409,
                "Conflict",
                f"Apply failed with {n} conflict{'s' if n > 1 else ''}: {lines}"
                if n > 1
                else f"Apply failed with 1 conflict: {causes[0]['message']}: {causes[0]['field']}",
                {"name": name, "group": res.group, "kind": res.kind, "causes": causes},
            )
        if old is None:
            merged["metadata"].pop("resourceVersion", None)
            return self._create(res, merged, opts, track=False)
        return self.write(res, old, merged, opts, subresource=subresource, track=False)

    def delete(
        self,
        res: Resource,
        ns: str,
        name: str,
        *,
        propagation: str | None = None,
        dry_run: bool = False,
        preconditions: dict[str, Any] | None = None,
    ) -> Obj:
        with self.store.lock:
            key_ns = ns if res.namespaced else ""
            if res.namespaced:
                self.require_namespace(res, ns, creating=False)
            old = self.store.get(res, key_ns, name)
            if old is None:
                raise errors.not_found(res, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
                raise errors.conflict(
                    res,
                    name,
                    "Precondition failed: UID in precondition: "
                    f"{pre['uid']}, UID in object meta: {old['metadata']['uid']}",
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"].get(
                "resourceVersion"
            ):
                raise errors.conflict(res, name, "Precondition failed: resourceVersion")
            if dry_run:
                return self.with_type(res, copy.deepcopy(old))
            return self.delete_object(res, old, propagation or res.default_propagation)

    def delete_object(self, res: Resource, old: Obj, propagation: str) -> Obj:
        """Caller holds the lock."""
        meta = old["metadata"]
        uid = meta.get("uid")
        finalizers = list(meta.get("finalizers") or [])
        if res.kind == "Namespace":
            if meta.get("deletionTimestamp"):
                return self.with_type(res, copy.deepcopy(old))
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = now()
            new.setdefault("status", {})["phase"] = "Terminating"
            return self.with_type(res, copy.deepcopy(self.store.put(res, new)))
        if propagation == "Orphan":
            for dep_res, dep in self.dependents(uid):
                new = copy.deepcopy(dep)
                new["metadata"]["ownerReferences"] = [
                    r for r in dep["metadata"].get("ownerReferences", []) if r.get("uid") != uid
                ]
                if not new["metadata"]["ownerReferences"]:
                    del new["metadata"]["ownerReferences"]
                self.store.put(dep_res, new)
        if propagation == "Foreground" and self.dependents(uid):
            finalizers.append("foregroundDeletion")
        if finalizers:
            new = copy.deepcopy(old)
            new["metadata"]["finalizers"] = sorted(set(finalizers))
            new["metadata"].setdefault("deletionTimestamp", now())
            new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            return self.with_type(res, copy.deepcopy(self.store.put(res, new)))
        return self.with_type(res, self.store.remove(res, old))

    def dependents(self, uid: str | None) -> list[tuple[Resource, Obj]]:
        out = []
        for res in BY_KEY.values():
            for obj in self.store.list(res):
                if any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or []):
                    out.append((res, obj))
        return out


def _load_yaml_or_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text)


def _qos(spec: dict[str, Any]) -> str:
    containers = spec.get("containers") or []
    any_set = False
    all_guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and req[r] != lim[r]):
                all_guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if all_guaranteed else "Burstable"


def resource_for(api_version: str, kind: str) -> Resource | None:
    return BY_KIND.get((api_version, kind))
