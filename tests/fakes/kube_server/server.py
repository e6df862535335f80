"""The HTTP front: routing, authentication, watch and log streams, the service proxy."""

from __future__ import annotations

import base64
import copy
import http.client
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.harness.http import JsonHandler, LoopbackServer

from . import discovery, errors, protobuf, rbac
from .api import Api, Options
from .controllers import Controllers, JobOutcome, JobProcess, pod_ready
from .errors import ApiError
from .resources import BY_KEY, RESOURCES, Resource
from .selectors import parse_field_selector, parse_label_selector, selector_string
from .store import Event, Obj, Store
from .tables import table_for

DEFAULT_TOKEN = "fake-kube-token"
PUBLIC_PATHS = {"/version", "/healthz", "/livez", "/readyz"}


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, list[str]]
    user_agent: str
    content_type: str
    authenticated: bool
    status: int


class KubeServer:
    """An in-process Kubernetes API server with simulated controllers.

    Start it with `start()` (or use it as a context manager); `url`, `token` and
    `write_kubeconfig()` connect clients to it.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        ready_delay: float = 0.2,
        tick: float = 0.05,
        job_duration: float = 0.3,
        job_backoff: float = 0.1,
        namespaces: Sequence[str] = ("default",),
        tls: bool = True,
        probes: bool = False,
        probe_period: float = 0.1,
    ) -> None:
        self.host = host
        self.tls = tls
        self.probes = probes
        self.probe_period = probe_period
        self.probe_results: dict[str, tuple[bool, str]] = {}
        self.grants: list[rbac.Grant] | None = None
        self.user = "modelship-ci"
        self._prober = threading.Thread(target=self._probe_loop, name="kube-prober", daemon=True)
        self.token = token
        self.ready_delay = ready_delay
        self.tick = tick
        self.job_duration = job_duration
        self.job_backoff = job_backoff
        self.store = Store()
        self.api = Api(self.store)
        self.broken_images: dict[str, str] = {}
        self.backends: dict[str, str] = {}
        self.pod_logs: dict[str, list[str]] = {}
        self.job_outcomes: list[tuple[str | None, str | None, str | None, JobOutcome]] = []
        self.job_processes: dict[str, JobProcess] = {}
        self.requests: list[RequestRecord] = []
        self.stopping = threading.Event()
        self.kubeconfig: Path | None = None
        self._rr: dict[tuple[str, str], int] = {}
        self.controllers = Controllers(self)
        self.httpd = _HTTPServer(_Handler, (host, port))
        self.httpd.kube = self
        if tls:
            from .tls import server_context

            self.httpd.socket = server_context().wrap_socket(
                self.httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port = int(self.httpd.server_address[1])
        with self.store.lock:
            for name in ("default", "kube-system", "kube-public", "kube-node-lease", *namespaces):
                if self.store.get(BY_KEY[("", "namespaces")], "", name) is None:
                    self.create(
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                    )
            self.create(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {
                        "name": "kubernetes",
                        "namespace": "default",
                        "labels": {"component": "apiserver", "provider": "kubernetes"},
                    },
                    "spec": {
                        "clusterIP": "10.96.0.1",
                        "ports": [{"name": "https", "port": 443, "targetPort": 6443}],
                    },
                },
                manager="kube-apiserver",
            )
            self.create(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": "fake-node",
                        "labels": {
                            "kubernetes.io/hostname": "fake-node",
                            "kubernetes.io/os": "linux",
                        },
                    },
                    "spec": {},
                }
            )
            node_res = BY_KEY[("", "nodes")]
            node = self.store.get(node_res, "", "fake-node")
            assert node is not None
            new = copy.deepcopy(node)
            new["status"] = {
                "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                    }
                ],
                "addresses": [
                    {"type": "InternalIP", "address": "10.0.0.10"},
                    {"type": "Hostname", "address": "fake-node"},
                ],
                "nodeInfo": {
                    "kubeletVersion": "v1.32.0",
                    "osImage": "Fake",
                    "containerRuntimeVersion": "containerd://1.7.0",
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                    "kernelVersion": "6.0",
                    "kubeProxyVersion": "v1.32.0",
                    "machineID": "",
                    "systemUUID": "",
                    "bootID": "",
                },
            }
            self.api.write(node_res, node, new, Options(manager="kubelet"), subresource="status")

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def ca_pem(self) -> bytes:
        from .tls import certs

        return certs().ca_pem

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server (for urllib / http.client in tests)."""
        from .tls import client_context

        return client_context()

    def start(self) -> KubeServer:
        self.httpd.start()
        self.controllers.start()
        if self.probes:
            self._prober.start()
        return self

    # -- readiness probes (opt-in) -------------------------------------------------------------

    def probe_target(self, pod: Obj) -> tuple[str, float] | None:
        """(URL, timeout) of the pod's HTTP readiness probe against its image's backend."""
        if not self.probes:
            return None
        for c in pod["spec"].get("containers") or []:
            probe = (c.get("readinessProbe") or {}).get("httpGet")
            backend = self.backends.get(c.get("image", ""))
            if isinstance(probe, dict) and backend:
                path = "/" + str(probe.get("path") or "/").lstrip("/")
                timeout = float((c.get("readinessProbe") or {}).get("timeoutSeconds") or 1)
                return backend + path, min(timeout, 2.0)
        return None

    def _probe_loop(self) -> None:
        import urllib.error
        import urllib.request

        while not self.stopping.wait(self.probe_period):
            with self.store.lock:
                targets = {
                    p["metadata"]["uid"]: t
                    for p in self.store.list(BY_KEY[("", "pods")])
                    if p.get("status", {}).get("phase") == "Running"
                    and (t := self.probe_target(p)) is not None
                }
            results: dict[str, tuple[bool, str]] = {}
            for uid, (url, timeout) in targets.items():
                try:
                    with urllib.request.urlopen(url, timeout=timeout) as resp:
                        results[uid] = (
                            200 <= resp.status < 400,
                            f"HTTP probe returned {resp.status}",
                        )
                except urllib.error.HTTPError as err:
                    results[uid] = (False, f"HTTP probe failed with statuscode: {err.code}")
                except OSError as err:
                    results[uid] = (False, f'Get "{url}": {err}')
            with self.store.changed:
                self.probe_results = results
                self.store.changed.notify_all()

    def stop(self) -> None:
        self.stopping.set()
        with self.store.changed:
            self.store.changed.notify_all()
        self.controllers.stop()
        if self._prober.is_alive():
            self._prober.join(timeout=5)
        self.httpd.stop()

    def __enter__(self) -> KubeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_kubeconfig(
        self, path: Path | str, *, namespace: str = "default", context: str = "fake"
    ) -> Path:
        path = Path(path)
        cluster: dict[str, str] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake-cluster", "cluster": cluster}],
            "users": [{"name": "fake-user", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {
                        "cluster": "fake-cluster",
                        "user": "fake-user",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": context,
            "preferences": {},
        }
        partial = path.with_name(path.name + ".partial")
        partial.write_text(yaml.safe_dump(config, sort_keys=False))
        partial.chmod(0o600)
        partial.replace(path)  # readers never see half a file
        self.kubeconfig = path
        return path

    # -- test controls -----------------------------------------------------------------------

    def mark_image_broken(self, image: str, reason: str = "ImagePullBackOff") -> None:
        """Pods running `image` never become ready (ImagePullBackOff or CrashLoopBackOff)."""
        if reason not in ("ImagePullBackOff", "CrashLoopBackOff"):
            raise ValueError(f"unsupported reason {reason!r}")
        with self.store.lock:
            self.broken_images[image] = reason

    def restrict(self, *roles: Obj, user: str = "modelship-ci") -> None:
        """From now on the token may only do what these Roles/ClusterRoles allow.

        As if a RoleBinding bound them to `user`; pass manifests as dicts. Call with
        no roles to deny everything; `unrestrict()` lifts it.
        """
        grants = rbac.grants_of(roles)
        with self.store.lock:
            self.grants = grants
            self.user = user

    def unrestrict(self) -> None:
        with self.store.lock:
            self.grants = None

    def mark_image_fixed(self, image: str) -> None:
        with self.store.lock:
            self.broken_images.pop(image, None)

    def set_pods_failing(self, image: str) -> None:
        """Containers of `image` start, crash and restart (CrashLoopBackOff)."""
        self.mark_image_broken(image, "CrashLoopBackOff")

    def set_backend(self, image: str, url: str | None) -> None:
        """Pods running `image` answer the service proxy by forwarding to `url`."""
        with self.store.lock:
            if url is None:
                self.backends.pop(image, None)
            else:
                self.backends[image] = url.rstrip("/")

    def set_pod_logs(self, image: str, lines: Iterable[str]) -> None:
        """What long-running pods of `image` print when they start."""
        with self.store.lock:
            self.pod_logs[image] = list(lines)

    def set_job_outcome(
        self,
        outcome: str,
        *,
        job: str | None = None,
        image: str | None = None,
        namespace: str | None = None,
        logs: Iterable[str] = (),
        duration: float | None = None,
        exit_code: int = 1,
    ) -> None:
        """How pods of matching Jobs end: succeed, fail, unschedulable or hang.

        Matched by Job name, then image; the latest matching rule wins. The pod prints
        `logs` (spread over `duration` seconds of running) before it ends.
        """
        if outcome not in ("succeed", "fail", "unschedulable", "hang"):
            raise ValueError(f"unsupported outcome {outcome!r}")
        with self.store.lock:
            self.job_outcomes.append(
                (namespace, job, image, JobOutcome(outcome, list(logs), duration, exit_code))
            )

    def set_job_process(
        self, image: str, cwd: str | Path, env: Mapping[str, str] | None = None
    ) -> None:
        """Job pods of `image` run their container's command (command + args) as a local
        process in `cwd`, with `env` (default: this process's environment) plus the
        container's `env` values and `envFrom` Secrets/ConfigMaps. Its output is the pod's
        log as it comes; its exit code decides Succeeded/Failed. Deleting the pod kills it.
        """
        with self.store.lock:
            self.job_processes[image] = JobProcess(
                str(cwd), dict(os.environ if env is None else env)
            )

    def job_outcome_for(self, namespace: str, job: str, images: list[str]) -> JobOutcome:
        for ns, name, image, outcome in reversed(self.job_outcomes):
            if ns not in (None, namespace):
                continue
            if name is not None and name != job:
                continue
            if image is not None and image not in images:
                continue
            return outcome
        return JobOutcome()

    def resource(self, kind: str) -> Resource:
        for r in RESOURCES:
            if kind in (r.kind, r.plural, r.singular, *r.short_names):
                return r
        raise KeyError(kind)

    def get(self, kind: str, name: str, namespace: str = "default") -> Obj | None:
        res = self.resource(kind)
        with self.store.lock:
            obj = self.store.get(res, namespace if res.namespaced else "", name)
            return self.api.with_type(res, copy.deepcopy(obj)) if obj else None

    def list(self, kind: str, namespace: str | None = None) -> list[Obj]:
        res = self.resource(kind)
        with self.store.lock:
            return [
                self.api.with_type(res, copy.deepcopy(o)) for o in self.store.list(res, namespace)
            ]

    def create(self, obj: Obj, *, manager: str = "test") -> Obj:
        res = self.resource(obj["kind"])
        ns = obj.get("metadata", {}).get("namespace", "default") if res.namespaced else ""
        return self.api.create(res, ns, obj, Options(manager=manager))

    def create_namespace(self, name: str) -> Obj:
        return self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def logs_of(
        self, pod: str, namespace: str = "default", container: str | None = None
    ) -> list[str]:
        with self.store.lock:
            for (ns, name, c), lines in self.controllers.logs.items():
                if ns == namespace and name == pod and container in (None, c):
                    return list(lines)
        return []

    def wait_for(self, predicate: Any, timeout: float = 10.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.02)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}")

    def requests_matching(
        self, method: str | None = None, path_contains: str = ""
    ) -> list[RequestRecord]:
        return [
            r
            for r in list(self.requests)
            if (method is None or r.method == method) and path_contains in r.path
        ]

    # -- proxy -------------------------------------------------------------------------------

    def pick_backend(self, ns: str, service: str) -> tuple[str, str]:
        """(backend url, pod name) of the next ready pod behind `service`, round robin."""
        with self.store.lock:
            svc = self.store.get(BY_KEY[("", "services")], ns, service)
            if svc is None:
                raise errors.not_found(BY_KEY[("", "services")], service)
            selector = svc["spec"].get("selector") or {}
            pods = [
                p
                for p in self.store.list(BY_KEY[("", "pods")], ns)
                if selector
                and pod_ready(p)
                and not p["metadata"].get("deletionTimestamp")
                and all(
                    (p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items()
                )
            ]
            if not pods:
                raise errors.service_unavailable(f'no endpoints available for service "{service}"')
            key = (ns, service)
            idx = self._rr.get(key, 0) % len(pods)
            self._rr[key] = idx + 1
            pod = pods[idx]
            return self._pod_backend(pod), pod["metadata"]["name"]

    def pod_backend(self, ns: str, name: str) -> str:
        with self.store.lock:
            pod = self.store.get(BY_KEY[("", "pods")], ns, name)
            if pod is None:
                raise errors.not_found(BY_KEY[("", "pods")], name)
            if not pod.get("status", {}).get("podIP"):
                raise errors.bad_request(f'pod "{name}" has no IP address yet')
            return self._pod_backend(pod)

    def _pod_backend(self, pod: Obj) -> str:
        for c in pod["spec"].get("containers") or []:
            url = self.backends.get(c.get("image", ""))
            if url:
                return url
        ip = pod.get("status", {}).get("podIP", "")
        raise errors.service_unavailable(
            f"error trying to reach service: dial tcp {ip}:80: connect: connection refused"
        )


class _HTTPServer(LoopbackServer):
    allow_reuse_address = True
    kube: KubeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # dropped connections and failed TLS handshakes are the client's business


def _first(query: dict[str, list[str]], key: str, default: str | None = None) -> str | None:
    values = query.get(key)
    return values[0] if values else default


class _Handler(JsonHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 300
    # Per request: the status sent, whether the request is in `kube.requests` yet.
    _status = 0
    _recorded = False
    _authenticated = False
    _path = ""
    _query: dict[str, list[str]] = {}  # noqa: RUF012 - replaced per request, never mutated

    def setup(self) -> None:
        super().setup()
        # headers and body go out in one segment; without this a client's delayed ACK
        # adds ~40 ms to every response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def kube(self) -> KubeServer:
        return self.server.kube

    # -- plumbing ----------------------------------------------------------------------------

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        code: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        if isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload, separators=(",", ":")).encode()
        self._status = code
        self._record()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _start_stream(self, content_type: str = "application/json") -> None:
        self._status = 200
        self._record()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _error(self, err: ApiError) -> None:
        self._send(err.code, err.status(), err.headers)

    # -- dispatch ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        self._status = 0
        self._recorded = False
        self._path, self._query = path, query
        auth = self.headers.get("Authorization", "")
        authenticated = auth == f"Bearer {self.kube.token}"
        self._authenticated = authenticated
        try:
            if not authenticated and path.rstrip("/") not in PUBLIC_PATHS:
                self._body()
                raise errors.unauthorized()
            self._route(path, query)
        except ApiError as err:
            if self._status:
                self.close_connection = True
            else:
                self._error(err)
        except OSError:  # the client went away (broken pipe, reset, TLS EOF)
            self.close_connection = True
        except Exception as err:  # a server bug: answer like the real server's 500
            self.close_connection = True
            if not self._status:
                self._error(ApiError(500, "InternalError", f"Internal error occurred: {err!r}"))
        finally:
            self._record()  # a request that got no answer is recorded with status 0

    def _record(self) -> None:
        """Record the request once, as soon as its status is known and before the
        client can read the answer: a test that looks right after its call sees it."""
        if self._recorded:
            return
        self._recorded = True
        self.kube.requests.append(
            RequestRecord(
                self.command,
                self._path,
                self._query,
                self.headers.get("User-Agent", ""),
                self.headers.get("Content-Type", ""),
                self._authenticated,
                self._status,
            )
        )

    def _route(self, path: str, query: dict[str, list[str]]) -> None:
        segs = [urllib.parse.unquote(s) for s in path.strip("/").split("/") if s]
        method = self.command
        discovery_path = segs in (["version"], ["api"], ["api", "v1"]) or (
            segs[:1] == ["apis"] and len(segs) <= 3
        )
        if method not in ("GET", "HEAD") and discovery_path:
            raise errors.method_not_allowed()
        if segs == ["version"]:
            return self._send(200, discovery.SERVER_VERSION)
        if segs and segs[0] in ("healthz", "livez", "readyz"):
            return self._send(200, "ok", content_type="text/plain; charset=utf-8")
        if segs == ["api"]:
            return self._send(200, discovery.api_versions(f"{self.kube.host}:{self.kube.port}"))
        if segs == ["apis"]:
            return self._send(200, discovery.group_list())
        if segs == ["api", "v1"]:
            return self._send(200, discovery.resource_list("v1"))
        if len(segs) == 2 and segs[0] == "apis":
            group = discovery.group(segs[1])
            if group is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self._send(200, group)
        if len(segs) == 3 and segs[0] == "apis":
            doc = discovery.resource_list(f"{segs[1]}/{segs[2]}")
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self._send(200, doc)
        if segs[:2] == ["openapi", "v3"]:
            if len(segs) == 2:
                return self._send(200, discovery.openapi_v3_index())
            doc = discovery.openapi_v3_doc("/".join(segs[2:]))
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self._send(200, doc)
        if segs[:1] == ["_fake"] and len(segs) == 2 and method == "POST":
            return self._send(200, self._control(segs[1], self._json_body() or {}))
        if segs[:1] == ["api"] and segs[1:2] == ["v1"]:
            return self._resource("", "v1", segs[2:], query)
        if segs[:1] == ["apis"] and len(segs) >= 3:
            return self._resource(segs[1], segs[2], segs[3:], query)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _control(self, action: str, args: dict[str, Any]) -> Any:
        """Test controls for a server running in another process (not part of Kubernetes)."""
        kube = self.kube
        if action == "mark-image-broken":
            kube.mark_image_broken(args["image"], args.get("reason", "ImagePullBackOff"))
        elif action == "mark-image-fixed":
            kube.mark_image_fixed(args["image"])
        elif action == "set-backend":
            kube.set_backend(args["image"], args.get("url"))
        elif action == "set-pod-logs":
            kube.set_pod_logs(args["image"], args.get("lines", []))
        elif action == "restrict":
            kube.restrict(*args.get("roles", []), user=args.get("user", "modelship-ci"))
        elif action == "unrestrict":
            kube.unrestrict()
        elif action == "set-job-process":
            kube.set_job_process(args["image"], args["cwd"], args.get("env"))
        elif action == "set-job-outcome":
            kube.set_job_outcome(**args)
        elif action == "get":
            return kube.get(args["kind"], args["name"], args.get("namespace", "default"))
        elif action == "list":
            return kube.list(args["kind"], args.get("namespace"))
        elif action == "requests":
            return [r.__dict__ for r in kube.requests]
        else:
            raise ApiError(404, "NotFound", f"unknown control {action!r}")
        return None

    def _resource(
        self, group: str, version: str, rest: list[str], query: dict[str, list[str]]
    ) -> None:
        def lookup(plural: str) -> Resource:
            res = BY_KEY.get((group, plural))
            if res is None or res.version != version:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return res

        ns: str | None = None
        namespace_subresource = group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")
        if rest[:1] == ["namespaces"] and len(rest) >= 3 and not namespace_subresource:
            ns = rest[1]
            rest = rest[2:]
        if not rest:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        res = lookup(rest[0])
        if res.namespaced and ns is None and len(rest) > 1:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not res.namespaced and ns is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        tail = rest[3:]
        ns_key = ns or ""
        method = self.command
        self._authorize(res, ns, name, sub, query)
        opts = Options(
            manager=_first(query, "fieldManager") or self._ua_manager(),
            explicit_manager=bool(_first(query, "fieldManager")),
            dry_run=_first(query, "dryRun") == "All",
            field_validation=_first(query, "fieldValidation", "Warn") or "Warn",
            force=_first(query, "force") == "true",
        )
        if opts.field_validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f"fieldValidation parameter unsupported: {opts.field_validation}"
            )
        if name is None:
            if method in ("GET", "HEAD"):
                if _first(query, "watch") in ("true", "1"):
                    return self._watch(res, ns, query)
                listing = self.kube.api.list(
                    res,
                    ns,
                    label_selector=_first(query, "labelSelector"),
                    field_selector=_first(query, "fieldSelector"),
                    limit=int(_first(query, "limit", "0") or 0),
                    cont=_first(query, "continue"),
                )
                return self._send_obj(200, res, listing, query)
            if method == "POST":
                if ns is None and res.namespaced:
                    raise errors.method_not_allowed()
                body = self._json_body()
                obj = self.kube.api.create(res, ns_key, body, opts)
                return self._send(201, obj, self._warnings(opts))
            if method == "DELETE":
                self._body()
                listing = self.kube.api.list(
                    res,
                    ns,
                    label_selector=_first(query, "labelSelector"),
                    field_selector=_first(query, "fieldSelector"),
                )
                for item in listing["items"]:
                    self.kube.api.delete(
                        res,
                        ns_key,
                        item["metadata"]["name"],
                        propagation=_first(query, "propagationPolicy"),
                    )
                return self._send(200, listing)
            raise errors.method_not_allowed()
        if sub == "":
            return self._object(res, ns_key, name, opts, query)
        if sub == "status" and res.status_subresource:
            return self._object(res, ns_key, name, opts, query, subresource="status")
        if sub == "scale" and res.kind in ("Deployment", "ReplicaSet"):
            return self._scale(res, ns_key, name, opts)
        if sub == "log" and res.kind == "Pod":
            return self._log(ns_key, name, query)
        if sub == "proxy" and res.kind in ("Service", "Pod"):
            return self._proxy(res, ns_key, name, tail)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _authorize(self, res: Resource, ns: str | None, name: str | None, sub: str,
                   query: dict[str, list[str]]) -> None:  # fmt: skip
        kube = self.kube
        if kube.grants is None:
            return
        method = self.command
        watch = _first(query, "watch") in ("true", "1")
        verb = rbac.verb_for(method, collection=name is None, watch=watch, sub=sub)
        if not rbac.allowed(kube.grants, verb, res, sub, ns, name):
            raise rbac.forbidden(kube.user, verb, res, sub, ns, name)
        ctype = self.headers.get("Content-Type", "")
        if method == "PATCH" and ctype.startswith("application/apply-patch") and name and not sub:
            with kube.store.lock:
                exists = kube.store.get(res, ns or "", name) is not None
            if not exists and not rbac.allowed(kube.grants, "create", res, sub, ns, name):
                raise rbac.forbidden(kube.user, "create", res, sub, ns, name)

    def _ua_manager(self) -> str:
        ua = self.headers.get("User-Agent", "")
        return ua.split("/")[0] if ua else "unknown"

    def _warnings(self, opts: Options) -> dict[str, str]:
        if not opts.warnings:
            return {}
        escaped = [w.replace("\\", "\\\\").replace('"', '\\"') for w in opts.warnings]
        return {"Warning": ", ".join(f'299 - "{w}"' for w in escaped)}

    def _json_body(self) -> Any:
        raw = self._body()
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if ctype == protobuf.CONTENT_TYPE:
            return protobuf.decode(raw)
        if ctype not in (
            "application/json",
            "application/yaml",
            "application/apply-patch+yaml",
            "*/*",
        ):
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media "
                f"types include: application/json, application/yaml, "
                f'{protobuf.CONTENT_TYPE} (got "{ctype}")',
            )
        try:
            if ctype in ("application/yaml", "application/apply-patch+yaml"):
                return yaml.safe_load(raw.decode())
            return json.loads(raw.decode() or "null")
        except (ValueError, yaml.YAMLError) as err:
            raise errors.bad_request(f"error decoding request body: {err}") from err

    def _send_obj(
        self,
        code: int,
        res: Resource,
        obj: Obj,
        query: dict[str, list[str]],
        headers: dict[str, str] | None = None,
    ) -> None:
        accept = self.headers.get("Accept", "")
        if "as=Table" in accept:
            include = _first(query, "includeObject", "Metadata") or "Metadata"
            return self._send(code, table_for(res, obj, include), headers)
        return self._send(code, obj, headers)

    def _object(
        self,
        res: Resource,
        ns: str,
        name: str,
        opts: Options,
        query: dict[str, list[str]],
        *,
        subresource: str = "",
    ) -> None:
        api = self.kube.api
        method = self.command
        if method in ("GET", "HEAD"):
            if _first(query, "watch") in ("true", "1"):
                query = dict(query)
                query["fieldSelector"] = [f"metadata.name={name}"]
                return self._watch(res, ns or None, query)
            return self._send_obj(200, res, api.get(res, ns, name), query)
        if method == "PUT":
            body = self._json_body()
            obj = api.update(res, ns, name, body, opts, subresource=subresource)
            return self._send(200, obj, self._warnings(opts))
        if method == "PATCH":
            raw = self._body()
            ctype = self.headers.get("Content-Type", "")
            existed = True
            if ctype.startswith("application/apply-patch"):
                with self.kube.store.lock:
                    existed = self.kube.store.get(res, ns, name) is not None
            obj = api.patch(res, ns, name, ctype, raw, opts=opts, subresource=subresource)
            return self._send(200 if existed else 201, obj, self._warnings(opts))
        if method == "DELETE":
            raw = self._body()
            options: dict[str, Any] = {}
            if raw.startswith(protobuf.MAGIC):
                options = protobuf.decode(raw)
            elif raw.strip():
                try:
                    options = json.loads(raw)
                except ValueError as err:
                    raise errors.bad_request(f"invalid DeleteOptions: {err}") from err
            propagation = options.get("propagationPolicy") or _first(query, "propagationPolicy")
            if options.get("orphanDependents") is True:
                propagation = "Orphan"
            dry = "All" in (options.get("dryRun") or []) or opts.dry_run
            obj = api.delete(
                res,
                ns,
                name,
                propagation=propagation,
                dry_run=dry,
                preconditions=options.get("preconditions"),
            )
            return self._send(200, obj)
        raise errors.method_not_allowed()

    def _scale(self, res: Resource, ns: str, name: str, opts: Options) -> None:
        api = self.kube.api
        if self.command == "GET":
            return self._send(200, _scale_of(api.get(res, ns, name)))
        if self.command == "PUT":
            body = self._json_body()
            replicas = (body or {}).get("spec", {}).get("replicas")
        elif self.command == "PATCH":
            raw = self._body()
            current = _scale_of(api.get(res, ns, name))
            from .api import PATCH_TYPES
            from .merge import json_merge_patch, json_patch

            kind = PATCH_TYPES.get(self.headers.get("Content-Type", "").split(";")[0])
            patch = json.loads(raw or b"{}") if kind != "apply" else yaml.safe_load(raw)
            patched = (
                json_patch(current, patch) if kind == "json" else json_merge_patch(current, patch)
            )
            replicas = patched.get("spec", {}).get("replicas")
        else:
            raise errors.method_not_allowed()
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                res,
                name,
                [
                    (
                        "FieldValueInvalid",
                        "spec.replicas",
                        f"Invalid value: {replicas}: must be greater than or equal to 0",
                    )
                ],
            )
        with self.kube.store.lock:
            old = self.kube.store.get(res, ns, name)
            if old is None:
                raise errors.not_found(res, name)
            new = copy.deepcopy(old)
            new["spec"]["replicas"] = replicas
            obj = api.write(res, old, new, opts, subresource="scale")
        return self._send(200, _scale_of(obj))

    # -- watch -------------------------------------------------------------------------------

    def _watch(self, res: Resource, ns: str | None, query: dict[str, list[str]]) -> None:
        store = self.kube.store
        labels = parse_label_selector(_first(query, "labelSelector"))
        fields = parse_field_selector(_first(query, "fieldSelector"), res.kind)
        timeout = float(_first(query, "timeoutSeconds", "1800") or 1800)
        rv_text = _first(query, "resourceVersion", "") or ""
        bookmarks = _first(query, "allowWatchBookmarks") == "true"
        initial_events = _first(query, "sendInitialEvents") == "true"
        deadline = time.monotonic() + timeout

        def matches(obj: Obj | None) -> bool:
            if obj is None:
                return False
            if ns is not None and obj["metadata"].get("namespace", "") != ns:
                return False
            return labels(obj["metadata"].get("labels") or {}) and fields(obj)

        def encode(etype: str, obj: Obj) -> bytes:
            return (
                json.dumps(
                    {"type": etype, "object": self.kube.api.with_type(res, obj)},
                    separators=(",", ":"),
                ).encode()
                + b"\n"
            )

        initial: list[bytes] = []
        with store.lock:
            if rv_text in ("", "0") or initial_events:
                last = store.rv
                for obj in store.list(res, ns if res.namespaced else None):
                    if matches(obj):
                        initial.append(encode("ADDED", obj))
                if initial_events and bookmarks:
                    initial.append(
                        json.dumps(
                            {
                                "type": "BOOKMARK",
                                "object": {
                                    "kind": res.kind,
                                    "apiVersion": res.api_version,
                                    "metadata": {
                                        "resourceVersion": str(last),
                                        "annotations": {"k8s.io/initial-events-end": "true"},
                                    },
                                },
                            }
                        ).encode()
                        + b"\n"
                    )
            else:
                try:
                    last = int(rv_text)
                except ValueError as err:
                    raise errors.bad_request(f"invalid resource version: {rv_text}") from err
                if last < store.oldest_rv - 1:
                    self._start_stream()
                    status = errors.gone(f"too old resource version: {last} ({store.oldest_rv})")
                    self._chunk(
                        json.dumps({"type": "ERROR", "object": status.status()}).encode() + b"\n"
                    )
                    self._end_stream()
                    return
        self._start_stream()
        for line in initial:
            self._chunk(line)
        while not self.kube.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            out: list[bytes] = []
            with store.changed:
                if store.rv <= last:
                    store.changed.wait(min(remaining, 1.0))
                events: list[Event] = store.events_after(last)
                if events:
                    last = events[-1].rv
            for ev in events:
                if ev.res is not res:
                    continue
                now_match = matches(ev.obj)
                before = matches(ev.previous) if ev.previous is not None else False
                if ev.type == "ADDED" and now_match:
                    out.append(encode("ADDED", ev.obj))
                elif ev.type == "DELETED" and before:
                    out.append(encode("DELETED", ev.obj))
                elif ev.type == "MODIFIED":
                    if now_match and before:
                        out.append(encode("MODIFIED", ev.obj))
                    elif now_match:
                        out.append(encode("ADDED", ev.obj))
                    elif before:
                        out.append(encode("DELETED", ev.obj))
            for line in out:
                self._chunk(line)
        self._end_stream()

    # -- logs --------------------------------------------------------------------------------

    def _log(self, ns: str, name: str, query: dict[str, list[str]]) -> None:
        kube = self.kube
        pods = BY_KEY[("", "pods")]
        follow = _first(query, "follow") in ("true", "1")
        tail = _first(query, "tailLines")
        with kube.store.lock:
            pod = kube.store.get(pods, ns, name)
            if pod is None:
                raise errors.not_found(pods, name)
            containers = [c["name"] for c in pod["spec"].get("containers") or []]
            container = _first(query, "container") or (
                containers[0] if len(containers) == 1 else None
            )
            if container is None:
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(containers)}]"
                )
            if container not in containers:
                raise errors.bad_request(f"container {container} is not valid for pod {name}")
            phase = pod.get("status", {}).get("phase")
            statuses = {
                cs["name"]: cs for cs in pod.get("status", {}).get("containerStatuses") or []
            }
            state = statuses.get(container, {}).get("state", {})
            if "waiting" in state or not state:
                reason = state.get("waiting", {}).get("reason", "ContainerCreating")
                raise errors.bad_request(
                    f'container "{container}" in pod "{name}" is waiting to start: {reason}'
                )
            del phase
        key = (ns, name, container)
        sent = 0
        lines = list(kube.controllers.logs.get(key, []))
        if tail is not None:
            sent = max(0, len(lines) - int(tail))
        if not follow:
            text = "".join(line + "\n" for line in lines[sent:])
            return self._send(200, text, content_type="text/plain")
        self._start_stream("text/plain")
        while not kube.stopping.is_set():
            with kube.store.changed:
                lines = list(kube.controllers.logs.get(key, []))
                pod = kube.store.get(pods, ns, name)
                done = pod is None or pod.get("status", {}).get("phase") in ("Succeeded", "Failed")
                if sent >= len(lines) and not done:
                    kube.store.changed.wait(0.5)
                    continue
            if sent < len(lines):
                self._chunk("".join(line + "\n" for line in lines[sent:]).encode())
                sent = len(lines)
            if done:
                break
        self._end_stream()

    # -- proxy -------------------------------------------------------------------------------

    def _proxy(self, res: Resource, ns: str, name: str, tail: list[str]) -> None:
        target = name.split(":")
        if len(target) == 3:  # scheme:name:port
            target = target[1:]
        svc_name = target[0]
        # Read the body first: an error answer must not leave it on a kept-alive connection.
        body = self._body()
        if res.kind == "Service":
            backend, _pod = self.kube.pick_backend(ns, svc_name)
        else:
            backend = self.kube.pod_backend(ns, svc_name)
        url = urllib.parse.urlsplit(backend)
        raw_path = urllib.parse.urlsplit(self.path)
        marker = "/proxy"
        idx = raw_path.path.find(marker)
        rest = raw_path.path[idx + len(marker) :] if idx >= 0 else "/"
        path = (url.path.rstrip("/") + (rest or "/")) + (
            f"?{raw_path.query}" if raw_path.query else ""
        )
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=60)
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower()
            not in (
                "authorization",
                "host",
                "connection",
                "content-length",
                "transfer-encoding",
                "accept-encoding",
            )
        }
        try:
            conn.request(self.command, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as err:
            raise errors.service_unavailable(f"error trying to reach service: {err}") from err
        finally:
            conn.close()
        passthrough = {
            k: v
            for k, v in resp.getheaders()
            if k.lower()
            not in (
                "content-length",
                "transfer-encoding",
                "connection",
                "content-type",
                "date",
                "server",
            )
        }
        self._send(
            resp.status,
            data,
            passthrough,
            content_type=resp.getheader("Content-Type") or "application/octet-stream",
        )


def _scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj["spec"].get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": selector_string(obj["spec"].get("selector")),
        },
    }
