"""Validate GitLab CI files against GitLab's schema (check-jsonschema's vendor.gitlab-ci).

A template with `spec:inputs` is two YAML documents: the spec header and the
body. Each is written to its own file and checked separately; `$[[ inputs.x ]]`
placeholders stay as they are (strings, which the schema accepts where GitLab does).

Usage: python check_gitlab_templates.py FILE...
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import yaml


def main(paths: list[str]) -> int:
    check = Path(sys.executable).with_name("check-jsonschema")
    with tempfile.TemporaryDirectory() as tmp:
        parts: list[str] = []
        for index, name in enumerate(paths):
            documents = list(yaml.safe_load_all(Path(name).read_text(encoding="utf-8")))
            for number, document in enumerate(documents):
                if document is None:
                    continue
                part = Path(tmp) / f"{index}-{number}-{Path(name).stem}.yml"
                part.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
                parts.append(str(part))
        if not parts:
            return 0
        done = subprocess.run(
            [str(check), "--builtin-schema", "vendor.gitlab-ci", *parts], check=False
        )
        return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
