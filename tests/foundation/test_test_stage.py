"""The test stage runs a real pytest project and reports what reviewers need."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.harness.checkout import init_project
from tests.harness.cli import run_cli

PASSING = "def test_one():\n    assert 1 + 1 == 2\n\ndef test_two():\n    assert True\n"
FAILING = (
    "def test_ok():\n    assert True\n\ndef test_bad():\n    value = 3\n    assert value == 4\n"
)


def _project(tmp_path: Path, body: str) -> Path:
    return init_project(tmp_path / "proj", {"tests/test_model.py": body})


def _pytest() -> str:
    return f"{sys.executable} -m pytest -q -p no:cacheprovider tests"


def test_passing_suite(tmp_path: Path) -> None:
    project = _project(tmp_path, PASSING)
    run = run_cli(["test", "--json", "--command", _pytest()], project)
    assert run.code == 0, run.stderr
    assert run.outputs == {
        "passed": "true",
        "tests": "2",
        "failures": "0",
        "skipped": "0",
        "junit-path": "reports/junit.xml",
    }
    assert (project / "reports/junit.xml").exists()
    assert "| 2 | 2 | 0 | 0 |" in (project / "modelship-reports/test.md").read_text()


def test_failing_suite_exits_1_and_annotates_the_failure(tmp_path: Path) -> None:
    project = _project(tmp_path, FAILING)
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(project),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    run = run_cli(["test", "--json", "--command", _pytest()], project, env)
    assert run.code == 1
    assert run.outputs["passed"] == "false"
    assert run.outputs["failures"] == "1"
    annotations = [line for line in run.stderr.splitlines() if line.startswith("::error file=")]
    assert any("tests/test_model.py,line=6" in a and "test_bad" in a for a in annotations)
    summary = (tmp_path / "summary.md").read_text()
    assert "test\\_bad" in summary
    assert "1 of 2 tests failed" in run.stderr


def test_output_of_the_tests_is_fenced_on_github(tmp_path: Path) -> None:
    project = _project(
        tmp_path, "def test_x():\n    print('::add-path::/evil')\n    assert False\n"
    )
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(project)}
    run = run_cli(["test", "--command", _pytest() + " -s"], project, env)
    before = run.stderr.split("::add-path::/evil")[0]
    assert "::stop-commands::" in before


def test_no_tests_collected_is_a_failure(tmp_path: Path) -> None:
    project = init_project(tmp_path / "proj", {"tests/test_none.py": "x = 1\n"})
    run = run_cli(["test", "--command", _pytest()], project)
    assert run.code == 1
    assert "no tests ran" in run.stderr


def test_shell_syntax_in_the_command_is_not_interpreted(tmp_path: Path) -> None:
    project = _project(tmp_path, PASSING)
    marker = tmp_path / "pwned"
    run = run_cli(["test", "--command", f'a"; touch {marker}; echo "'], project)
    assert run.code == 2
    assert "command not found" in run.stderr
    assert not marker.exists()


def test_junit_path_outside_the_workspace_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path, PASSING)
    run = run_cli(["test", "--junit-path", "../../etc/junit.xml"], project)
    assert run.code == 2
    assert "outside the workspace" in run.stderr


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuite tests="1"><testcase classname="t" name="bomb">
<failure message="&lol9;">&lol9;</failure></testcase></testsuite>
"""


def _external_entity(secret: Path) -> str:
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE suite [<!ENTITY leak SYSTEM "file://{secret}">]>\n'
        '<testsuite tests="1"><testcase classname="t" name="leak">'
        '<failure message="&leak;">&leak;</failure></testcase></testsuite>\n'
    )


def _writes_junit(tmp_path: Path, xml: str) -> tuple[Path, str]:
    """A project whose test command is a script writing `xml` as its JUnit report."""
    project = init_project(
        tmp_path / "proj",
        {
            "report.xml": xml,
            "write_junit.py": (
                "import os, shutil\nshutil.copy('report.xml', os.environ['MODELSHIP_JUNIT_PATH'])\n"
            ),
        },
    )
    return project, f"{sys.executable} write_junit.py"


def test_a_junit_report_with_an_entity_bomb_is_refused_without_expanding_it(
    tmp_path: Path,
) -> None:
    project, command = _writes_junit(tmp_path, BILLION_LAUGHS)
    run = run_cli(["test", "--command", command], project)
    assert run.code == 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "declares XML entities" in errors[0]
    assert "Traceback" not in run.stderr
    assert "lollol" not in run.stderr + run.stdout


def test_a_junit_report_with_an_external_entity_never_reads_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT\n")
    project, command = _writes_junit(tmp_path, _external_entity(secret))
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(project)}
    run = run_cli(["test", "--command", command], project, env)
    assert run.code == 2
    assert "declares XML entities" in run.stderr
    assert "TOP-SECRET-CONTENT" not in run.stderr + run.stdout
    assert not any(line.startswith("::error file=") for line in run.stderr.splitlines())
