"""Patch and apply semantics, checked against what the real API server documents."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.kube_server import fieldsets, merge, schema
from tests.fakes.kube_server.errors import ApiError
from tests.fakes.kube_server.selectors import parse_field_selector, parse_label_selector

DEPLOYMENT = schema.kind_schema("apps", "v1", "Deployment")


def _dep(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": containers}}, **spec}}


def test_strategic_merge_merges_containers_by_name_and_honours_directives() -> None:
    live = _dep(
        [
            {"name": "model", "image": "m:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "s:1"},
        ],
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
    )
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "model", "image": "m:2", "env": [{"name": "B", "value": "2"}]},
                        {"name": "sidecar", "$patch": "delete"},
                    ]
                }
            },
            "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
        }
    }
    out = merge.strategic_merge(live, patch, DEPLOYMENT)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert containers == [
        {
            "name": "model",
            "image": "m:2",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        }
    ]
    assert out["spec"]["strategy"] == {"type": "Recreate"}  # retainKeys dropped rollingUpdate


def test_strategic_merge_replaces_atomic_lists_and_orders_by_set_element_order() -> None:
    live = _dep(
        [{"name": "a", "image": "x", "args": ["--one", "--two"]}, {"name": "b", "image": "y"}]
    )
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                    "containers": [{"name": "a", "args": ["--three"]}],
                }
            }
        }
    }
    out = merge.strategic_merge(live, patch, DEPLOYMENT)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["b", "a"]
    assert containers[1]["args"] == ["--three"]


def test_json_merge_and_json_patch() -> None:
    assert merge.json_merge_patch({"a": 1, "b": {"c": 2}}, {"b": {"c": None, "d": 3}}) == {
        "a": 1,
        "b": {"d": 3},
    }
    doc = {"metadata": {"annotations": {"x": "1"}}, "spec": {"l": [1, 2]}}
    out = merge.json_patch(
        doc,
        [
            {"op": "replace", "path": "/metadata/annotations", "value": {"y": "2"}},
            {"op": "add", "path": "/spec/l/-", "value": 3},
            {"op": "remove", "path": "/spec/l/0"},
            {"op": "test", "path": "/spec/l", "value": [2, 3]},
        ],
    )
    assert out == {"metadata": {"annotations": {"y": "2"}}, "spec": {"l": [2, 3]}}
    with pytest.raises(ApiError):
        merge.json_patch(doc, [{"op": "test", "path": "/spec/l", "value": []}])


def test_fields_v1_round_trip_and_keys() -> None:
    obj = {
        "metadata": {"labels": {"app": "m"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "m"}},
            "template": {
                "spec": {
                    "containers": [
                        {"name": "model", "image": "m:1", "ports": [{"containerPort": 80}]}
                    ]
                }
            },
        },
    }
    paths = fieldsets.compute(obj, DEPLOYMENT)
    tree = fieldsets.to_fields_v1(paths)
    assert tree["f:spec"]["f:selector"] == {}  # LabelSelector is atomic
    container = tree["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"model"}']
    assert "." in container
    assert "f:image" in container
    # ports are keyed by containerPort and protocol, protocol defaulting to TCP
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]
    assert fieldsets.from_fields_v1(tree) == paths


def test_apply_shares_fields_with_equal_values_and_conflicts_on_different_ones() -> None:
    live, conflicts = fieldsets.apply(
        None,
        {"spec": {"replicas": 2}, "metadata": {"labels": {"a": "1"}}},
        DEPLOYMENT,
        manager="one",
        api_version="apps/v1",
        force=False,
        now="t",
    )
    assert not conflicts
    _, same = fieldsets.apply(
        live,
        {"spec": {"replicas": 2}},
        DEPLOYMENT,
        manager="two",
        api_version="apps/v1",
        force=False,
        now="t",
    )
    assert same == []
    _, different = fieldsets.apply(
        live,
        {"spec": {"replicas": 3}},
        DEPLOYMENT,
        manager="two",
        api_version="apps/v1",
        force=False,
        now="t",
    )
    assert [(c.manager, fieldsets.display(c.path)) for c in different] == [
        ("one", ".spec.replicas")
    ]


def test_selectors() -> None:
    match = parse_label_selector("app=m,tier in (web, api),!canary,env!=prod")
    assert match({"app": "m", "tier": "web", "env": "dev"})
    assert not match({"app": "m", "tier": "db"})
    assert not match({"app": "m", "tier": "web", "canary": "1"})
    assert parse_label_selector("app")({"app": ""})
    fields = parse_field_selector("metadata.name=x,status.phase!=Failed")
    assert fields({"metadata": {"name": "x"}, "status": {"phase": "Running"}})
    assert not fields({"metadata": {"name": "x"}, "status": {"phase": "Failed"}})


def test_field_selectors_are_limited_to_what_each_kind_supports() -> None:
    assert parse_field_selector("status.phase=Running", "Pod")({"status": {"phase": "Running"}})
    with pytest.raises(ApiError) as refused:
        parse_field_selector("status.phase=Running", "Deployment")
    assert refused.value.code == 400
    assert refused.value.message == "field label not supported: status.phase"
