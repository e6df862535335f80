"""The API server's own rules for names, ports and quantities.

The OpenAPI schemas say a port is an int32 and a quantity a string; the API
server says far more (a port is 1-65535, `cpu: abc` is not a quantity, a
Service name is a DNS-1035 label). These rules are checked here, before
anything is sent, so a bad manifest or input never reaches a cluster.
"""

from __future__ import annotations

import re

INT32_MAX = 2**31 - 1
# The API server names these with any path segment, e.g. `system:metrics-reader`.
_PATH_SEGMENT_NAMED = frozenset({"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_IANA_SVC_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
# resource.Quantity's grammar: a signed decimal, then a binary or decimal suffix or an exponent.
_QUANTITY = re.compile(
    r"[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?(\d+(\.\d*)?|\.\d+))?"
)


def shown(value: object) -> str:
    """A value from outside, quoted so a line break or control character stays visible."""
    return repr(value) if isinstance(value, str) else repr(value)[:80]


def segment(value: object) -> str:
    """A key of a path (`spec.template...`): as it is when printable, else quoted."""
    text = str(value)
    if text.isprintable() and not any(c.isspace() for c in text):
        return text
    return repr(text)


def dns1123_label(value: object) -> str | None:
    """Why `value` is not a DNS-1123 label (namespaces, container names), or None."""
    if not isinstance(value, str) or not _DNS1123_LABEL.fullmatch(value):
        return f"{shown(value)} is not a DNS-1123 label (lower-case letters, digits and '-')"
    if len(value) > 63:
        return f"{shown(value)} is longer than 63 characters"
    return None


def dns1035_label(value: object) -> str | None:
    """Why `value` is not a DNS-1035 label (Service names: they start with a letter), or None."""
    if not isinstance(value, str) or not _DNS1035_LABEL.fullmatch(value):
        return (
            f"{shown(value)} is not a DNS-1035 label "
            "(a lower-case letter, then lower-case letters, digits and '-')"
        )
    if len(value) > 63:
        return f"{shown(value)} is longer than 63 characters"
    return None


def dns1123_subdomain(value: object) -> str | None:
    """Why `value` is not a DNS-1123 subdomain (most object names), or None."""
    if not isinstance(value, str) or not _DNS1123_SUBDOMAIN.fullmatch(value):
        return (
            f"{shown(value)} is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.')"
        )
    if len(value) > 253:
        return f"{shown(value)} is longer than 253 characters"
    return None


def object_name(kind: str, value: object) -> str | None:
    """Why `value` cannot name an object of `kind`, or None."""
    if kind == "Service":
        return dns1035_label(value)
    if kind == "Namespace":
        return dns1123_label(value)
    if kind in _PATH_SEGMENT_NAMED:
        return path_segment(value)
    return dns1123_subdomain(value)


def path_segment(value: object) -> str | None:
    """Why `value` is not a path segment name (RBAC objects: `system:reader` is fine), or None."""
    if (
        not isinstance(value, str)
        or value in ("", ".", "..")
        or "/" in value
        or "%" in value
        or not value.isprintable()
    ):
        return f"{shown(value)} is not a valid name (no '/', '%', nor only dots)"
    return None


def qualified_key(value: object) -> str | None:
    """Why `value` is not a label or annotation key (`prefix/name`), or None."""
    if not isinstance(value, str):
        return f"{shown(value)} is not a string"
    prefix, slash, name = value.rpartition("/")
    if slash and dns1123_subdomain(prefix) is not None:
        return f"{shown(value)} has a prefix that is not a DNS-1123 subdomain"
    if not _QUALIFIED_NAME.fullmatch(name) or len(name) > 63:
        return f"{shown(value)} is not a qualified name (at most 63 of [A-Za-z0-9-_.])"
    return None


def label_value(value: object) -> str | None:
    if not isinstance(value, str) or not _LABEL_VALUE.fullmatch(value) or len(value) > 63:
        return f"{shown(value)} is not a label value (at most 63 of [A-Za-z0-9-_.])"
    return None


def port_number(value: object, *, zero: bool = False) -> str | None:
    """Why `value` is not a port (1-65535; 0 too where it means "assign one"), or None."""
    lowest = 0 if zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= 65535:
        return f"{shown(value)} is not a port number ({lowest}-65535)"
    return None


def port_name(value: object) -> str | None:
    """Why `value` is not an IANA service name (a named port), or None."""
    if (
        not isinstance(value, str)
        or not _IANA_SVC_NAME.fullmatch(value)
        or len(value) > 15
        or "--" in value
        or not any(c.isalpha() for c in value)
    ):
        return f"{shown(value)} is not a port name (at most 15 of [a-z0-9-], with a letter)"
    return None


def port_or_name(value: object) -> str | None:
    return port_name(value) if isinstance(value, str) else port_number(value)


def quantity(value: object) -> str | None:
    """Why `value` is not a non-negative Kubernetes quantity (`250m`, `1Gi`, `2`), or None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return f"{shown(value)} is not a quantity"
    text = str(value)
    if not _QUANTITY.fullmatch(text):
        return f"{shown(value)} is not a quantity (e.g. 250m, 1.5, 512Mi, 2Gi)"
    if text.startswith("-"):
        return f"{shown(value)} is negative"
    return None


def int_at_least(value: object, lowest: int) -> str | None:
    """Why `value` is not an int32 of at least `lowest`, or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{shown(value)} is not an integer"
    if value < lowest:
        return f"{value} is below {lowest}"
    if value > INT32_MAX:
        return f"{value} is above {INT32_MAX}"
    return None
