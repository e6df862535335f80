"""Objects, the resourceVersion clock and the watch event history."""

from __future__ import annotations

import bisect
import copy
import threading
from dataclasses import dataclass
from typing import Any

from .resources import RESOURCES, Resource

Obj = dict[str, Any]

HISTORY_LIMIT = 200_000


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    res: Resource
    obj: Obj
    previous: Obj | None


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rv = 1
        self.objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {
            r.key: {} for r in RESOURCES
        }
        self.history: list[Event] = []
        self._rvs: list[int] = []
        self.oldest_rv = 1

    # Callers hold self.lock for any sequence that must be consistent.

    def get(self, res: Resource, ns: str, name: str) -> Obj | None:
        return self.objects[res.key].get((ns, name))

    def list(self, res: Resource, ns: str | None = None) -> list[Obj]:
        items = self.objects[res.key]
        keys = sorted(k for k in items if ns is None or k[0] == ns)
        return [items[k] for k in keys]

    def put(self, res: Resource, obj: Obj) -> Obj:
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            previous = self.objects[res.key].get(key)
            self.rv += 1
            stored = copy.deepcopy(obj)
            stored["metadata"]["resourceVersion"] = str(self.rv)
            self.objects[res.key][key] = stored
            self._record(Event(self.rv, "MODIFIED" if previous else "ADDED", res, stored, previous))
            return stored

    def remove(self, res: Resource, obj: Obj) -> Obj:
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            previous = self.objects[res.key].pop(key)
            self.rv += 1
            gone = copy.deepcopy(previous)
            gone["metadata"]["resourceVersion"] = str(self.rv)
            self._record(Event(self.rv, "DELETED", res, gone, previous))
            return gone

    def _record(self, event: Event) -> None:
        self.history.append(event)
        self._rvs.append(event.rv)
        if len(self.history) > HISTORY_LIMIT:
            drop = len(self.history) - HISTORY_LIMIT // 2
            self.oldest_rv = self.history[drop].rv
            del self.history[:drop]
            del self._rvs[:drop]
        self.changed.notify_all()

    def events_after(self, rv: int) -> list[Event]:
        idx = bisect.bisect_right(self._rvs, rv)
        return self.history[idx:]
