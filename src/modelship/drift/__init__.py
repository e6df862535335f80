"""Data drift: loading two data sets and comparing them column by column.

`compare(reference, current, Options(...))` streams both files with pyarrow,
sorts each numeric column once and counts each categorical one, then runs the
chosen test per column (see `modelship.drift.check` for methods and default
thresholds). Imports numpy, scipy and pyarrow: import it inside a stage's `run`.
"""

from __future__ import annotations

from modelship.drift.check import (
    DEFAULT_THRESHOLDS,
    METHODS,
    DriftResult,
    FeatureResult,
    Options,
)
from modelship.drift.check import check as compare
from modelship.drift.load import DataError

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "DataError",
    "DriftResult",
    "FeatureResult",
    "Options",
    "compare",
]
