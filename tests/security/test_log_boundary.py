"""No outside text becomes a command; no secret or URL password reaches a log line."""

from __future__ import annotations

import base64
import io
import re

import pytest

from modelship.ci.log import Logger
from modelship.ci.redact import (
    derive_secrets,
    redact_url,
    redact_urls_in_text,
    secrets_from_kubeconfig,
    secrets_from_url,
)

KEY_PEM = "\n".join(
    [
        "-----BEGIN EC PRIVATE KEY-----",
        "MHcCAQEEIKeyBodyLineOne0123456789",
        "-----END EC PRIVATE KEY-----",
        "",
    ]
)
KEY_B64 = base64.b64encode(KEY_PEM.encode()).decode()
KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://10.0.0.1:6443
users:
- name: ci
  user:
    token: kubeTokenValue-1234567890
    client-key-data: {KEY_B64}
"""

HOSTILE_BREAKS = ("\n", "\r", "\r\n", "\u2028", "\u2029", "\x85", "\v", "\f", "\x1c")


def _lines(text: str) -> list[str]:
    """Lines as the Actions runner reads them (\\n, \\r), and as Python would split them."""
    return [*re.split(r"\r\n|\r|\n", text), *text.splitlines()]


@pytest.mark.parametrize("platform", ["github", "gitlab", "local"])
@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("level", ["info", "warning", "error", "notice", "debug"])
def test_a_value_with_a_newline_never_starts_a_workflow_command(
    platform: str, fmt: str, level: str
) -> None:
    stream = io.StringIO()
    log = Logger(platform, fmt, stream=stream, verbose=True)  # type: ignore[arg-type]
    for brk in HOSTILE_BREAKS:
        getattr(log, level)(f"manifest churn{brk}::stop-commands::pwned{brk}##[set-env]x")
    for line in _lines(stream.getvalue()):
        stripped = line.lstrip()
        assert not stripped.startswith("::stop-commands::pwned"), line
        assert not stripped.startswith("##["), line
        if stripped.startswith("::"):
            assert re.match(r"::(error|warning|notice)::", stripped), line


def test_a_value_that_begins_with_a_command_is_printed_escaped() -> None:
    stream = io.StringIO()
    Logger("github", stream=stream).info("  ::set-output name=x::y")
    assert stream.getvalue() == "\\  ::set-output name=x::y\n"


@pytest.mark.parametrize("platform", ["github", "gitlab", "local"])
def test_escape_and_carriage_return_in_a_value_are_shown_escaped(platform: str) -> None:
    stream = io.StringIO()
    Logger(platform, stream=stream).info("red \x1b[31mtext\x1b[0m\rover\x00nul\u202etxt")
    out = stream.getvalue()
    assert "\x1b" not in out
    assert "\r" not in out
    assert "\x00" not in out
    assert "\u202e" not in out
    assert "\\x1b[31m" in out
    assert "\\r" in out


def test_a_value_cannot_open_or_close_a_gitlab_section() -> None:
    stream = io.StringIO()
    log = Logger("gitlab", stream=stream)
    log.info("section_end:1700000000:modelship_x\r\x1b[0Kpwned")
    log.untrusted("SECTION_START:1:fake\r\x1b[0Kheader\nline two\n")
    with log.group("title section_start:1:evil"):
        pass
    out = stream.getvalue()
    # Only the group's own markers remain; the values' markers are broken.
    assert len(re.findall(r"section_(start|end):\d+:modelship_[0-9a-f]{8}\r\x1b\[0K", out)) == 2
    assert len(re.findall(r"(?i)section_(start|end):", out)) == 2
    assert "\x1b[0Kpwned" not in out
    assert "\x1b[0Kheader" not in out


def test_a_mask_registered_inside_a_fence_still_reaches_the_runner() -> None:
    stream = io.StringIO()
    log = Logger("github", stream=stream)
    with log.fenced() as write:
        write("output\n")
        log.mask("late-secret-value")
        write("later late-secret-value\n")
    lines = stream.getvalue().splitlines()
    mask_at = lines.index("::add-mask::late-secret-value")
    # The fence in force before the mask was closed first, and a new one opened after.
    opened = [i for i, line in enumerate(lines) if line.startswith("::stop-commands::")]
    first_token = lines[opened[0]].removeprefix("::stop-commands::")
    assert lines.index(f"::{first_token}::") < mask_at < opened[1]
    assert "later ***" in lines
    assert lines[-1] == f"::{lines[opened[1]].removeprefix('::stop-commands::')}::"


def test_masks_cover_the_secret_values_of_a_kubeconfig_never_its_structure() -> None:
    stream = io.StringIO()
    log = Logger("github", stream=stream)
    log.mask(KUBECONFIG)
    masks = [
        line.removeprefix("::add-mask::")
        for line in stream.getvalue().splitlines()
        if line.startswith("::add-mask::")
    ]
    assert "kubeTokenValue-1234567890" in masks
    assert KEY_B64 in masks
    assert "MHcCAQEEIKeyBodyLineOne0123456789" in masks
    for structural in ("apiVersion: v1", "kind: Config", "clusters:", "- name: prod", "users:"):
        assert not any(structural in mask for mask in masks), structural
    assert not any("BEGIN" in mask for mask in masks)
    assert log.redact("apiVersion: v1 kind: Config") == "apiVersion: v1 kind: Config"
    assert log.redact("Bearer kubeTokenValue-1234567890") == "Bearer ***"


def test_a_base64_kubeconfig_masks_its_token_and_key_in_both_forms() -> None:
    encoded = base64.b64encode(KUBECONFIG.encode()).decode()
    derived = derive_secrets(encoded)
    assert encoded in derived
    assert "kubeTokenValue-1234567890" in derived
    assert KEY_B64 in derived
    assert "MHcCAQEEIKeyBodyLineOne0123456789" in derived
    assert secrets_from_kubeconfig(KUBECONFIG) == [
        "kubeTokenValue-1234567890",
        KEY_B64,
        "MHcCAQEEIKeyBodyLineOne0123456789",
    ]


def test_a_secret_is_never_masked_as_a_multi_line_command() -> None:
    stream = io.StringIO()
    log = Logger("github", stream=stream)
    log.mask("line-one-secret\nline-two-secret\n  key: value  \n")
    masks = [line for line in stream.getvalue().splitlines() if line.startswith("::add-mask::")]
    assert masks == ["::add-mask::line-one-secret", "::add-mask::line-two-secret"]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://admin:S3cret@host:9091/x", "http://***@host:9091/x"),
        ("https://user@host/", "https://***@host/"),
        ("postgresql+psycopg2://u:p%40ss@db/mlflow", "postgresql+psycopg2://***@db/mlflow"),
        ("http://u:p@ss@host/path?q=a@b", "http://***@host/path?q=a@b"),
        ("see (HTTPS://a:b@h) and ftp://c:d@e/f.", "see (HTTPS://***@h) and ftp://***@e/f."),
        ("no credentials http://host/a@b", "no credentials http://host/a@b"),
    ],
)
def test_a_password_in_any_url_is_never_shown(text: str, shown: str) -> None:
    assert redact_urls_in_text(text) == shown
    stream = io.StringIO()
    Logger("local", stream=stream).info(f"metrics pushed to {text}")
    assert stream.getvalue() == f"metrics pushed to {shown}\n"


def test_the_password_of_a_url_is_derived_raw_and_decoded() -> None:
    assert secrets_from_url("https://bot:p%40ss%2Fword@host") == ["p%40ss%2Fword", "p@ss/word"]
    assert secrets_from_url("https://host/x") == []
    assert redact_url("https://bot:pw@host") == "https://***@host"
