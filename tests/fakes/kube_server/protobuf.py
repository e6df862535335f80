"""Decode the protobuf request bodies kubectl's typed clients send (`kubectl create deployment`).

The Kubernetes protobuf schemas are not on PyPI in a current form, but every
client-go binary embeds them (gzipped FileDescriptorProtos registered by the
generated code), so they are read from the `kubectl` on PATH. Responses are
always JSON; clients accept that.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import re
import shutil
import zlib
from pathlib import Path
from typing import Any

from .errors import ApiError

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# Go pointer fields whose zero value means something: kept even when 0/false/"".
_MEANINGFUL_ZERO = {
    "replicas",
    "backoffLimit",
    "completions",
    "parallelism",
    "activeDeadlineSeconds",
    "minReplicas",
    "terminationGracePeriodSeconds",
    "suspend",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "ttlSecondsAfterFinished",
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "readOnlyRootFilesystem",
    "allowPrivilegeEscalation",
    "privileged",
    "automountServiceAccountToken",
    "optional",
    "defaultMode",
    "immutable",
}


@functools.cache
def _classes() -> tuple[Any, Any]:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise ApiError(415, "UnsupportedMediaType", "protobuf bodies need kubectl's schemas")
    data = Path(kubectl).resolve().read_bytes()
    files: dict[str, Any] = {}
    for m in re.finditer(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00", data):
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(
                data[m.start() : m.start() + 4_000_000]
            )
            fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
        except Exception:  # noqa: S112  (most gzip-looking bytes are not descriptors)
            continue
        if fd.name.startswith("k8s.io/"):
            files[fd.name] = fd
    pool = descriptor_pool.DescriptorPool()
    stub = descriptor_pb2.FileDescriptorProto(
        name="github.com/gogo/protobuf/gogoproto/gogo.proto", package="gogoproto"
    )
    pool.Add(stub)
    added: set[str] = {stub.name}

    def add(name: str) -> None:
        if name in added or name not in files:
            return
        for dep in files[name].dependency:
            add(dep)
        pool.Add(files[name])
        added.add(name)

    for name in files:
        add(name)
    return pool, message_factory


def _message_name(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    if kind in ("DeleteOptions", "Status", "ListOptions"):
        return f"k8s.io.apimachinery.pkg.apis.meta.v1.{kind}"
    package = (group.split(".")[0] if group else "core") or "core"
    return f"k8s.io.api.{package}.{version}.{kind}"


def decode(body: bytes) -> Any:
    """A protobuf-encoded object as the JSON-shaped dict the rest of the server handles."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body without the k8s envelope")
    pool, factory = _classes()
    unknown_cls = factory.GetMessageClass(
        pool.FindMessageTypeByName("k8s.io.apimachinery.pkg.runtime.Unknown")
    )
    envelope = unknown_cls.FromString(body[len(MAGIC) :])
    api_version, kind = envelope.typeMeta.apiVersion, envelope.typeMeta.kind
    try:
        desc = pool.FindMessageTypeByName(_message_name(api_version, kind))
    except KeyError as err:
        raise ApiError(415, "UnsupportedMediaType", f"no protobuf schema for {kind}") from err
    msg = factory.GetMessageClass(desc).FromString(envelope.raw)
    out = _convert(msg)
    if not isinstance(out, dict):
        raise ApiError(400, "BadRequest", "protobuf body is not an object")
    out["apiVersion"], out["kind"] = api_version, kind
    return out


def _time(msg: Any, micro: bool) -> str | None:
    if not msg.seconds and not msg.nanos:
        return None
    stamp = datetime.datetime.fromtimestamp(msg.seconds, datetime.timezone.utc)
    if micro:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{msg.nanos // 1000:06d}Z"
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _convert(msg: Any) -> Any:
    name = msg.DESCRIPTOR.full_name
    if name.endswith("meta.v1.Time"):
        return _time(msg, micro=False)
    if name.endswith("meta.v1.MicroTime"):
        return _time(msg, micro=True)
    if name.endswith("intstr.IntOrString"):
        return msg.strVal if msg.type == 1 else msg.intVal
    if name.endswith("resource.Quantity"):
        return msg.string
    if name.endswith("runtime.RawExtension"):
        return json.loads(msg.raw) if msg.raw else None
    if name.endswith("meta.v1.FieldsV1"):
        return json.loads(msg.Raw) if msg.Raw else {}
    if name.endswith("meta.v1.Duration"):
        return f"{msg.duration / 1e9:g}s"
    out: dict[str, Any] = {}
    for field, value in msg.ListFields():
        key = field.name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            out[key] = {
                k: _scalar(v, value_field) if value_field.message_type is None else _convert(v)
                for k, v in value.items()
            }
        elif _repeated(field):
            out[key] = [
                _convert(v) if field.message_type is not None else _scalar(v, field) for v in value
            ]
        elif field.message_type is not None:
            converted = _convert(value)
            if converted is not None:
                out[key] = converted
        else:
            scalar = _scalar(value, field)
            if scalar in ("", 0, False) and key not in _MEANINGFUL_ZERO:
                continue  # a Go non-pointer zero value, which JSON would omit
            out[key] = scalar
    return out


def _repeated(field: Any) -> bool:
    flag = getattr(field, "is_repeated", None)  # protobuf >= 6; `label` before
    if flag is not None:
        return bool(flag)
    return bool(field.label == field.LABEL_REPEATED)


def _scalar(value: Any, field: Any) -> Any:
    if field.type == field.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value
