"""The MLflow model registry: idempotent registration, aliases, promotion and rollback.

* `register` registers a model once: the same source model registered again
  returns the existing version (`created=False`), found by its run and source.
  The lineage tags of the model's run are copied onto the version. Calls at
  the same moment (two pipelines on one commit) agree too: a duplicate version
  that a race created is deleted by its creator, and exactly one call reports
  `created=True`.
* `promote` moves an alias (default `champion`) to a version and keeps the
  previous holder under a second alias (default `previous-champion`), then
  reads the alias back: if another writer moved it in between, it fails
  instead of reporting a promotion that did not stick.
* `rollback` moves the alias back to the previous holder and keeps the
  demoted version as the new previous holder, so a rollback can be undone.

Functions take an `MlflowClient` (see `modelship.tracking.client`), so tests
use a real tracking server. Waiting for a new version to become READY is
MLflow's own (`create_model_version(await_creation_for=...)`).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from modelship.ci.errors import ExternalError, GateFailed, ModelshipError, UsageError
from modelship.tracking import lineage
from modelship.tracking.client import refusal_hint
from modelship.tracking.models import ModelRef, logged_model_run_id, parse_model_uri

SOURCE_TAG = "modelship.source_uri"
# Which register call created a version; tells concurrent callers whose duplicate is whose.
REGISTRATION_TAG = "modelship.registration_id"

T = TypeVar("T")


def guarded(action: Callable[[], T], what: str) -> T:
    """Run a registry action; an MLflow or network failure becomes an ExternalError (exit 3)."""
    try:
        return action()
    except ModelshipError:
        raise
    except Exception as err:
        error_code = getattr(err, "error_code", "")
        if error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise UsageError(f"{what}: {err}") from None
        raise ExternalError(f"{what}: {err}", refusal_hint(err)) from None


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    created: bool
    run_id: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class Promoted:
    name: str
    alias: str
    version: str
    previous_version: str  # '' when the alias was not set before
    changed: bool


def _not_found(err: Exception) -> bool:
    code = getattr(err, "error_code", "")
    return (
        code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")
        or "not found" in str(err).lower()
    )


def _source_ids(client: Any, ref: ModelRef) -> tuple[str, str]:
    """(run id, logged model id) of the model a URI names; '' for what is not known."""
    if ref.kind == "run":
        model_id = ""
        try:
            experiment = client.get_run(ref.run_id).info.experiment_id
            models = client.search_logged_models(
                experiment_ids=[experiment],
                filter_string=f"source_run_id = '{_quote(ref.run_id)}'",
                max_results=100,
            )
            wanted = ref.artifact_path.strip("/")
            for model in models:
                if getattr(model, "name", "") == wanted:
                    model_id = str(model.model_id)
                    break
        except Exception as err:  # older servers have no logged models
            if not _not_found(err) and "search_logged_models" not in str(err):
                raise
        return ref.run_id, model_id
    if ref.kind == "logged":
        return logged_model_run_id(client.get_logged_model(ref.model_id)), ref.model_id
    raise UsageError(
        f"model-uri {ref.uri!r} already names a registered model",
        "register a run or logged model: runs:/<run-id>/<path> or models:/m-<id>",
    )


def find_version(client: Any, name: str, ref: ModelRef, run_id: str, model_id: str) -> Any | None:
    """The existing version of `name` registered from this source, if any.

    When a race left several, the lowest version is the one that counts: it was
    committed first, so every writer that created a later one can see it.
    """
    found = source_versions(client, name, ref, run_id, model_id)
    return found[0] if found else None


def source_versions(client: Any, name: str, ref: ModelRef, run_id: str, model_id: str) -> list[Any]:
    """Every version of `name` registered from this source, lowest version first."""
    try:
        versions = client.search_model_versions(f"name = '{_quote(name)}'")
    except Exception as err:
        if _not_found(err):
            return []
        raise
    found = [v for v in versions if _same_source(v, ref, model_id)]
    return sorted(found, key=lambda v: int(v.version))


def _same_source(version: Any, ref: ModelRef, model_id: str) -> bool:
    tags = getattr(version, "tags", {}) or {}
    if tags.get(SOURCE_TAG) == ref.uri:
        return True
    source = str(getattr(version, "source", "") or "")
    if model_id and (
        source == f"models:/{model_id}" or getattr(version, "model_id", None) == model_id
    ):
        return True
    return ref.kind == "run" and source == ref.uri


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def run_lineage(client: Any, run_id: str) -> dict[str, str]:
    """The lineage tags of a run (keys from `modelship.lineage`), plus the run id."""
    if not run_id:
        return {}
    run = client.get_run(run_id)
    tags = {k: v for k, v in run.data.tags.items() if k in lineage.LINEAGE_TAGS and v}
    tags[lineage.RUN_ID] = run_id
    return tags


def register(
    client: Any,
    model_uri: str,
    name: str,
    *,
    alias: str | None = "challenger",
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    wait_timeout: float = 300.0,
) -> Registered:
    """Register the source model once, even when several pipelines do it at the same moment.

    Callers that all find no version all create one, each marked with its own
    registration id. Each then looks again: the lowest version of the source is
    the registered one, every caller deletes its own later duplicates, and only
    the caller whose id the lowest version carries reports `created`.
    """
    ref = parse_model_uri(model_uri, "model-uri")
    run_id, model_id = _source_ids(client, ref)
    _ensure_registered_model(client, name)
    lineage_tags = run_lineage(client, run_id)
    existing = find_version(client, name, ref, run_id, model_id)
    created = existing is None
    if existing is None:
        registration = uuid.uuid4().hex
        version_tags = {
            **lineage_tags,
            SOURCE_TAG: ref.uri,
            REGISTRATION_TAG: registration,
            **(tags or {}),
        }
        _create_version(
            client, name, ref, run_id, model_id, version_tags, description, wait_timeout
        )
        existing, created = _settle_duplicates(client, name, ref, run_id, model_id, registration)
    if not created:
        # Re-registration is a no-op for the version, but given tags still apply.
        for key, value in {**lineage_tags, **(tags or {})}.items():
            client.set_model_version_tag(name, str(existing.version), key, value)
        if description:
            client.update_model_version(name, str(existing.version), description=description)
    version = str(existing.version)
    _check_ready(client, name, version, wait_timeout)
    if alias:
        _set_alias_once_agreed(client, name, alias, version)
    return Registered(name, version, created, run_id)


def _create_version(
    client: Any,
    name: str,
    ref: ModelRef,
    run_id: str,
    model_id: str,
    version_tags: Mapping[str, str],
    description: str | None,
    wait_timeout: float,
) -> None:
    source = f"models:/{model_id}" if model_id else ref.uri
    try:
        client.create_model_version(
            name,
            source,
            run_id=run_id or None,
            tags=dict(version_tags),
            description=description,
            await_creation_for=max(1, math.ceil(wait_timeout)),
            model_id=model_id or None,
        )
    except Exception:
        # The server can commit the version and fail afterwards (a busy store while
        # it tags the logged model); the version is then ours all the same.
        registration = version_tags[REGISTRATION_TAG]
        found = source_versions(client, name, ref, run_id, model_id)
        if not any(_registration(v) == registration for v in found):
            raise


def _settle_duplicates(
    client: Any, name: str, ref: ModelRef, run_id: str, model_id: str, registration: str
) -> tuple[Any, bool]:
    """(the registered version, whether this caller created it), our duplicates deleted.

    The lowest version was committed first, so every caller that created a later
    one sees it. A retried request can leave this caller more than one version.
    """
    found = source_versions(client, name, ref, run_id, model_id)
    if not found:
        raise ExternalError(f"registry: the version of {name} just created is not found")
    first, later = found[0], found[1:]
    for duplicate in later:
        if _registration(duplicate) == registration:
            client.delete_model_version(name, str(duplicate.version))
    return first, _registration(first) == registration


def _registration(version: Any) -> str:
    tags = getattr(version, "tags", {}) or {}
    return str(tags.get(REGISTRATION_TAG, ""))


def _set_alias_once_agreed(client: Any, name: str, alias: str, version: str) -> None:
    """Point `alias` at `version` while other callers may point it at the same version.

    Two writers of one alias can collide inside the tracking server (a unique
    constraint on its insert); when the alias already points where we want it,
    the other writer did our work, otherwise we try again.
    """
    for attempt in range(3):
        try:
            client.set_registered_model_alias(name, alias, version)
            return
        except Exception:
            if alias_version(client, name, alias) == version:
                return
            if attempt == 2:
                raise
            time.sleep(0.5 * (attempt + 1))


def _ensure_registered_model(client: Any, name: str) -> None:
    """Create the registered model unless it exists; a concurrent creator is fine."""
    try:
        client.get_registered_model(name)
        return
    except Exception as err:
        if not _not_found(err):
            raise
    try:
        client.create_registered_model(name)
    except Exception as err:
        if getattr(err, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
            raise


def _check_ready(client: Any, name: str, version: str, waited: float) -> None:
    """Fail unless the version is READY.

    A version this call created was already awaited by `create_model_version`
    for `waited` seconds; one registered before by another call is not waited for.
    """
    status = str(client.get_model_version(name, version).status)
    if status == "READY":
        return
    if status == "FAILED_REGISTRATION":
        raise ExternalError(f"registry: {name} version {version} failed to register")
    raise ExternalError(
        f"registry: {name} version {version} is still {status} (waited up to {waited:g}s)",
        "raise wait-timeout, or check the registry's artifact storage, then re-run",
    )


def alias_version(client: Any, name: str, alias: str) -> str:
    """The version an alias points to, or '' when it is not set."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except Exception as err:
        if _not_found(err):
            return ""
        # MLflow's auth app answers "permission denied" for an alias of a model that
        # does not exist (it finds no model to check the permission on).
        if getattr(err, "error_code", "") == "PERMISSION_DENIED" and not model_exists(client, name):
            return ""
        raise


def model_exists(client: Any, name: str) -> bool:
    """Whether the registered model exists (and the caller may see it)."""
    found = client.search_registered_models(filter_string=f"name = '{_quote(name)}'")
    return any(model.name == name for model in found)


def resolve_version(client: Any, name: str, version: str | None, model_uri: str | None) -> str:
    """The version to promote, from `version` or a `models:/` / `runs:/` URI."""
    if version:
        client.get_model_version(name, version)  # fails clearly when it does not exist
        return version
    if not model_uri:
        raise UsageError("promote needs `version` or `model-uri`")
    ref = parse_model_uri(model_uri, "model-uri")
    if ref.is_registered and ref.name != name:
        raise UsageError(f"model-uri {model_uri!r} names model {ref.name!r}, not {name!r}")
    if ref.kind == "version" and ref.version != "latest":
        return ref.version
    if ref.kind == "alias":
        found = alias_version(client, name, ref.alias)
        if not found:
            raise UsageError(f"{name} has no alias {ref.alias!r}")
        return found
    if ref.kind in ("run", "logged"):
        run_id, model_id = _source_ids(client, ref)
        existing = find_version(client, name, ref, run_id, model_id)
        if existing is None:
            raise UsageError(
                f"{model_uri} is not registered as {name}", "run the register stage first"
            )
        return str(existing.version)
    versions = client.search_model_versions(f"name = '{_quote(name)}'")
    if not versions:
        raise UsageError(f"{name} has no versions")
    return str(max(int(v.version) for v in versions))


def _set_and_check(client: Any, name: str, alias: str, version: str) -> None:
    client.set_registered_model_alias(name, alias, version)
    seen = alias_version(client, name, alias)
    if seen != version:
        raise GateFailed(
            f"alias {alias!r} of {name} points to version {seen or '(none)'} right after it "
            f"was set to {version}: another writer changed it",
            "run promotions under a concurrency group (GitHub) or resource_group (GitLab), "
            "then re-run",
        )


def promote(
    client: Any,
    name: str,
    version: str,
    *,
    alias: str = "champion",
    previous_alias: str = "previous-champion",
) -> Promoted:
    if alias == previous_alias:
        raise UsageError("alias and previous-alias must differ")
    current = alias_version(client, name, alias)
    if current == version:
        return Promoted(name, alias, version, alias_version(client, name, previous_alias), False)
    if current:
        client.set_registered_model_alias(name, previous_alias, current)
    _set_and_check(client, name, alias, version)
    return Promoted(name, alias, version, current, True)


def rollback(
    client: Any, name: str, *, alias: str = "champion", previous_alias: str = "previous-champion"
) -> Promoted:
    """Move `alias` back to the version under `previous_alias`; swap the two."""
    previous = alias_version(client, name, previous_alias)
    if not previous:
        raise UsageError(
            f"{name} has no {previous_alias!r} alias: nothing to roll back to",
            "roll back only after a promotion has moved the alias",
        )
    current = alias_version(client, name, alias)
    if current:
        client.set_registered_model_alias(name, previous_alias, current)
    _set_and_check(client, name, alias, previous)
    return Promoted(name, alias, previous, current, True)
