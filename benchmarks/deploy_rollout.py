"""How long a deploy takes beyond the rollout itself, and how many API calls it makes.

    python benchmarks/deploy_rollout.py [--repeat 5]

Runs `modelship deploy` in-process against the Kubernetes API test server
(pods become ready after 0.2 s) with a trivial model backend behind the
service proxy, for each strategy, and prints per strategy the median wall
time of a deploy (first deploy, then an update) and the API requests the
update made besides its watch streams (the test server logs a watch when the
stream closes, so watches are not counted). A deploy that waited by polling
would show dozens of GETs per second of rollout; one that watches shows a
handful in all.
"""

from __future__ import annotations

import argparse
import http.server
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.kube import kube_server  # noqa: E402

from modelship.cli import main  # noqa: E402


class _Model(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"predictions": [0, 1]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _deploy(workspace: Path, kubeconfig: Path, image: str, strategy: str) -> float:
    args = [
        "deploy", "--image", image, "--model-name", "bench", "--environment", "staging",
        "--namespace", "ml", "--kubeconfig", str(kubeconfig), "--strategy", strategy,
        "--smoke-payload", '[{"a": 1}, {"a": 2}]', "--smoke-expect", "[0, 1]",
    ]  # fmt: skip
    started = time.perf_counter()
    code = main(args, env={"PATH": "", "HOME": str(workspace)}, cwd=workspace,
                stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    if code != 0:
        raise SystemExit(f"deploy failed with {code}")
    return time.perf_counter() - started


def main_(repeat: int) -> None:
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{backend.server_address[1]}"
    print(f"{'strategy':<11} {'first (s)':>9} {'update (s)':>10} {'calls':>6}")
    for strategy in ("rolling", "canary", "blue-green"):
        firsts, updates, calls = [], [], []
        for _ in range(repeat):
            with (
                tempfile.TemporaryDirectory() as tmp,
                kube_server(Path(tmp), namespaces=("ml",), namespace="ml") as server,
            ):
                for image in ("bench:1", "bench:2"):
                    server.set_backend(image, url)
                firsts.append(_deploy(Path(tmp), server.kubeconfig, "bench:1", strategy))
                before = len(server.requests)
                updates.append(_deploy(Path(tmp), server.kubeconfig, "bench:2", strategy))
                made = server.requests[before:]
                calls.append(sum(1 for r in made if r.query.get("watch") != ["true"]))
        print(
            f"{strategy:<11} {statistics.median(firsts):>9.2f} {statistics.median(updates):>10.2f}"
            f" {statistics.median(calls):>6.0f}"
        )
    backend.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    main_(parser.parse_args().repeat)
