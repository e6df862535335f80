"""Threshold rules: `accuracy >= 0.90`, `f1 >= champion - 0.01`, `rmse <= champion * 1.05`.

One rule a line; blank lines and `#` comments are ignored. The grammar is
small and parsed by hand (never `eval`), so that a typo gets a message with
its line and column instead of running as code:

    rule   := METRIC OP bound
    OP     := ">=" | "<=" | ">" | "<"
    bound  := NUMBER | "champion" [ ("+" | "-" | "*") NUMBER ]
    METRIC := [a-z_][a-z0-9_]*
    NUMBER := [+-]? digits [ "." digits ] [ ("e"|"E") [+-]? digits ] [ "%" ]

A rule that references `champion` is *relative*. A relative rule whose bound
is at least as demanding as the champion itself (`f1 >= champion`,
`f1 > champion + 0.01`, `rmse <= champion * 0.98`) *asks for improvement*:
with a significance level set, it passes only when the paired bootstrap says
the improvement is real. A rule with a tolerance (`f1 >= champion - 0.01`,
`rmse <= champion * 1.05`) is a non-inferiority check on the point estimate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from modelship.ci.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

Op = Literal[">=", "<=", ">", "<"]
Arith = Literal["+", "-", "*"]

RULES_HINT = (
    "write one rule a line, e.g. `accuracy >= 0.90`, `f1 >= champion - 0.01`, "
    "`rmse <= champion * 1.05`"
)

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?%?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Bound:
    """The right-hand side: a number, or `champion` with an optional adjustment."""

    relative: bool
    value: float  # the number, or the operand of the adjustment
    arith: Arith | None = None

    def apply(self, champion: float) -> float:
        if not self.relative:
            return self.value
        if self.arith == "+":
            return champion + self.value
        if self.arith == "-":
            return champion - self.value
        if self.arith == "*":
            return champion * self.value
        return champion

    def apply_array(self, champion: np.ndarray) -> np.ndarray:
        if self.arith == "+":
            return champion + self.value
        if self.arith == "-":
            return champion - self.value
        if self.arith == "*":
            return champion * self.value
        return champion

    def __str__(self) -> str:
        if not self.relative:
            return _fmt(self.value)
        return "champion" if self.arith is None else f"champion {self.arith} {_fmt(self.value)}"


@dataclass(frozen=True)
class Rule:
    metric: str
    op: Op
    bound: Bound
    line: int
    text: str
    # Added by modelship, not written by the user: see `default_champion_rule`.
    default: bool = False

    @property
    def relative(self) -> bool:
        return self.bound.relative

    @property
    def asks_improvement(self) -> bool:
        """True when passing means the candidate must beat the champion."""
        if not self.relative:
            return False
        higher = self.op in (">=", ">")
        arith, value = self.bound.arith, self.bound.value
        if arith is None:
            return True
        if arith == "*":
            return value >= 1 if higher else value <= 1
        margin = value if arith == "+" else -value
        return margin >= 0 if higher else margin <= 0

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound}"

    @property
    def label(self) -> str:
        """The rule as reports show it; the default rule says that it is the default."""
        return f"{self} (default)" if self.default else str(self)


def _fmt(value: float) -> str:
    return f"{value:g}"


class _Scanner:
    def __init__(self, text: str, line: int) -> None:
        self.text = text
        self.line = line
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def error(self, expected: str) -> UsageError:
        self.skip_space()
        if self.pos >= len(self.text):
            found = "the end of the line"
        else:
            found = repr(self.text[self.pos : self.pos + 12])
        return UsageError(
            f"thresholds line {self.line}, column {self.pos + 1}: expected {expected}, "
            f"found {found} in {self.text.strip()!r}",
            RULES_HINT,
        )

    def match(self, pattern: re.Pattern[str]) -> str | None:
        self.skip_space()
        found = pattern.match(self.text, self.pos)
        if not found:
            return None
        self.pos = found.end()
        return found.group(0)

    def literal(self, *options: str) -> str | None:
        self.skip_space()
        for option in options:
            if self.text.startswith(option, self.pos):
                self.pos += len(option)
                return option
        return None

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)


def _number(scanner: _Scanner) -> float:
    start = scanner.pos
    token = scanner.match(_NUMBER)
    if token is None:
        raise scanner.error("a number")
    # A number glued to a name (`0.9x`) is a typo, not `0.9` followed by junk.
    if scanner.pos < len(scanner.text) and (
        scanner.text[scanner.pos].isalnum() or scanner.text[scanner.pos] in "._"
    ):
        scanner.pos = start
        raise scanner.error("a number")
    value = float(token[:-1]) / 100 if token.endswith("%") else float(token)
    if not math.isfinite(value):
        scanner.pos = start
        raise scanner.error("a finite number")
    return value


def parse_rule(text: str, line: int = 1) -> Rule:
    scanner = _Scanner(text, line)
    metric = scanner.match(_NAME)
    if metric is None:
        raise scanner.error("a metric name")
    op = scanner.literal(">=", "<=", ">", "<")
    if op is None:
        raise scanner.error("one of >=, <=, >, <")
    scanner.skip_space()
    word_start = scanner.pos
    word = scanner.match(_NAME)
    if word is not None:
        if word != "champion":
            scanner.pos = word_start
            raise scanner.error("a number or `champion`")
        arith = scanner.literal("+", "-", "*")
        if arith is None:
            if not scanner.at_end():
                raise scanner.error("+, -, * or the end of the rule")
            bound = Bound(relative=True, value=0.0)
        else:
            value = _number(scanner)
            bound = Bound(relative=True, value=value, arith=arith)  # type: ignore[arg-type]
    else:
        bound = Bound(relative=False, value=_number(scanner))
    if not scanner.at_end():
        raise scanner.error("the end of the rule")
    return Rule(metric=metric.lower(), op=op, bound=bound, line=line, text=text.strip())  # type: ignore[arg-type]


def parse_rules(text: str) -> list[Rule]:
    """All rules of the `thresholds` input; the first error stops with its position."""
    rules: list[Rule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        # A comment starts at `#`; rules never contain one.
        content = raw.split("#", 1)[0]
        if not content.strip():
            continue
        rules.append(parse_rule(content, number))
    return rules


def check_metrics(rules: Sequence[Rule], known: Sequence[str]) -> None:
    """Refuse a rule on a metric modelship does not compute."""
    for rule in rules:
        if rule.metric not in known:
            column = rule.text.find(rule.metric) + 1
            raise UsageError(
                f"thresholds line {rule.line}, column {max(column, 1)}: unknown metric "
                f"{rule.metric!r}; known metrics: {', '.join(known)}",
                RULES_HINT,
            )


def compares_with_champion(rules: Sequence[Rule]) -> bool:
    return any(rule.relative for rule in rules)


def default_champion_rule(metric: str, higher_is_better: bool) -> Rule:
    """`<metric> >= champion` (`<=` for an error metric): the gate when no rule compares.

    Without it, a champion and only absolute rules (or none) would let a worse
    candidate through; the gate fails closed instead.
    """
    op: Op = ">=" if higher_is_better else "<="
    text = f"{metric} {op} champion"
    return Rule(metric, op, Bound(relative=True, value=0.0), line=0, text=text, default=True)


# --- deciding ------------------------------------------------------------------

Verdict = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True)
class GateResult:
    rule: Rule
    outcome: Verdict
    reason: str
    candidate: float | None
    champion: float | None
    threshold: float | None
    p_value: float | None = None

    @property
    def passed(self) -> bool:
        return self.outcome != "fail"


def _holds(op: Op, left: float, right: float) -> bool:
    if op == ">=":
        return left >= right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left < right


def improvement_statistic(
    rule: Rule, candidate_samples: np.ndarray, champion_samples: np.ndarray
) -> np.ndarray:
    """`candidate - bound(champion)`, resample by resample."""
    stat: np.ndarray = candidate_samples - rule.bound.apply_array(champion_samples)
    return stat


def unjudgeable_resamples(rule: Rule, samples: tuple[np.ndarray, np.ndarray]) -> str:
    """Why the bootstrap cannot judge the rule, or '' when it can.

    A resample can make a metric undefined (roc_auc of a resample holding one
    class). A few are left out of the test; when most are, what remains is not
    the distribution the test is about, so the rule fails instead.
    """
    import numpy as np

    stat = improvement_statistic(rule, *samples)
    bad = int(stat.size - np.count_nonzero(np.isfinite(stat)))
    if stat.size and 2 * bad <= stat.size:
        return ""
    return (
        f"{bad} of {stat.size} bootstrap resamples of {rule.metric} are not finite: "
        "the improvement cannot be judged (use more validation rows or another metric)"
    )


def improvement_p_value(
    rule: Rule, candidate_samples: np.ndarray, champion_samples: np.ndarray
) -> float:
    """Two-sided percentile-bootstrap p-value of `candidate - bound(champion)`.

    The statistic is computed on the same resamples for both models (paired).
    It is the smallest alpha at which the (1 - alpha) percentile interval of
    the statistic excludes zero: twice the share of resamples on the wrong side.
    """
    import numpy as np

    stat = improvement_statistic(rule, candidate_samples, champion_samples)
    stat = stat[np.isfinite(stat)]
    if stat.size == 0:
        return 1.0
    higher = rule.op in (">=", ">")
    wrong = np.count_nonzero(stat <= 0) if higher else np.count_nonzero(stat >= 0)
    return float(min(1.0, 2.0 * (1 + wrong) / (stat.size + 1)))


def decide(
    rule: Rule,
    *,
    candidate: float | None,
    champion: float | None,
    has_champion: bool,
    alpha: float | None,
    samples: tuple[np.ndarray, np.ndarray] | None,
) -> GateResult:
    """Judge one rule. Missing or non-finite values fail closed."""

    def result(
        outcome: Verdict, reason: str, threshold: float | None = None, p: float | None = None
    ) -> GateResult:
        return GateResult(rule, outcome, reason, candidate, champion, threshold, p)

    if candidate is None:
        return result("fail", f"candidate metric {rule.metric} is missing")
    if not math.isfinite(candidate):
        return result("fail", f"candidate metric {rule.metric} is {candidate}")
    if not rule.relative:
        threshold = rule.bound.value
        ok = _holds(rule.op, candidate, threshold)
        return result(
            "pass" if ok else "fail",
            "" if ok else f"{_fmt(candidate)} {rule.op} {_fmt(threshold)} does not hold",
            threshold,
        )
    if not has_champion:
        return result("skipped", "no champion to compare with")
    if champion is None:
        return result("fail", f"champion metric {rule.metric} is missing")
    if not math.isfinite(champion):
        return result("fail", f"champion metric {rule.metric} is {champion}")
    threshold = rule.bound.apply(champion)
    if not _holds(rule.op, candidate, threshold):
        return result(
            "fail", f"{_fmt(candidate)} {rule.op} {_fmt(threshold)} does not hold", threshold
        )
    if not rule.asks_improvement or alpha is None:
        return result("pass", "", threshold)
    if samples is None:
        return result(
            "fail",
            "no bootstrap samples to test the improvement: set bootstrap-samples "
            "(e.g. 1000) or significance: off",
            threshold,
        )
    unjudgeable = unjudgeable_resamples(rule, samples)
    if unjudgeable:
        return result("fail", unjudgeable, threshold)
    p = improvement_p_value(rule, *samples)
    if p < alpha:
        return result("pass", f"significant, p={p:.3g}", threshold, p)
    return result("fail", f"improvement not significant, p={p:.3g} >= {alpha:g}", threshold, p)
