"""Credentials that must never be shown: URL user-info and what secrets contain.

`redact_urls_in_text` runs over every line the logger prints, every error and
every report, so a password inside a URL stays hidden even when it comes back
inside the text of an MLflow, requests, Kubernetes or Docker error.

The `secrets_from_*` helpers derive the values a runner must mask from a
secret's container (a URL, a kubeconfig), so that the masks cover the secret
values themselves and never structural words such as `apiVersion: v1`.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import yaml

REDACTED = "***"

# `scheme://user-info@`: the user-info runs up to the last `@` before the host
# part ends, so an unencoded `@` inside a password is covered too.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/?#@]*(?:@[^\s/?#@]*)*)@")

_URL_WITH_USERINFO = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s/?#@]*(?:@[^\s/?#@]*)*@[^\s/?#]*")

# Fields of a kubeconfig `user` (and `cluster`) entry that are credentials.
KUBECONFIG_SECRET_FIELDS = (
    "token",
    "password",
    "client-key-data",
    "client-certificate-data",
    "id-token",
    "refresh-token",
    "client-secret",
    "access-token",
)

# Query parameters that carry credentials in some tracking or artifact URIs
# (pre-signed URLs, SAS tokens).
SECRET_QUERY_KEY = re.compile(r"(token|secret|password|passwd|key|sig|signature|credential)", re.I)

# Environment variables that hold a credential of a system modelship talks to.
SECRET_ENV = ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")

# Below this length a "secret" would redact ordinary words all over the log.
MIN_SECRET_LENGTH = 3


def redact_url(url: str) -> str:
    """The URL with its user-info and credential-like query values replaced by `***`.

    `https://bot:s3cret@host/x?token=abc&page=2` -> `https://***@host/x?token=***&page=2`.
    """
    shown = redact_urls_in_text(url)
    try:
        query = urlsplit(shown).query
    except ValueError:
        return shown
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(SECRET_QUERY_KEY.search(key) for key, _ in pairs):
        return shown
    hidden = [(k, REDACTED if SECRET_QUERY_KEY.search(k) else v) for k, v in pairs]
    return shown.replace(f"?{query}", f"?{urlencode(hidden, safe='*')}", 1)


def redact_urls_in_text(text: str) -> str:
    """Every `scheme://user:password@host` in free text, with its user-info hidden."""
    if "://" not in text:
        return text
    return _URL_USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


def urls_in_text(text: str) -> list[str]:
    """The URLs with user-info in free text (an input, an environment value)."""
    if "://" not in text:
        return []
    return [m.group(0) for m in _URL_WITH_USERINFO.finditer(text)]


def secrets_from_url(url: str) -> list[str]:
    """The password of a URL (as written and percent-decoded), for masking."""
    try:
        parts = urlsplit(url.strip())
        password = parts.password
    except ValueError:
        return []
    if not password:
        return []
    return _unique([password, unquote(password)])


def secrets_from_kubeconfig(content: str) -> list[str]:
    """Every credential in a kubeconfig: as written, base64-decoded, and line by line.

    A client key or certificate is stored as base64 of a PEM block; a log may
    show either form, and a multi-line PEM only ever appears line by line.
    """
    try:
        loaded = yaml.safe_load(content)
    except yaml.YAMLError:
        return []
    found: list[str] = []
    for value in _credential_values(loaded):
        found.append(value)
        decoded = _b64_text(value)
        if decoded is not None:
            # A multi-line value is only ever seen line by line in a log.
            if "\n" not in decoded.strip():
                found.append(decoded.strip())
            found.extend(secret_lines(decoded))
    return _unique(v for v in found if len(v) >= MIN_SECRET_LENGTH)


def derive_secrets(value: str) -> list[str]:
    """The values to mask for one secret, whatever form it takes.

    A one-line value is masked as given, with its URL password and, when it is
    base64 of text, the decoded text (or the credentials of the kubeconfig it
    encodes). A multi-line value gives the credentials of a kubeconfig, else
    its lines of one token each (see `secret_lines`).
    """
    text = value.strip()
    if not text:
        return []
    if "\n" in text or "\r" in text:
        if looks_like_kubeconfig(text):
            return secrets_from_kubeconfig(text)
        return _unique(secret_lines(text))
    found = [text, *secrets_from_url(text)]
    decoded = _b64_text(text)
    if decoded is not None and decoded.strip():
        if looks_like_kubeconfig(decoded):
            found.extend(secrets_from_kubeconfig(decoded))
        elif "\n" in decoded.strip():
            found.extend(secret_lines(decoded))
        else:
            found.append(decoded.strip())
    return _unique(v for v in found if len(v) >= MIN_SECRET_LENGTH)


def looks_like_kubeconfig(text: str) -> bool:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(loaded, dict) and any(k in loaded for k in ("clusters", "users"))


def decoded_base64_text(value: str) -> str | None:
    """`value` decoded from base64 when it is base64 of UTF-8 text, else None."""
    return _b64_text(value)


def secret_lines(text: str) -> list[str]:
    """The lines of a multi-line secret that can hold secret material.

    A line with whitespace inside it (`apiVersion: v1`, `kind: Config`) or a PEM
    armour line is structure; a line of one token (a PEM body line, a base64
    blob, a password) is secret.
    """
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < MIN_SECRET_LENGTH or any(c.isspace() for c in line):
            continue
        if line.startswith("-----") and line.endswith("-----"):
            continue
        if line.endswith(":") or line in ("---", "..."):
            continue
        found.append(line)
    return found


def _credential_values(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in KUBECONFIG_SECRET_FIELDS and isinstance(value, str) and value:
                found.append(value.strip())
            else:
                found.extend(_credential_values(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_credential_values(item))
    return found


def _b64_text(value: str) -> str | None:
    compact = "".join(value.split())
    if len(compact) < 8:
        return None
    try:
        return base64.b64decode(compact, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _unique(values: Any) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return seen
