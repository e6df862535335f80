"""`modelship dev has-extras EXTRA...`: is this installation enough for a stage?

The install step of the GitLab templates skips installing only when the
`modelship` already on the job's PATH can run the stage: the suite image has
every extra, but an image (or a shared virtualenv) with a bare `modelship`
must still get the extra the stage needs.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

# The modules each extra of pyproject.toml brings, as the stages import them.
EXTRA_MODULES = {
    "data": ("dvc",),
    "mlflow": ("mlflow", "sklearn", "pandas", "numpy"),
    "image": ("docker",),
    "kube": ("kubernetes", "kubernetes_validate"),
    "monitor": ("numpy", "pandas", "pyarrow", "scipy", "prometheus_client"),
}


def missing_modules(extras: Sequence[str]) -> list[str]:
    """The modules of `extras` that this interpreter cannot import."""
    wanted = [module for extra in extras for module in EXTRA_MODULES[extra]]
    return [module for module in dict.fromkeys(wanted) if importlib.util.find_spec(module) is None]


def main(argv: Sequence[str]) -> int:
    unknown = [extra for extra in argv if extra not in EXTRA_MODULES]
    if unknown:
        print(
            f"error: unknown extra {unknown[0]!r}; choose from {', '.join(EXTRA_MODULES)}",
            file=sys.stderr,
        )
        return 2
    return 1 if missing_modules(argv) else 0
