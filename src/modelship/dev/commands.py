"""`modelship dev <command>`."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: modelship dev generate [--check] | modelship dev has-extras EXTRA...")
        return 0 if argv else 2
    if argv[0] == "generate":
        from modelship.dev.generate import main as generate

        return generate(argv[1:])
    if argv[0] == "has-extras":
        from modelship.dev.extras import main as has_extras

        return has_extras(argv[1:])
    print(f"modelship dev: unknown command {argv[0]!r}", file=sys.stderr)
    return 2
