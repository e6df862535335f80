"""Run the Kubernetes API test server.

python -m tests.fakes.kube_server --port N --kubeconfig PATH
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import KubeServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.kube_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    parser.add_argument("--token", default="fake-kube-token-1f2e3d")
    parser.add_argument(
        "--namespace", action="append", default=[], help="extra namespace to create (repeatable)"
    )
    parser.add_argument("--context-namespace", default="default")
    parser.add_argument("--ready-delay", type=float, default=0.2)
    parser.add_argument(
        "--broken-image",
        action="append",
        default=[],
        help="an image whose pods never become ready (repeatable)",
    )
    parser.add_argument(
        "--backend",
        action="append",
        default=[],
        metavar="IMAGE=URL",
        help="forward service-proxy requests for pods of IMAGE to URL (repeatable)",
    )
    args = parser.parse_args(argv)
    server = KubeServer(
        host=args.host,
        port=args.port,
        token=args.token,
        ready_delay=args.ready_delay,
        namespaces=tuple(args.namespace),
    )
    for image in args.broken_image:
        server.mark_image_broken(image)
    for spec in args.backend:
        image, _, url = spec.partition("=")
        server.set_backend(image, url)
    server.write_kubeconfig(args.kubeconfig, namespace=args.context_namespace)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start()
    print(f"kube test server listening on {server.url}", file=sys.stderr, flush=True)
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
