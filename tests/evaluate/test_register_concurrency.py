"""register run by many pipelines at the same moment, against a real MLflow server."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from modelship.tracking.client import open_client
from tests.evaluate.conftest import Case, run_cli
from tests.harness.cli import CliRun

pytestmark = pytest.mark.services

PAIRS = 20


def test_simultaneous_registrations_of_one_source_agree_on_one_version(case: Case) -> None:
    """Two pipelines on one commit register the same model at once, twenty times over:
    every call succeeds, both calls of a pair name the same version, exactly one of
    them created it, and the registry holds that one version only."""
    names = [f"race-{uuid.uuid4().hex[:8]}" for _ in range(PAIRS)]
    source = case.models.uris["strong"]
    start = threading.Barrier(2 * PAIRS)

    def register(name: str) -> CliRun:
        start.wait()
        args = ["register", "--model-uri", source, "--model-name", name]
        return run_cli(args, case.workspace, case.env)

    with ThreadPoolExecutor(max_workers=2 * PAIRS) as pool:
        futures = {name: [pool.submit(register, name) for _ in range(2)] for name in names}
        results = {name: [f.result(timeout=300) for f in pair] for name, pair in futures.items()}

    client = open_client(case.tracking_uri, {})
    for name, pair in results.items():
        for done in pair:
            assert done.code == 0, f"{name}: {done.stderr}"
        versions = {done.outputs["model-version"] for done in pair}
        assert len(versions) == 1, f"{name}: the two calls report versions {versions}"
        created = sorted(done.outputs["created"] for done in pair)
        assert created == ["false", "true"], f"{name}: created={created}"
        stored = [v.version for v in client.search_model_versions(f"name = '{name}'")]
        assert stored == [versions.pop()], f"{name}: the registry holds versions {stored}"
        assert client.get_model_version_by_alias(name, "challenger").version == stored[0]
