"""register and promote against a real MLflow registry."""

from __future__ import annotations

from typing import Any

import pytest

from modelship.ci.errors import GateFailed
from modelship.tracking import registry
from modelship.tracking.client import open_client
from tests.evaluate.conftest import LINEAGE, Case, run_cli

pytestmark = pytest.mark.services


def register(case: Case, model: str, *extra: str) -> Any:
    args = ["register", "--model-uri", case.models.uris[model], "--model-name", case.name]
    return run_cli([*args, *extra], case.workspace, case.env)


def promote(case: Case, *extra: str) -> Any:
    return run_cli(["promote", "--model-name", case.name, *extra], case.workspace, case.env)


def test_register_twice_gives_one_version_with_lineage(case: Case) -> None:
    first = register(case, "strong", "--tags", "team=growth")
    assert first.code == 0, first.stderr
    assert first.outputs["created"] == "true"
    assert first.outputs["model-version"] == "1"
    assert first.outputs["registered-model-uri"] == f"models:/{case.name}/1"
    again = register(case, "strong")
    assert again.code == 0, again.stderr
    assert again.outputs["created"] == "false"
    assert again.outputs["model-version"] == "1"

    client = open_client(case.tracking_uri, {})
    versions = client.search_model_versions(f"name = '{case.name}'")
    assert [v.version for v in versions] == ["1"]
    tags = client.get_model_version(case.name, "1").tags
    for key, value in LINEAGE.items():
        assert tags[key] == value
    assert tags["modelship.run_id"] == case.models.run_ids["strong"]
    assert tags["team"] == "growth"
    assert client.get_model_version_by_alias(case.name, "challenger").version == "1"

    other = register(case, "weak", "--alias", "candidate")
    assert other.outputs == {
        "model-version": "2",
        "registered-model-uri": f"models:/{case.name}/2",
        "created": "true",
    }
    assert client.get_model_version_by_alias(case.name, "candidate").version == "2"


def test_promote_then_rollback_restores_the_old_champion(case: Case) -> None:
    assert register(case, "weak").code == 0
    assert register(case, "strong").code == 0
    client = open_client(case.tracking_uri, {})

    first = promote(case, "--version", "1")
    assert first.code == 0, first.stderr
    assert first.outputs == {"model-version": "1", "previous-version": ""}

    second = promote(case, "--model-uri", f"models:/{case.name}@challenger")
    assert second.code == 0, second.stderr
    assert second.outputs == {"model-version": "2", "previous-version": "1"}
    assert registry.alias_version(client, case.name, "champion") == "2"
    assert registry.alias_version(client, case.name, "previous-champion") == "1"

    same = promote(case, "--version", "2")  # idempotent: nothing moves
    assert same.outputs == {"model-version": "2", "previous-version": "1"}

    back = promote(case, "--rollback", "true")
    assert back.code == 0, back.stderr
    assert back.outputs == {"model-version": "1", "previous-version": "2"}
    assert registry.alias_version(client, case.name, "champion") == "1"
    # The demoted version is kept, so the rollback itself can be undone.
    assert registry.alias_version(client, case.name, "previous-champion") == "2"


def test_promote_by_run_uri_and_custom_aliases(case: Case) -> None:
    assert register(case, "strong").code == 0
    result = promote(
        case,
        "--model-uri",
        case.models.uris["strong"],
        "--alias",
        "prod",
        "--previous-alias",
        "prod-before",
    )
    assert result.code == 0, result.stderr
    assert result.outputs["model-version"] == "1"


def test_rollback_without_a_previous_champion_is_refused(case: Case) -> None:
    assert register(case, "strong").code == 0
    assert promote(case, "--version", "1").code == 0
    result = promote(case, "--rollback", "true")
    assert result.code == 2
    assert "nothing to roll back to" in result.stderr


def test_promote_of_a_missing_version_fails(case: Case) -> None:
    assert register(case, "strong").code == 0
    result = promote(case, "--version", "9")
    assert result.code == 2


class RacingClient:
    """A real client whose every alias write is followed by another writer's."""

    def __init__(self, inner: Any, name: str, other_version: str) -> None:
        self._inner = inner
        self._name = name
        self._other = other_version

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self._inner.set_registered_model_alias(name, alias, version)
        if alias == "champion":
            self._inner.set_registered_model_alias(name, alias, self._other)


def test_promotion_read_back_catches_another_writer(case: Case) -> None:
    for model in ("weak", "strong", "near"):
        assert register(case, model).code == 0
    inner = open_client(case.tracking_uri, {})
    racing = RacingClient(inner, case.name, "3")
    with pytest.raises(GateFailed, match="another writer changed it"):
        registry.promote(racing, case.name, "2")
    assert registry.alias_version(inner, case.name, "champion") == "3"
