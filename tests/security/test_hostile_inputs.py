"""Every stage's CLI, driven with hostile values for each input it declares.

The cases are generated from the stage declarations, so a new input is
covered the day it is declared. Each run is a GitHub Actions run (the
platform whose log is a command channel) with secrets set, external systems
pointed at a closed port, and short timeouts. For every run:

* no traceback, and an exit code in 0-3;
* `$GITHUB_OUTPUT` holds only the stage's declared outputs;
* no log line outside a `::stop-commands::` fence is a workflow command
  modelship did not mean to issue;
* no secret (input, kubeconfig credential, URL password) appears anywhere:
  log, outputs, step summary, reports.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from modelship.spec import Input, Stage
from modelship.stages import STAGES, load
from tests.foundation.helpers import parse_github_output
from tests.harness.checkout import init_project
from tests.harness.cli import run_cli

KUBE_TOKEN = "kube-Zq9TokenValue-0xA1"
KUBE_KEY = "\n".join(
    [
        "-----BEGIN EC PRIVATE KEY-----",
        "MHcCAQEEIZq9KeyLineNotPublic0123",
        "-----END EC PRIVATE KEY-----",
        "",
    ]
)
URL_PASSWORD = "Zq9UrlPassword"
HOSTILE_PASSWORD = "Hunter2Zq9Secret"
SECRET_VALUE = "Zq9SecretInputValue"

KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:9
contexts:
- name: c
  context: {{cluster: c, user: u}}
current-context: c
users:
- name: u
  user:
    token: {KUBE_TOKEN}
    client-key-data: {base64.b64encode(KUBE_KEY.encode()).decode()}
"""

# Values a pull request's author or a careless user could put into any input.
NON_UTF8 = "@non-utf8-file"
HOSTILE = (
    "x\n::set-output name=pwned::1",
    "::stop-commands::pwned",
    "a\u2028::add-path::/pwned",
    "a\x85::warning::pwned",
    "a\r::error::pwned\r",
    "\x1b[8mhidden\x1b[0m section_start:1:pwned\r\x1b[0K",
    "##[set-output name=pwned;]1",
    "../../../etc/passwd",
    "/etc/passwd",
    "9" * 400,
    "-1",
    "1e308",
    "",
    f"http://admin:{HOSTILE_PASSWORD}@127.0.0.1:9/x",
    NON_UTF8,
)

SECRETS = (
    KUBE_TOKEN,
    "MHcCAQEEIZq9KeyLineNotPublic0123",
    base64.b64encode(KUBE_KEY.encode()).decode(),
    URL_PASSWORD,
    HOSTILE_PASSWORD,
    SECRET_VALUE,
)

# Commands modelship itself issues; a fence's resume token is 32 hex digits.
OUR_COMMAND = re.compile(
    r"::(add-mask|error|warning|notice|group|endgroup|debug)( [^:]*)?::.*"
    r"|::stop-commands::[0-9a-f]{32}|::[0-9a-f]{32}::"
)

# A valid run of each stage that fails fast: external systems on a closed port.
CLOSED = "http://127.0.0.1:9"


def _base_values(stage: Stage, project: Path) -> dict[str, str]:
    values: dict[str, str] = {
        # An empty local store answers "no such run" at once; a URL password
        # is covered by the other URL inputs and the hostile values.
        "tracking-uri": (project / "mlruns").as_uri(),
        "model-uri": "runs:/0123456789abcdef/model",
        "model-name": "churn",
        "image": "ghcr.io/acme/churn",
        "data": "data.csv",
        "reference": "data.csv",
        "current": "data.csv",
        "command": "true",
        "timeout": "5",
        "wait-timeout": "2",
        "bootstrap-samples": "20",
        "pushgateway-url": f"http://push:{URL_PASSWORD}@127.0.0.1:9",
        "kubeconfig": KUBECONFIG,
        "pull": "false",
        "verify": "false",
        "comment": "false",
    }
    if stage.name == "evaluate":
        values["target"] = "label"
    if stage.name == "monitor":
        del values["model-uri"]  # scoring is the evaluate stage's concern
    if stage.name == "deploy":
        values.update({"dry-run": "true", "image": "ghcr.io/acme/churn:1"})
        values["smoke-url"] = f"http://smoke:{URL_PASSWORD}@127.0.0.1:9"
    if stage.name == "train":
        values.update({"mode": "command"})
    if stage.name == "test":
        values.update({"command": "true"})
    declared = {item.name: item for item in stage.inputs}
    chosen = {k: v for k, v in values.items() if k in declared}
    for item in stage.inputs:
        if item.secret and item.name != "kubeconfig":
            chosen[item.name] = (
                SECRET_VALUE
                if "url" not in item.name
                else (f"https://hook:{URL_PASSWORD}@127.0.0.1:9/hook")
            )
    return chosen


def _cases() -> list[object]:
    cases: list[object] = []
    for name in STAGES:
        for item in load(name).inputs:
            cases.append(pytest.param(name, item.name, id=f"{name}-{item.name}"))
    return cases


def _project(tmp_path: Path) -> Path:
    project = init_project(
        tmp_path / "repo",
        {"data.csv": "age,label\n" + "".join(f"{i},{i % 2}\n" for i in range(40))},
    )
    (project / "hostile.bin").write_bytes(b"\xff\xfe\x00::set-output name=pwned::1\n\x80\x81")
    return project


def _github_env(project: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(project),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary"),
        "GITHUB_REPOSITORY": "acme/churn",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_NAME": "main",
        "GITHUB_EVENT_NAME": "push",
        "MLFLOW_TRACKING_URI": CLOSED,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "2",
        "KUBECONFIG": str(project / "no-such-kubeconfig"),
    }


def _gitlab_env(project: Path) -> dict[str, str]:
    return {
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(project),
        "CI_COMMIT_BRANCH": "main",
        "CI_COMMIT_SHA": "0" * 40,
        "MLFLOW_TRACKING_URI": CLOSED,
        "KUBECONFIG": str(project / "no-such-kubeconfig"),
    }


# The only terminal sequences a GitLab log may hold: modelship's own sections.
OUR_SECTION = re.compile(r"\x1b\[0Ksection_(start|end):\d+:modelship_[0-9a-f]{8}\r\x1b\[0K")


def _gitlab_problems(log: str, dotenv: Path, stage: Stage) -> list[str]:
    problems: list[str] = []
    rest = OUR_SECTION.sub("", log)
    if "\x1b" in rest or "\r" in rest:
        problems.append("a raw ESC or CR from a value reached the log")
    if re.search(r"(?i)section_(start|end):", rest):
        problems.append("a value's section marker reached the log")
    if dotenv.exists():
        prefix = f"MODELSHIP_{stage.name.upper()}_"
        allowed = {prefix + o.name.upper().replace("-", "_") for o in stage.outputs}
        with dotenv.open(encoding="utf-8", errors="replace", newline="") as handle:
            names = {line.partition("=")[0] for line in handle.read().split("\n") if line}
        if not names <= allowed:
            problems.append(f"the dotenv holds undeclared names {sorted(names - allowed)}")
    return problems


def _injected_lines(text: str) -> list[str]:
    """Lines outside a stop-commands fence that are workflow commands we did not issue."""
    bad: list[str] = []
    fence: str | None = None
    # The runner reads a line up to \n or \r (as .NET's ReadLine does).
    for line in re.split(r"\r\n|\r|\n", text):
        stripped = line.lstrip()
        if fence is not None:
            if stripped == f"::{fence}::":
                fence = None
            continue
        if stripped.startswith("::stop-commands::"):
            fence = stripped.removeprefix("::stop-commands::")
        if stripped.startswith("##[") or (
            stripped.startswith("::") and not OUR_COMMAND.fullmatch(stripped)
        ):
            bad.append(line)
    return bad


def _everything_written(project: Path, tmp_path: Path) -> str:
    texts = []
    for path in [
        tmp_path / "github_output",
        tmp_path / "step_summary",
        *(project / "modelship-reports").rglob("*"),
        *(project / ".modelship" / "outputs").glob("*"),
    ]:
        if path.is_file():
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(texts)


@pytest.mark.parametrize(("stage_name", "input_name"), _cases())
def test_a_hostile_input_value_never_crashes_injects_or_leaks(
    stage_name: str, input_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MLflow reads its HTTP retry settings from the process environment.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    stage = load(stage_name)
    item: Input = stage.input(input_name)
    project = _project(tmp_path)
    env = _github_env(project, tmp_path)
    declared = {output.name for output in stage.outputs}
    for value in HOSTILE:
        given = "hostile.bin" if value == NON_UTF8 else value
        flags = {**_base_values(stage, project), item.name: given}
        argv = [stage_name, *(arg for name, v in flags.items() for arg in (f"--{name}", v))]
        (tmp_path / "github_output").write_text("")
        run = run_cli(argv, project, env)
        shown = f"{stage_name} --{input_name}={given!r}: exit {run.code}\n{run.stderr[-3000:]}"
        log = run.stdout + "\n" + run.stderr
        assert "Traceback" not in log, shown
        assert run.code in (0, 1, 2, 3), shown
        outputs = parse_github_output((tmp_path / "github_output").read_text())
        assert set(outputs) <= declared, shown
        assert _injected_lines(log) == [], shown
        written = _everything_written(project, tmp_path)
        # The runner consumes `::add-mask::` lines: they are how a value gets masked.
        shown_log = "\n".join(
            line for line in log.splitlines() if not line.startswith("::add-mask::")
        )
        for secret in SECRETS:
            assert secret not in shown_log, f"{secret!r} in the log of {shown}"
            assert secret not in written, f"{secret!r} written by {shown}"
    # GitLab: its log reads ESC/CR sequences and section markers; its dotenv
    # is split on \n only. The values that carry separators and sequences:
    for value in HOSTILE[:7]:
        flags = {**_base_values(stage, project), item.name: value}
        argv = [stage_name, *(arg for name, v in flags.items() for arg in (f"--{name}", v))]
        dotenv = project / "modelship.env"
        dotenv.unlink(missing_ok=True)
        run = run_cli(argv, project, _gitlab_env(project))
        shown = (
            f"GitLab {stage_name} --{input_name}={value!r}: exit {run.code}\n{run.stderr[-3000:]}"
        )
        assert "Traceback" not in run.stderr, shown
        assert run.code in (0, 1, 2, 3), shown
        assert _gitlab_problems(run.stdout + run.stderr, dotenv, stage) == [], shown
