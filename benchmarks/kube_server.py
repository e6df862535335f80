"""How fast the Kubernetes API test server answers, so tests built on it stay quick.

    python benchmarks/kube_server.py [--requests 300]

Prints: start-up and shut-down time (including the throwaway CA), the latency
of a GET, a LIST of 300 objects and a server-side apply over one kept-alive
HTTPS connection (median and 95th percentile), how long after a write a watch
delivers the event, and how long a 10-replica rollout takes to complete
(pods become ready after the default 0.2 s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakes.kube_server import KubeServer  # noqa: E402
from tests.fixtures.kube import kube_server  # noqa: E402


def _timed(
    conn: http.client.HTTPSConnection,
    token: str,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    ctype: str = "application/json",
) -> float:
    started = time.perf_counter()
    conn.request(
        method, path, body=body, headers={"Authorization": f"Bearer {token}", "Content-Type": ctype}
    )
    resp = conn.getresponse()
    resp.read()
    if resp.status >= 300:
        raise SystemExit(f"{method} {path}: {resp.status}")
    return time.perf_counter() - started


def _stats(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(f"{name:<34} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms")


def _watch_once(kube: KubeServer, base: str, rv: str, stamp: dict[str, float],
                done: threading.Event) -> None:  # fmt: skip
    conn = http.client.HTTPSConnection("127.0.0.1", kube.port, context=kube.ssl_context())
    conn.request("GET", f"{base}?watch=true&resourceVersion={rv}&timeoutSeconds=5",
                 headers={"Authorization": f"Bearer {kube.token}"})  # fmt: skip
    resp = conn.getresponse()
    resp.readline()  # the first event's line
    stamp["seen"] = time.perf_counter()
    done.set()
    conn.close()


def _available(kube: KubeServer) -> int:
    dep = kube.get("deployments", "bench") or {}
    return int(dep.get("status", {}).get("availableReplicas", 0))


def _deployment(replicas: int) -> dict[str, object]:
    labels = {"app": "bench"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                     {"name": "model", "image": "registry.local/bench:1"}]}}},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    started = time.perf_counter()
    server = KubeServer().start()
    up = time.perf_counter() - started
    started = time.perf_counter()
    server.stop()
    print(f"{'start (first, with CA)':<34} {up * 1000:7.1f} ms")
    print(f"{'stop':<34} {(time.perf_counter() - started) * 1000:7.1f} ms")
    started = time.perf_counter()
    KubeServer().start().stop()
    print(f"{'start + stop (later servers)':<34} {(time.perf_counter() - started) * 1000:7.1f} ms")

    with tempfile.TemporaryDirectory() as tmp, kube_server(Path(tmp)) as kube:
        conn = http.client.HTTPSConnection("127.0.0.1", kube.port, context=kube.ssl_context())
        base = "/api/v1/namespaces/default/configmaps"
        for i in range(300):
            body = json.dumps({"metadata": {"name": f"cm-{i}"}, "data": {"k": "v" * 100}})
            _timed(conn, kube.token, "POST", base, body.encode())
        _stats("GET one object", [_timed(conn, kube.token, "GET", f"{base}/cm-1")
                                  for _ in range(args.requests)])  # fmt: skip
        _stats("LIST 300 objects", [_timed(conn, kube.token, "GET", base)
                                    for _ in range(max(20, args.requests // 10))])  # fmt: skip
        apply_path = (
            "/apis/apps/v1/namespaces/default/deployments/bench?fieldManager=bench&force=true"
        )
        dep = json.dumps(_deployment(1)).encode()
        _stats("server-side apply (no change)", [
            _timed(conn, kube.token, "PATCH", apply_path, dep, ctype="application/apply-patch+yaml")
            for _ in range(args.requests // 3)])  # fmt: skip

        latencies: list[float] = []
        for i in range(30):
            rv = str(kube.store.rv)
            done = threading.Event()
            stamp: dict[str, float] = {}
            reader = threading.Thread(target=_watch_once, args=(kube, base, rv, stamp, done))
            reader.start()
            time.sleep(0.05)
            stamp["write"] = time.perf_counter()
            body = json.dumps({"metadata": {"name": f"w-{i}"}}).encode()
            _timed(conn, kube.token, "POST", base, body)
            done.wait(5)
            reader.join()
            latencies.append(stamp["seen"] - stamp["write"])
        _stats("write -> watch event", latencies)

        rollouts = []
        replicas = 10
        for _ in range(3):
            conn.request("DELETE", "/apis/apps/v1/namespaces/default/deployments/bench",
                         headers={"Authorization": f"Bearer {kube.token}"})  # fmt: skip
            conn.getresponse().read()
            kube.wait_for(lambda: not kube.list("pods"), timeout=20)
            started = time.perf_counter()
            body = json.dumps(_deployment(replicas)).encode()
            _timed(
                conn, kube.token, "PATCH", apply_path, body, ctype="application/apply-patch+yaml"
            )
            kube.wait_for(lambda: _available(kube) == replicas, timeout=20)
            rollouts.append(time.perf_counter() - started)
        print(
            f"{'10-replica rollout to Available':<34} median "
            f"{statistics.median(rollouts) * 1000:7.1f} ms (ready_delay 200 ms)"
        )
        conn.close()


if __name__ == "__main__":
    main()
