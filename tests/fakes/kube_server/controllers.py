"""The simulated control plane: scheduler, kubelet, and the controllers deploy and train rely on.

One thread reconciles every object each tick (level-triggered, like the real
controllers), writing through the same API code paths clients use, so every
change produces the watch events and managedFields a real cluster would.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import math
import os
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import errors
from .api import Api, Options, now
from .resources import BY_KEY, Resource
from .selectors import label_selector_matches, selector_string
from .store import Obj

if TYPE_CHECKING:
    from .server import KubeServer

R = {r.kind: r for r in BY_KEY.values()}
NODE_NAME = "fake-node"
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SKIP_COPY = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED, MAX_REPLICAS}
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class JobOutcome:
    outcome: str = "succeed"  # succeed | fail | unschedulable | hang
    logs: list[str] = field(default_factory=list)
    duration: float | None = None
    exit_code: int = 1


@dataclass(frozen=True)
class JobProcess:
    """A local stand-in for an image: Job pods of it run their command in `cwd` with `env`."""

    cwd: str
    env: dict[str, str]


@dataclass
class PodSim:
    created: float
    outcome: str  # serve | succeed | fail | unschedulable | hang
    logs: list[str]
    duration: float
    exit_code: int
    scheduled: bool = False
    started_at: float | None = None
    ready_at: float | None = None
    finished: bool = False
    emitted: int = 0
    broken_reported: str = ""
    restarts: int = 0
    probed: bool = False
    proc: subprocess.Popen[str] | None = None
    reader: threading.Thread | None = None


def owned_by(obj: Obj, uid: str) -> bool:
    return any(
        r.get("uid") == uid and r.get("controller")
        for r in obj["metadata"].get("ownerReferences") or []
    )


def owner_ref(res: Resource, owner: Obj) -> dict[str, Any]:
    return {
        "apiVersion": res.api_version,
        "kind": res.kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def template_hash(template: Any, collision: int = 0) -> str:
    data = json.dumps(template, sort_keys=True).encode() + str(collision).encode()
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(ALPHABET[ord(c) % len(ALPHABET)] for c in str(h))


def scaled(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        frac = int(value[:-1]) * total / 100
        return math.ceil(frac) if round_up else math.floor(frac)
    return int(value or 0)


def pod_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )


def pod_active(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") not in ("Succeeded", "Failed") and not pod[
        "metadata"
    ].get("deletionTimestamp")


def condition(ctype: str, status: str, reason: str = "", message: str = "", **extra: str) -> Obj:
    out: Obj = {"type": ctype, "status": status}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    out.update(extra)
    return out


def set_condition(
    conds: list[Obj], new: Obj, *, update_time: bool = False, force: bool = False
) -> list[Obj]:
    """Set the condition of new['type'] as the real controllers do: unchanged status and
    reason leave it alone (unless `force`), lastTransitionTime moves only with status."""
    old = next((c for c in conds if c.get("type") == new["type"]), None)
    same = old and old.get("status") == new["status"] and old.get("reason") == new.get("reason")
    if same and not force:
        return conds
    stamp = now()
    new = dict(new)
    if update_time:
        new["lastUpdateTime"] = stamp
    if "lastTransitionTime" not in new:
        same = old is not None and old.get("status") == new["status"]
        new["lastTransitionTime"] = old.get("lastTransitionTime", stamp) if same and old else stamp
    out = list(conds)
    idx = next((i for i, c in enumerate(out) if c.get("type") == new["type"]), None)
    if idx is None:
        out.append(new)
    else:
        out[idx] = new
    return out


class Controllers:
    def __init__(self, server: KubeServer) -> None:
        self.server = server
        self.api: Api = server.api
        self.store = server.store
        self.pods: dict[str, PodSim] = {}
        self.deploy_progress: dict[str, float] = {}
        self.job_last_failure: dict[str, float] = {}
        self.logs: dict[tuple[str, str, str], list[str]] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="kube-controllers", daemon=True)
        self._ip = 10
        self.errors: list[str] = []

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        with self.store.changed:
            self.store.changed.notify_all()
        self.thread.join(timeout=5)
        self.reap_processes(everything=True)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            with self.store.lock:
                try:
                    self.reconcile()
                except Exception as err:  # keep the control plane alive; tests read .errors
                    import traceback

                    self.errors.append(traceback.format_exc())
                    if len(self.errors) > 50:
                        del self.errors[:25]
                    del err
                self.store.changed.wait(self.server.tick)

    def opts(self, manager: str = "kube-controller-manager") -> Options:
        return Options(manager=manager)

    def reconcile(self) -> None:
        self.garbage_collect()
        self.reap_processes()
        for kind, sync in (
            ("Deployment", self.sync_deployment),
            ("ReplicaSet", self.sync_replicaset),
            ("Job", self.sync_job),
            ("Pod", self.sync_pod),
            ("HorizontalPodAutoscaler", self.sync_hpa),
        ):
            for obj in self.store.list(R[kind]):
                try:
                    sync(obj)
                except errors.ApiError as err:
                    # what a real controller logs and requeues: a namespace being
                    # terminated, an object deleted or changed under it
                    if err.reason not in ("Forbidden", "NotFound", "AlreadyExists", "Conflict"):
                        raise
        self.sync_endpoints()

    # -- events ------------------------------------------------------------------------------

    def record(
        self,
        res: Resource,
        obj: Obj,
        etype: str,
        reason: str,
        message: str,
        component: str = "deployment-controller",
    ) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        evres = R["Event"]
        uid = meta.get("uid")
        for ev in self.store.list(evres, ns):
            io = ev.get("involvedObject", {})
            if io.get("uid") == uid and ev.get("reason") == reason and ev.get("message") == message:
                new = copy.deepcopy(ev)
                new["count"] = ev.get("count", 1) + 1
                new["lastTimestamp"] = now()
                self.api.write(evres, ev, new, self.opts(component))
                return
        stamp = now()
        event = {
            "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": ns},
            "involvedObject": {
                "kind": res.kind,
                "namespace": meta.get("namespace", ""),
                "name": meta["name"],
                "uid": uid,
                "apiVersion": res.api_version,
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": etype,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        if component == "kubelet":
            event["source"]["host"] = NODE_NAME
        self.api.create(evres, ns, event, self.opts(component))

    # -- garbage collector -------------------------------------------------------------------

    def garbage_collect(self) -> None:
        uids: set[str] = set()
        for res in BY_KEY.values():
            for obj in self.store.list(res):
                uids.add(obj["metadata"]["uid"])
        for res in BY_KEY.values():
            for obj in self.store.list(res):
                meta = obj["metadata"]
                refs = meta.get("ownerReferences") or []
                if refs and not any(r.get("uid") in uids for r in refs):
                    self.api.delete_object(res, obj, "Background")
                    continue
                if meta.get("deletionTimestamp"):
                    self._finalize(res, obj)

    def _finalize(self, res: Resource, obj: Obj) -> None:
        meta = obj["metadata"]
        fins = list(meta.get("finalizers") or [])
        if res.kind == "Namespace":
            name = meta["name"]
            remaining = False
            for other in BY_KEY.values():
                if not other.namespaced:
                    continue
                for dep in self.store.list(other, name):
                    remaining = True
                    if not dep["metadata"].get("deletionTimestamp"):
                        self.api.delete_object(other, dep, "Background")
            if not remaining:
                self.store.remove(res, obj)
            return
        if "foregroundDeletion" in fins:
            deps = self.api.dependents(meta["uid"])
            for dep_res, dep in deps:
                if not dep["metadata"].get("deletionTimestamp"):
                    self.api.delete_object(dep_res, dep, "Foreground")
            if deps:
                return
            fins.remove("foregroundDeletion")
            new = copy.deepcopy(obj)
            new["metadata"]["finalizers"] = fins
            if not fins:
                self.store.remove(res, obj)
            else:
                self.store.put(res, new)
            return
        if not fins:
            self.store.remove(res, obj)

    # -- deployment controller ----------------------------------------------------------------

    def _owned(self, kind: str, ns: str, uid: str) -> list[Obj]:
        return [o for o in self.store.list(R[kind], ns) if owned_by(o, uid)]

    def _scale_rs(self, dep: Obj, rs: Obj, replicas: int) -> Obj:
        old_n = rs["spec"].get("replicas", 0)
        if old_n == replicas:
            return rs
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = replicas
        ann = new["metadata"].setdefault("annotations", {})
        ann[DESIRED] = str(dep["spec"].get("replicas", 1))
        ann[MAX_REPLICAS] = str(dep["spec"].get("replicas", 1) + self._surge(dep)[0])
        out = self.api.write(R["ReplicaSet"], rs, new, self.opts())
        verb = "up" if replicas > old_n else "down"
        self.record(
            R["Deployment"],
            dep,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled {verb} replica set {rs['metadata']['name']} from {old_n} to {replicas}",
        )
        self.deploy_progress[dep["metadata"]["uid"]] = time.monotonic()
        return (
            self.store.get(R["ReplicaSet"], out["metadata"]["namespace"], out["metadata"]["name"])
            or rs
        )

    def _surge(self, dep: Obj) -> tuple[int, int]:
        replicas = dep["spec"].get("replicas", 1)
        strategy = dep["spec"].get("strategy") or {}
        if strategy.get("type") == "Recreate":
            return 0, replicas
        ru = strategy.get("rollingUpdate") or {}
        surge = scaled(ru.get("maxSurge", "25%"), replicas, round_up=True)
        unavailable = scaled(ru.get("maxUnavailable", "25%"), replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable

    def sync_deployment(self, dep: Obj) -> None:
        meta = dep["metadata"]
        if meta.get("deletionTimestamp"):
            return
        ns, uid, name = meta["namespace"], meta["uid"], meta["name"]
        spec = dep["spec"]
        replicas = spec.get("replicas", 1)
        template = spec.get("template") or {}
        rses = self._owned("ReplicaSet", ns, uid)
        self._adopt(dep, rses)

        def same_template(rs: Obj) -> bool:
            tpl = copy.deepcopy(rs["spec"].get("template") or {})
            tpl.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
            if tpl.get("metadata", {}).get("labels") == {}:
                tpl["metadata"].pop("labels")
            mine = copy.deepcopy(template)
            if mine.get("metadata", {}).get("labels") == {}:
                mine["metadata"].pop("labels")
            return tpl == mine

        def revision(rs: Obj) -> int:
            try:
                return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))
            except ValueError:
                return 0

        new_rs = next((rs for rs in rses if same_template(rs)), None)
        old_rses = [rs for rs in rses if rs is not new_rs]
        max_old = max((revision(rs) for rs in old_rses), default=0)
        progressing: Obj | None = None
        paused = bool(spec.get("paused"))
        if new_rs is None and not paused:
            hash_ = template_hash(template, dep.get("status", {}).get("collisionCount", 0))
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = hash_
            selector = copy.deepcopy(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})[HASH_LABEL] = hash_
            annotations = {
                k: v for k, v in (meta.get("annotations") or {}).items() if k not in SKIP_COPY
            }
            annotations[REVISION] = str(max_old + 1)
            annotations[DESIRED] = str(replicas)
            annotations[MAX_REPLICAS] = str(replicas + self._surge(dep)[0])
            labels = dict(template.get("metadata", {}).get("labels") or {})
            labels[HASH_LABEL] = hash_
            body = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{name}-{hash_}",
                    "namespace": ns,
                    "labels": labels,
                    "annotations": annotations,
                    "ownerReferences": [owner_ref(R["Deployment"], dep)],
                },
                "spec": {
                    "replicas": 0,
                    "minReadySeconds": spec.get("minReadySeconds", 0),
                    "selector": selector,
                    "template": rs_template,
                },
            }
            try:
                created = self.api.create(R["ReplicaSet"], ns, body, self.opts())
            except errors.ApiError as err:
                if err.reason != "AlreadyExists":
                    raise
                status = copy.deepcopy(dep.get("status", {}))
                status["collisionCount"] = status.get("collisionCount", 0) + 1
                self._write_status(dep, status)
                return
            new_rs = self.store.get(R["ReplicaSet"], ns, created["metadata"]["name"])
            assert new_rs is not None
            self.deploy_progress[uid] = time.monotonic()
            progressing = condition(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{new_rs["metadata"]["name"]}"',
            )
        elif new_rs is not None:
            rev = revision(new_rs)
            want = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in SKIP_COPY}
            ann = dict(new_rs["metadata"].get("annotations") or {})
            changed = False
            if rev <= max_old:
                history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
                history.append(str(rev))
                ann[REVISION_HISTORY] = ",".join(history)
                ann[REVISION] = str(max_old + 1)
                changed = True
                progressing = condition(
                    "Progressing",
                    "True",
                    "FoundNewReplicaSet",
                    f'Found new replica set "{new_rs["metadata"]["name"]}"',
                )
                self.deploy_progress[uid] = time.monotonic()
            for k, v in want.items():
                if ann.get(k) != v:
                    ann[k] = v
                    changed = True
            if changed:
                upd = copy.deepcopy(new_rs)
                upd["metadata"]["annotations"] = ann
                self.api.write(R["ReplicaSet"], new_rs, upd, self.opts())
                new_rs = self.store.get(R["ReplicaSet"], ns, new_rs["metadata"]["name"]) or new_rs
        if not paused and new_rs is not None:
            if (spec.get("strategy") or {}).get("type") == "Recreate":
                self._recreate(dep, new_rs, old_rses)
            else:
                self._rolling(dep, new_rs, old_rses)
        self._cleanup(dep, new_rs)
        self._deployment_status(dep, new_rs, progressing)

    def _adopt(self, dep: Obj, rses: list[Obj]) -> None:
        return None

    def _rolling(self, dep: Obj, new_rs: Obj, old_rses: list[Obj]) -> None:
        replicas = dep["spec"].get("replicas", 1)
        surge, unavailable = self._surge(dep)
        all_rs = [new_rs, *old_rses]
        cur = new_rs["spec"].get("replicas", 0)
        if cur > replicas:
            new_rs = self._scale_rs(dep, new_rs, replicas)
        elif cur < replicas:
            total = sum(rs["spec"].get("replicas", 0) for rs in all_rs)
            max_total = replicas + surge
            if total < max_total:
                new_rs = self._scale_rs(dep, new_rs, cur + min(max_total - total, replicas - cur))
        old_rses = sorted(old_rses, key=lambda r: r["metadata"].get("creationTimestamp", ""))
        old_count = sum(rs["spec"].get("replicas", 0) for rs in old_rses)
        if old_count == 0:
            return
        all_count = new_rs["spec"].get("replicas", 0) + old_count
        min_available = replicas - unavailable
        new_unavailable = new_rs["spec"].get("replicas", 0) - new_rs.get("status", {}).get(
            "availableReplicas", 0
        )
        max_down = all_count - min_available - new_unavailable
        if max_down <= 0:
            return
        cleaned = 0
        updated: list[Obj] = []
        for rs in old_rses:
            n = rs["spec"].get("replicas", 0)
            avail = rs.get("status", {}).get("availableReplicas", 0)
            if cleaned < max_down and n > avail:
                down = min(max_down - cleaned, n - avail)
                cleaned += down
                updated.append(self._scale_rs(dep, rs, n - down))
            else:
                updated.append(rs)
        available = sum(r.get("status", {}).get("availableReplicas", 0) for r in [new_rs, *updated])
        if available <= min_available:
            return
        total_down = available - min_available
        done = 0
        for rs in updated:
            if done >= total_down:
                break
            n = rs["spec"].get("replicas", 0)
            down = min(n, total_down - done)
            if down:
                self._scale_rs(dep, rs, n - down)
                done += down

    def _recreate(self, dep: Obj, new_rs: Obj, old_rses: list[Obj]) -> None:
        for rs in old_rses:
            if rs["spec"].get("replicas", 0):
                self._scale_rs(dep, rs, 0)
        ns = dep["metadata"]["namespace"]
        for rs in old_rses:
            if self._owned("Pod", ns, rs["metadata"]["uid"]):
                return
        self._scale_rs(dep, new_rs, dep["spec"].get("replicas", 1))

    def _cleanup(self, dep: Obj, new_rs: Obj | None) -> None:
        limit = dep["spec"].get("revisionHistoryLimit", 10)
        ns = dep["metadata"]["namespace"]
        old = [
            rs
            for rs in self._owned("ReplicaSet", ns, dep["metadata"]["uid"])
            if rs is not new_rs
            and (new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"])
            and rs["spec"].get("replicas", 0) == 0
            and rs.get("status", {}).get("replicas", 0) == 0
        ]
        if len(old) <= limit:
            return
        old.sort(key=lambda r: int(r["metadata"].get("annotations", {}).get(REVISION, "0")))
        for rs in old[: len(old) - limit]:
            self.api.delete_object(R["ReplicaSet"], rs, "Background")

    def _write_status(
        self, obj: Obj, status: Obj, kind: str = "Deployment", annotations: Obj | None = None
    ) -> None:
        if status == obj.get("status") and annotations is None:
            return
        new = copy.deepcopy(obj)
        new["status"] = status
        if annotations is not None:
            new["metadata"]["annotations"] = annotations
        self.api.write(R[kind], obj, new, self.opts(), subresource="status")

    def _deployment_status(self, dep: Obj, new_rs: Obj | None, progressing: Obj | None) -> None:
        ns, uid = dep["metadata"]["namespace"], dep["metadata"]["uid"]
        dep = self.store.get(R["Deployment"], ns, dep["metadata"]["name"]) or dep
        rses = self._owned("ReplicaSet", ns, uid)
        replicas = dep["spec"].get("replicas", 1)
        old_status = dep.get("status") or {}
        status: Obj = {
            "observedGeneration": dep["metadata"].get("generation", 1),
            "replicas": sum(r.get("status", {}).get("replicas", 0) for r in rses),
            "updatedReplicas": 0,
            "readyReplicas": sum(r.get("status", {}).get("readyReplicas", 0) for r in rses),
            "availableReplicas": sum(r.get("status", {}).get("availableReplicas", 0) for r in rses),
        }
        new_rs = next(
            (r for r in rses if new_rs and r["metadata"]["uid"] == new_rs["metadata"]["uid"]), None
        )
        if new_rs is not None:
            status["updatedReplicas"] = new_rs.get("status", {}).get("replicas", 0)
        total_spec = sum(r["spec"].get("replicas", 0) for r in rses)
        unavailable = max(0, total_spec - status["availableReplicas"])
        if unavailable:
            status["unavailableReplicas"] = unavailable
        if "collisionCount" in old_status:
            status["collisionCount"] = old_status["collisionCount"]
        for key in ("readyReplicas", "availableReplicas", "updatedReplicas", "replicas"):
            if not status[key]:
                del status[key]
        conds = list(old_status.get("conditions") or [])
        _, max_unavailable = self._surge(dep)
        if status.get("availableReplicas", 0) >= replicas - max_unavailable:
            conds = set_condition(
                conds,
                condition(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                ),
                update_time=True,
            )
        else:
            conds = set_condition(
                conds,
                condition(
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                ),
                update_time=True,
            )
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        deadline = dep["spec"].get("progressDeadlineSeconds")
        cur = next((c for c in conds if c.get("type") == "Progressing"), None)
        complete = (
            status.get("updatedReplicas", 0) == replicas
            and status.get("availableReplicas", 0) == replicas
            and status.get("replicas", 0) == replicas
            and new_rs is not None
        )
        if dep["spec"].get("paused"):
            conds = set_condition(
                conds,
                condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"),
                update_time=True,
            )
        elif progressing is not None:
            conds = set_condition(conds, progressing, update_time=True, force=True)
        elif deadline is not None and new_rs is not None:
            made_progress = any(
                status.get(k, 0) > old_status.get(k, 0)
                for k in ("updatedReplicas", "readyReplicas", "availableReplicas")
            ) or (status.get("replicas", 0) - status.get("updatedReplicas", 0)) < (
                old_status.get("replicas", 0) - old_status.get("updatedReplicas", 0)
            )
            if complete:
                if not (cur and cur.get("reason") == "NewReplicaSetAvailable"):
                    conds = set_condition(
                        conds,
                        condition(
                            "Progressing",
                            "True",
                            "NewReplicaSetAvailable",
                            f'ReplicaSet "{rs_name}" has successfully progressed.',
                        ),
                        update_time=True,
                    )
            elif made_progress:
                self.deploy_progress[uid] = time.monotonic()
                conds = set_condition(
                    conds,
                    condition(
                        "Progressing",
                        "True",
                        "ReplicaSetUpdated",
                        f'ReplicaSet "{rs_name}" is progressing.',
                    ),
                    update_time=True,
                    force=True,
                )
            elif cur is not None and cur.get("reason") != "ProgressDeadlineExceeded":
                since = self.deploy_progress.setdefault(uid, time.monotonic())
                if time.monotonic() - since > deadline:
                    conds = set_condition(
                        conds,
                        condition(
                            "Progressing",
                            "False",
                            "ProgressDeadlineExceeded",
                            f'ReplicaSet "{rs_name}" has timed out progressing.',
                        ),
                        update_time=True,
                    )
                    self.record(
                        R["Deployment"],
                        dep,
                        "Warning",
                        "ProgressDeadlineExceeded",
                        f'ReplicaSet "{rs_name}" has timed out progressing.',
                    )
        status["conditions"] = conds
        annotations = dict(dep["metadata"].get("annotations") or {})
        rev = (new_rs or {}).get("metadata", {}).get("annotations", {}).get(REVISION)
        if rev:
            annotations[REVISION] = rev
        if _same_status(status, old_status) and annotations == (
            dep["metadata"].get("annotations") or {}
        ):
            return
        self._write_status(dep, status, annotations=annotations)

    # -- replicaset controller ----------------------------------------------------------------

    def sync_replicaset(self, rs: Obj) -> None:
        meta = rs["metadata"]
        if meta.get("deletionTimestamp"):
            return
        ns, uid = meta["namespace"], meta["uid"]
        pods = [p for p in self._owned("Pod", ns, uid) if pod_active(p)]
        want = rs["spec"].get("replicas", 1)
        if len(pods) < want:
            for _ in range(want - len(pods)):
                pods.append(self._create_pod(R["ReplicaSet"], rs, "replicaset-controller"))
        elif len(pods) > want:

            def rank(p: Obj) -> tuple[int, str]:
                return (1 if pod_ready(p) else 0, "~" + p["metadata"].get("creationTimestamp", ""))

            victims = sorted(pods, key=rank)[: len(pods) - want]
            for pod in victims:
                self.api.delete_object(R["Pod"], pod, "Background")
                self.record(
                    R["ReplicaSet"],
                    rs,
                    "Normal",
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    "replicaset-controller",
                )
            gone = {p["metadata"]["uid"] for p in victims}
            pods = [p for p in pods if p["metadata"]["uid"] not in gone]
        rs = self.store.get(R["ReplicaSet"], ns, meta["name"]) or rs
        min_ready = rs["spec"].get("minReadySeconds", 0)
        ready = [p for p in pods if pod_ready(p)]
        available = [
            p
            for p in ready
            if (sim := self.pods.get(p["metadata"]["uid"])) is not None
            and sim.ready_at is not None
            and time.monotonic() - sim.ready_at >= min_ready
        ]
        selector = rs["spec"].get("selector")
        status: Obj = {
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(
                1
                for p in pods
                if label_selector_matches(selector, p["metadata"].get("labels") or {})
            ),
            "readyReplicas": len(ready),
            "availableReplicas": len(available),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        for key in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            if not status[key]:
                del status[key]
        self._write_status(rs, status, "ReplicaSet")

    def _create_pod(self, res: Resource, owner: Obj, component: str) -> Obj:
        tpl = copy.deepcopy(owner["spec"].get("template") or {})
        meta = tpl.get("metadata") or {}
        ns = owner["metadata"]["namespace"]
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{owner['metadata']['name']}-",
                "namespace": ns,
                "labels": meta.get("labels") or {},
                "ownerReferences": [owner_ref(res, owner)],
            },
            "spec": tpl.get("spec") or {},
        }
        if meta.get("annotations"):
            body["metadata"]["annotations"] = meta["annotations"]
        pod = self.api.create(R["Pod"], ns, body, self.opts())
        self.record(
            res,
            owner,
            "Normal",
            "SuccessfulCreate",
            f"Created pod: {pod['metadata']['name']}",
            component,
        )
        return self.store.get(R["Pod"], ns, pod["metadata"]["name"]) or pod

    # -- scheduler + kubelet -------------------------------------------------------------------

    def _sim(self, pod: Obj) -> PodSim:
        uid = pod["metadata"]["uid"]
        sim = self.pods.get(uid)
        if sim is not None:
            return sim
        refs = pod["metadata"].get("ownerReferences") or []
        job_ref = next((r for r in refs if r.get("kind") == "Job"), None)
        images = [c.get("image", "") for c in pod["spec"].get("containers") or []]
        runner = next((self.server.job_processes[i] for i in images
                       if i in self.server.job_processes), None)  # fmt: skip
        if job_ref is not None and runner is not None:
            sim = PodSim(time.monotonic(), "process", [], 0.0, 0)
        elif job_ref is not None:
            spec = self.server.job_outcome_for(
                pod["metadata"].get("namespace", ""), job_ref["name"], images
            )
            sim = PodSim(
                time.monotonic(),
                spec.outcome,
                list(spec.logs),
                spec.duration if spec.duration is not None else self.server.job_duration,
                spec.exit_code,
            )
        else:
            logs: list[str] = []
            for image in images:
                logs += self.server.pod_logs.get(image, [])
            sim = PodSim(time.monotonic(), "serve", logs, 0.0, 0)
        self.pods[uid] = sim
        return sim

    def _pod_ip(self) -> str:
        self._ip += 1
        return f"10.244.{self._ip // 250}.{self._ip % 250 + 1}"

    def _log(self, pod: Obj, lines: list[str]) -> None:
        if not lines:
            return
        meta = pod["metadata"]
        for c in pod["spec"].get("containers") or []:
            self.logs.setdefault((meta["namespace"], meta["name"], c["name"]), []).extend(lines)
            break
        with self.store.changed:
            self.store.changed.notify_all()

    def sync_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            return
        sim = self._sim(pod)
        t = time.monotonic()
        status = copy.deepcopy(pod.get("status") or {})
        containers = pod["spec"].get("containers") or []
        stamp = now()
        if not pod["spec"].get("nodeName"):
            if sim.outcome == "unschedulable":
                if not any(
                    c.get("reason") == "Unschedulable" for c in status.get("conditions") or []
                ):
                    msg = (
                        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
                        "available: 1 No preemption victims found for incoming pod."
                    )
                    status["conditions"] = [
                        condition(
                            "PodScheduled",
                            "False",
                            "Unschedulable",
                            msg,
                            lastProbeTime=None,
                            lastTransitionTime=stamp,
                        )
                    ]
                    self._write_status(pod, status, "Pod")
                    self.record(
                        R["Pod"], pod, "Warning", "FailedScheduling", msg, "default-scheduler"
                    )
                return
            new = copy.deepcopy(pod)
            new["spec"]["nodeName"] = NODE_NAME
            self.api.write(R["Pod"], pod, new, self.opts("kube-scheduler"))
            pod = self.store.get(R["Pod"], meta["namespace"], meta["name"]) or pod
            status = copy.deepcopy(pod.get("status") or {})
            status["conditions"] = [
                condition("PodScheduled", "True", lastProbeTime=None, lastTransitionTime=stamp)
            ]
            self._write_status(pod, status, "Pod")
            self.record(
                R["Pod"],
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {meta['namespace']}/{meta['name']} to {NODE_NAME}",
                "default-scheduler",
            )
            return
        if sim.finished:
            return
        if sim.started_at is None:
            if t - sim.created < self.server.ready_delay:
                return
            broken = next(
                (
                    self.server.broken_images[c.get("image", "")]
                    for c in containers
                    if c.get("image", "") in self.server.broken_images
                ),
                None,
            )
            if broken is not None:
                self._broken(pod, sim, broken, status)
                return
            missing = self._missing_reference(pod)
            if missing is not None:
                self._blocked(pod, sim, status, *missing)
                return
            sim.started_at = t
            # with probing on, a container with an HTTP readiness probe starts unready
            sim.probed = sim.outcome == "serve" and self.server.probe_target(pod) is not None
            if not sim.probed:
                sim.ready_at = t
            ready_text = "False" if sim.probed else "True"
            status.update(
                phase="Running",
                hostIP="10.0.0.10",
                hostIPs=[{"ip": "10.0.0.10"}],
                podIP=self._pod_ip(),
                startTime=status.get("startTime", stamp),
            )
            status["podIPs"] = [{"ip": status["podIP"]}]
            status["conditions"] = [
                condition(
                    "PodReadyToStartContainers",
                    "True",
                    lastProbeTime=None,
                    lastTransitionTime=stamp,
                ),
                condition("Initialized", "True", lastProbeTime=None, lastTransitionTime=stamp),
                condition("Ready", ready_text, lastProbeTime=None, lastTransitionTime=stamp),
                condition(
                    "ContainersReady", ready_text, lastProbeTime=None, lastTransitionTime=stamp
                ),
                condition("PodScheduled", "True", lastProbeTime=None, lastTransitionTime=stamp),
            ]
            status["containerStatuses"] = [
                {
                    "name": c["name"],
                    "image": c.get("image", ""),
                    "imageID": _image_id(c.get("image", "")),
                    "containerID": "containerd://" + secrets.token_hex(32),
                    "ready": not sim.probed,
                    "restartCount": 0,
                    "started": True,
                    "state": {"running": {"startedAt": stamp}},
                    "lastState": {},
                }
                for c in containers
            ]
            self._write_status(pod, status, "Pod")
            for c in containers:
                image = c.get("image", "")
                self.record(
                    R["Pod"],
                    pod,
                    "Normal",
                    "Pulled",
                    f'Container image "{image}" already present on machine',
                    "kubelet",
                )
                self.record(
                    R["Pod"], pod, "Normal", "Created", f"Created container: {c['name']}", "kubelet"
                )
                self.record(
                    R["Pod"], pod, "Normal", "Started", f"Started container {c['name']}", "kubelet"
                )
            if sim.outcome == "serve":
                self._log(pod, sim.logs)
                sim.emitted = len(sim.logs)
            return
        if sim.probed:
            self._apply_probe(pod, sim, status)
            return
        if sim.outcome == "process":
            if sim.proc is None and not self._spawn(pod, sim):
                self._terminate(pod, sim, False, status, stamp)
                return
            if sim.proc is None or sim.proc.poll() is None:
                return
            assert sim.reader is not None
            sim.reader.join(timeout=5)
            if sim.proc.stdout is not None:
                sim.proc.stdout.close()
            sim.exit_code = sim.proc.returncode
            self._terminate(pod, sim, sim.exit_code == 0, status, stamp)
            return
        if sim.outcome in ("succeed", "fail", "hang"):
            n = len(sim.logs)
            elapsed = t - sim.started_at
            due = (
                n
                if sim.outcome != "hang" and elapsed >= sim.duration
                else int(n * min(1.0, elapsed / sim.duration) if sim.duration > 0 else n)
            )
            if due > sim.emitted:
                self._log(pod, sim.logs[sim.emitted : due])
                sim.emitted = due
            if sim.outcome == "hang" or elapsed < sim.duration:
                return
            self._terminate(pod, sim, sim.outcome == "succeed", status, stamp)

    def _terminate(self, pod: Obj, sim: PodSim, ok: bool, status: Obj, stamp: str) -> None:
        """The container exited: 0 (ok) or sim.exit_code."""
        sim.finished = True
        code = 0 if ok else sim.exit_code
        status["phase"] = "Succeeded" if ok else "Failed"
        reason = "PodCompleted" if ok else "PodFailed"
        for cond in status.get("conditions") or []:
            if cond["type"] in ("Ready", "ContainersReady", "PodReadyToStartContainers"):
                cond.update(status="False", lastTransitionTime=stamp)
                if cond["type"] != "PodReadyToStartContainers":
                    cond["reason"] = reason
        for cs in status.get("containerStatuses") or []:
            started = cs.get("state", {}).get("running", {}).get("startedAt", stamp)
            cs.update(
                ready=False,
                started=False,
                state={
                    "terminated": {
                        "exitCode": code,
                        "reason": "Completed" if ok else "Error",
                        "startedAt": started,
                        "finishedAt": stamp,
                        "containerID": cs.get("containerID", ""),
                    }
                },
            )
        self._write_status(pod, status, "Pod")

    def _spawn(self, pod: Obj, sim: PodSim) -> bool:
        """Run the container's command as a local process (see KubeServer.set_job_process)."""
        container = (pod["spec"].get("containers") or [{}])[0]
        runner = self.server.job_processes[container.get("image", "")]
        env = dict(runner.env)
        ns = pod["metadata"]["namespace"]
        for env_from in container.get("envFrom") or []:
            ref = env_from.get("secretRef") or env_from.get("configMapRef") or {}
            kind = "Secret" if "secretRef" in env_from else "ConfigMap"
            obj = self.store.get(R[kind], ns, ref.get("name", "")) or {}
            for key, value in (obj.get("data") or {}).items():
                text = base64.b64decode(value).decode() if kind == "Secret" else value
                env[env_from.get("prefix", "") + key] = text
        for var in container.get("env") or []:
            if "value" in var:
                env[var["name"]] = var["value"]
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        try:
            sim.proc = subprocess.Popen(
                argv, cwd=runner.cwd, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                errors="replace", start_new_session=True,
            )  # fmt: skip
        except OSError as err:
            sim.exit_code = 128
            self._log(pod, [f"exec {argv[:1]}: {err}"])
            return False
        proc = sim.proc

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self._log(pod, [line.rstrip("\n")])

        sim.reader = threading.Thread(target=read, name="kube-job-process", daemon=True)
        sim.reader.start()
        return True

    def reap_processes(self, everything: bool = False) -> None:
        """Stop the processes of pods that are gone, as a kubelet kills deleted pods."""
        live = {p["metadata"]["uid"] for p in self.store.list(R["Pod"])}
        for uid, sim in self.pods.items():
            if sim.proc is not None and sim.proc.poll() is None and (everything or uid not in live):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(sim.proc.pid, signal.SIGKILL)
                sim.proc.wait()
                if sim.reader is not None:
                    sim.reader.join(timeout=5)
                if sim.proc.stdout is not None:
                    sim.proc.stdout.close()

    def _apply_probe(self, pod: Obj, sim: PodSim, status: Obj) -> None:
        result = self.server.probe_results.get(pod["metadata"]["uid"])
        if result is None:
            return
        ready = result[0]
        message = f"Readiness probe failed: {result[1]}"
        if not ready and sim.broken_reported != message:
            sim.broken_reported = message
            self.record(R["Pod"], pod, "Warning", "Unhealthy", message, "kubelet")
        if ready == (sim.ready_at is not None):
            return
        sim.ready_at = time.monotonic() if ready else None
        stamp = now()
        names = " ".join(c["name"] for c in pod["spec"].get("containers") or [])
        for cond in status.get("conditions") or []:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond.update(status="True" if ready else "False", lastTransitionTime=stamp)
                if ready:
                    cond.pop("reason", None)
                    cond.pop("message", None)
                else:
                    cond.update(reason="ContainersNotReady",
                                message=f"containers with unready status: [{names}]")  # fmt: skip
        for cs in status.get("containerStatuses") or []:
            cs["ready"] = ready
        self._write_status(pod, status, "Pod")

    def _missing_reference(self, pod: Obj) -> tuple[str, str, str, str] | None:
        """A Secret or ConfigMap the pod needs and the namespace lacks, as the kubelet sees it:
        (container waiting reason, its message, event reason, event message)."""
        ns = pod["metadata"]["namespace"]
        spec = pod["spec"]

        def lookup(kind: str, name: str) -> Obj | None:
            return self.store.get(R[kind], ns, name)

        for vol in spec.get("volumes") or []:
            for key, kind, name_key in (("secret", "Secret", "secretName"),
                                        ("configMap", "ConfigMap", "name")):  # fmt: skip
                src = vol.get(key)
                if isinstance(src, dict) and not src.get("optional"):
                    name = src.get(name_key, "")
                    if lookup(kind, name) is None:
                        return ("ContainerCreating", "", "FailedMount",
                                f'MountVolume.SetUp failed for volume "{vol.get("name")}" : '
                                f'{kind.lower()} "{name}" not found')  # fmt: skip
        for c in spec.get("containers") or []:
            for env_from in c.get("envFrom") or []:
                for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                    ref = env_from.get(key)
                    needed = isinstance(ref, dict) and not ref.get("optional")
                    if needed and lookup(kind, ref.get("name", "")) is None:
                        msg = f'{kind.lower()} "{ref.get("name")}" not found'
                        return ("CreateContainerConfigError", msg, "Failed", f"Error: {msg}")
            for env in c.get("env") or []:
                source = env.get("valueFrom") or {}
                for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    ref = source.get(key)
                    if not isinstance(ref, dict) or ref.get("optional"):
                        continue
                    obj = lookup(kind, ref.get("name", ""))
                    if obj is None:
                        msg = f'{kind.lower()} "{ref.get("name")}" not found'
                    elif ref.get("key") not in (obj.get("data") or {}) and ref.get("key") not in (
                        obj.get("stringData") or obj.get("binaryData") or {}
                    ):
                        msg = f"couldn't find key {ref.get('key')} in {kind} {ns}/{ref.get('name')}"
                    else:
                        continue
                    return ("CreateContainerConfigError", msg, "Failed", f"Error: {msg}")
        return None

    def _blocked(self, pod: Obj, sim: PodSim, status: Obj, reason: str, message: str,
                 event_reason: str, event_message: str) -> None:  # fmt: skip
        if sim.broken_reported == event_message:
            return
        sim.broken_reported = event_message
        stamp = now()
        names = " ".join(c["name"] for c in pod["spec"].get("containers") or [])
        not_ready = f"containers with unready status: [{names}]"
        status.update(phase="Pending", hostIP="10.0.0.10", hostIPs=[{"ip": "10.0.0.10"}],
                      startTime=status.get("startTime", stamp))  # fmt: skip
        status["conditions"] = [
            condition(
                "PodReadyToStartContainers",
                "False" if reason == "ContainerCreating" else "True",
                lastProbeTime=None,
                lastTransitionTime=stamp,
            ),
            condition("Initialized", "True", lastProbeTime=None, lastTransitionTime=stamp),
            condition(
                "Ready",
                "False",
                "ContainersNotReady",
                not_ready,
                lastProbeTime=None,
                lastTransitionTime=stamp,
            ),
            condition(
                "ContainersReady",
                "False",
                "ContainersNotReady",
                not_ready,
                lastProbeTime=None,
                lastTransitionTime=stamp,
            ),
            condition("PodScheduled", "True", lastProbeTime=None, lastTransitionTime=stamp),
        ]
        waiting: Obj = {"reason": reason}
        if message:
            waiting["message"] = message
        status["containerStatuses"] = [
            {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
             "restartCount": 0, "started": False, "state": {"waiting": dict(waiting)},
             "lastState": {}}
            for c in pod["spec"].get("containers") or []
        ]  # fmt: skip
        self._write_status(pod, status, "Pod")
        self.record(R["Pod"], pod, "Warning", event_reason, event_message, "kubelet")

    def _broken(self, pod: Obj, sim: PodSim, reason: str, status: Obj) -> None:
        if sim.broken_reported == reason:
            return
        sim.broken_reported = reason
        stamp = now()
        containers = pod["spec"].get("containers") or []
        bad = [c for c in containers if c.get("image", "") in self.server.broken_images]
        names = " ".join(c["name"] for c in containers)
        status.update(hostIP="10.0.0.10", hostIPs=[{"ip": "10.0.0.10"}], startTime=stamp)
        if reason == "CrashLoopBackOff":
            status.update(phase="Running", podIP=self._pod_ip())
            status["podIPs"] = [{"ip": status["podIP"]}]
        else:
            status["phase"] = "Pending"
        status["conditions"] = [
            condition(
                "PodReadyToStartContainers", "True", lastProbeTime=None, lastTransitionTime=stamp
            ),
            condition("Initialized", "True", lastProbeTime=None, lastTransitionTime=stamp),
            condition(
                "Ready",
                "False",
                "ContainersNotReady",
                f"containers with unready status: [{names}]",
                lastProbeTime=None,
                lastTransitionTime=stamp,
            ),
            condition(
                "ContainersReady",
                "False",
                "ContainersNotReady",
                f"containers with unready status: [{names}]",
                lastProbeTime=None,
                lastTransitionTime=stamp,
            ),
            condition("PodScheduled", "True", lastProbeTime=None, lastTransitionTime=stamp),
        ]
        statuses = []
        for c in containers:
            image = c.get("image", "")
            entry: Obj = {
                "name": c["name"],
                "image": image,
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "lastState": {},
            }
            if c in bad and reason == "CrashLoopBackOff":
                entry.update(
                    restartCount=3,
                    imageID=_image_id(image),
                    containerID="containerd://" + secrets.token_hex(32),
                )
                entry["state"] = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 40s restarting failed container={c['name']} "
                        f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}",
                    }
                }
                entry["lastState"] = {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": stamp,
                        "finishedAt": stamp,
                    }
                }
            elif c in bad:
                entry["state"] = {
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": f'Back-off pulling image "{image}"',
                    }
                }
            else:
                entry["state"] = {"waiting": {"reason": "PodInitializing"}}
            statuses.append(entry)
        status["containerStatuses"] = statuses
        self._write_status(pod, status, "Pod")
        for c in bad:
            image = c.get("image", "")
            if reason == "CrashLoopBackOff":
                self.record(
                    R["Pod"],
                    pod,
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {c['name']} in pod "
                    f"{pod['metadata']['name']}_{pod['metadata']['namespace']}"
                    f"({pod['metadata']['uid']})",
                    "kubelet",
                )
            else:
                self.record(
                    R["Pod"], pod, "Normal", "Pulling", f'Pulling image "{image}"', "kubelet"
                )
                self.record(
                    R["Pod"],
                    pod,
                    "Warning",
                    "Failed",
                    f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
                    f'failed to pull and unpack image "{image}": not found',
                    "kubelet",
                )
                self.record(R["Pod"], pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet")
                self.record(
                    R["Pod"],
                    pod,
                    "Normal",
                    "BackOff",
                    f'Back-off pulling image "{image}"',
                    "kubelet",
                )
                self.record(
                    R["Pod"], pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet"
                )

    # -- job controller ----------------------------------------------------------------------

    def sync_job(self, job: Obj) -> None:
        meta = job["metadata"]
        if meta.get("deletionTimestamp"):
            return
        status = copy.deepcopy(job.get("status") or {})
        conds = status.get("conditions") or []
        if any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conds):
            ttl = job["spec"].get("ttlSecondsAfterFinished")
            finished = self.job_last_failure.setdefault(meta["uid"] + ":finished", time.monotonic())
            if ttl is not None and time.monotonic() - finished >= ttl:
                self.api.delete_object(
                    R["Job"], job, "Background"
                )  # the TTL-after-finished controller
            return
        spec = job["spec"]
        if spec.get("suspend"):
            return
        ns, uid = meta["namespace"], meta["uid"]
        t = time.monotonic()
        stamp = now()
        status.setdefault("startTime", stamp)
        self.job_last_failure.setdefault(uid + ":start", t)
        pods = self._owned("Pod", ns, uid)
        active = [p for p in pods if pod_active(p)]
        succeeded = sum(1 for p in pods if p.get("status", {}).get("phase") == "Succeeded")
        failed = sum(1 for p in pods if p.get("status", {}).get("phase") == "Failed")
        completions = spec.get("completions", 1) or 1
        backoff = spec.get("backoffLimit", 6)
        deadline = spec.get("activeDeadlineSeconds")
        finish: tuple[str, str, str] | None = None
        if succeeded >= completions:
            finish = ("Complete", "CompletionsReached", "Reached expected number of succeeded pods")
        elif failed > backoff:
            finish = (
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            )
        elif deadline is not None and t - self.job_last_failure[uid + ":start"] > deadline:
            finish = ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
        if finish is not None:
            kind, reason, message = finish
            for pod in active:
                self.api.delete_object(R["Pod"], pod, "Background")
            interim = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
            for ctype in (interim, kind):
                conds = set_condition(
                    conds, condition(ctype, "True", reason, message, lastProbeTime=stamp)
                )
            status.update(
                conditions=conds,
                active=0,
                succeeded=succeeded,
                failed=failed,
                ready=0,
                terminating=0,
                uncountedTerminatedPods={},
            )
            if kind == "Complete":
                status["completionTime"] = stamp
            for key in ("active", "succeeded", "failed"):
                if not status[key]:
                    del status[key]
            self._write_status(job, status, "Job")
            if kind == "Complete":
                self.record(R["Job"], job, "Normal", "Completed", "Job completed", "job-controller")
            else:
                self.record(R["Job"], job, "Warning", reason, message, "job-controller")
            return
        parallelism = spec.get("parallelism", 1)
        want = min(parallelism, completions - succeeded) - len(active)
        last_fail = self.job_last_failure.get(uid, 0.0)
        if want > 0 and (failed == 0 or t - last_fail >= self.server.job_backoff):
            for _ in range(want):
                active.append(self._create_pod(R["Job"], job, "job-controller"))
        if failed and failed != self.job_last_failure.get(uid + ":count"):
            self.job_last_failure[uid] = t
            self.job_last_failure[uid + ":count"] = failed
        status.update(
            active=len(active),
            succeeded=succeeded,
            failed=failed,
            ready=sum(1 for p in active if pod_ready(p)),
            terminating=0,
            uncountedTerminatedPods={},
        )
        for key in ("active", "succeeded", "failed"):
            if not status[key]:
                del status[key]
        self._write_status(job, status, "Job")

    # -- HPA ---------------------------------------------------------------------------------

    def sync_hpa(self, hpa: Obj) -> None:
        ref = hpa["spec"].get("scaleTargetRef") or {}
        ns = hpa["metadata"]["namespace"]
        status = copy.deepcopy(hpa.get("status") or {})
        conds = status.get("conditions") or []
        target = (
            self.store.get(R["Deployment"], ns, ref.get("name", ""))
            if ref.get("kind") == "Deployment"
            else None
        )
        if target is None:
            conds = set_condition(
                conds,
                condition(
                    "AbleToScale",
                    "False",
                    "FailedGetScale",
                    f"the HPA controller was unable to get the target's current scale: "
                    f'deployments/scale.apps "{ref.get("name")}" not found',
                ),
            )
            status.update(conditions=conds, currentReplicas=0, desiredReplicas=0)
            self._write_status(hpa, status, "HorizontalPodAutoscaler")
            return
        current = target["spec"].get("replicas", 1)
        lo, hi = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
        desired = min(max(current, lo), hi) if current else 0
        if desired != current:
            new = copy.deepcopy(target)
            new["spec"]["replicas"] = desired
            self.api.write(R["Deployment"], target, new, self.opts(), subresource="scale")
            status["lastScaleTime"] = now()
            self.record(
                R["HorizontalPodAutoscaler"],
                hpa,
                "Normal",
                "SuccessfulRescale",
                f"New size: {desired}; reason: Current number of replicas "
                f"{'below Spec.MinReplicas' if desired > current else 'above Spec.MaxReplicas'}",
                "horizontal-pod-autoscaler",
            )
        conds = set_condition(
            conds,
            condition(
                "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"
            ),
        )
        conds = set_condition(
            conds,
            condition(
                "ScalingActive",
                "False",
                "FailedGetResourceMetric",
                "the HPA was unable to compute the replica count: failed to get cpu utilization: "
                "unable to get metrics for resource cpu: "
                "no metrics returned from resource metrics API",
            ),
        )
        status.update(
            conditions=conds,
            currentReplicas=target.get("status", {}).get("replicas", 0),
            desiredReplicas=desired,
        )
        status.setdefault("currentMetrics", None)
        if status["currentMetrics"] is None:
            del status["currentMetrics"]
        self._write_status(hpa, status, "HorizontalPodAutoscaler")

    # -- endpoints ---------------------------------------------------------------------------

    def sync_endpoints(self) -> None:
        ep_res = R["Endpoints"]
        services = {
            (s["metadata"]["namespace"], s["metadata"]["name"]): s
            for s in self.store.list(R["Service"])
        }
        for ep in self.store.list(ep_res):
            key = (ep["metadata"]["namespace"], ep["metadata"]["name"])
            if key not in services:
                self.store.remove(ep_res, ep)
        for (ns, name), svc in services.items():
            selector = svc["spec"].get("selector")
            if not selector or svc["metadata"].get("deletionTimestamp"):
                continue
            pods = [
                p
                for p in self.store.list(R["Pod"], ns)
                if pod_active(p)
                and p.get("status", {}).get("podIP")
                and all(
                    (p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items()
                )
            ]
            ready, not_ready = [], []
            for p in pods:
                addr = {
                    "ip": p["status"]["podIP"],
                    "nodeName": NODE_NAME,
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": ns,
                        "name": p["metadata"]["name"],
                        "uid": p["metadata"]["uid"],
                    },
                }
                (ready if pod_ready(p) else not_ready).append(addr)
            subsets: list[Obj] = []
            if pods:
                subset: Obj = {
                    "ports": [
                        {
                            "name": port.get("name"),
                            "port": _target_port(port, pods[0]),
                            "protocol": port.get("protocol", "TCP"),
                        }
                        for port in svc["spec"].get("ports") or []
                    ]
                }
                for port in subset["ports"]:
                    if port["name"] is None:
                        del port["name"]
                if ready:
                    subset["addresses"] = sorted(ready, key=lambda a: a["ip"])
                if not_ready:
                    subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
                subsets = [subset]
            body: Obj = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": dict(svc["metadata"].get("labels") or {}),
                },
            }
            if subsets:
                body["subsets"] = subsets
            self._sync_slice(svc, ready, not_ready, subsets[0]["ports"] if subsets else [])
            existing = self.store.get(ep_res, ns, name)
            if existing is None:
                self.api.create(ep_res, ns, body, self.opts())
            elif (
                existing.get("subsets") != body.get("subsets")
                or existing["metadata"].get("labels") != body["metadata"]["labels"]
            ):
                new = copy.deepcopy(existing)
                new["metadata"]["labels"] = body["metadata"]["labels"]
                if subsets:
                    new["subsets"] = subsets
                else:
                    new.pop("subsets", None)
                self.api.write(ep_res, existing, new, self.opts())

    def _sync_slice(
        self, svc: Obj, ready: list[Obj], not_ready: list[Obj], ports: list[Obj]
    ) -> None:
        res = R["EndpointSlice"]
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        endpoints = [
            {
                "addresses": [a["ip"]],
                "conditions": {"ready": ok, "serving": ok, "terminating": False},
                "nodeName": NODE_NAME,
                "targetRef": a["targetRef"],
            }
            for ok, group in ((True, ready), (False, not_ready))
            for a in group
        ]
        existing = next(
            (s for s in self.store.list(res, ns) if owned_by(s, svc["metadata"]["uid"])), None
        )
        body: Obj = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "generateName": f"{name}-",
                "namespace": ns,
                "labels": {
                    "kubernetes.io/service-name": name,
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                },
                "ownerReferences": [owner_ref(R["Service"], svc)],
            },
            "addressType": "IPv4",
            "endpoints": sorted(endpoints, key=lambda e: e["addresses"][0]),
            "ports": ports,
        }
        if existing is None:
            self.api.create(res, ns, body, self.opts("endpointslice-controller"))
        elif existing.get("endpoints") != body["endpoints"] or existing.get("ports") != ports:
            new = copy.deepcopy(existing)
            new["endpoints"], new["ports"] = body["endpoints"], ports
            self.api.write(res, existing, new, self.opts("endpointslice-controller"))


def _target_port(port: Obj, pod: Obj) -> int:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    return int(port.get("port", 0))


def _image_id(image: str) -> str:
    import hashlib

    base = (
        image.split("@", maxsplit=1)[0].rsplit(":", 1)[0]
        if ":" in image.rsplit("/", 1)[-1]
        else image
    )
    return f"{base}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _same_status(a: Obj, b: Obj) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def describe_selector(obj: Obj) -> str:
    return selector_string(obj.get("spec", {}).get("selector"))
