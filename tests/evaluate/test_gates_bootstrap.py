"""The rule grammar and the vectorised bootstrap, without services."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from modelship.ci.errors import UsageError
from modelship.evaluation import bootstrap, gates
from modelship.evaluation.bootstrap import Classified

# --- grammar ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown", "relative", "improvement"),
    [
        ("accuracy >= 0.90", "accuracy >= 0.9", False, False),
        ("f1 >= champion - 0.01", "f1 >= champion - 0.01", True, False),
        ("rmse <= champion * 1.05", "rmse <= champion * 1.05", True, False),
        ("f1 >= champion", "f1 >= champion", True, True),
        ("f1>champion+0.01", "f1 > champion + 0.01", True, True),
        ("rmse <= champion * 0.98", "rmse <= champion * 0.98", True, True),
        ("rmse < champion", "rmse < champion", True, True),
        ("mae <= champion + 0.5", "mae <= champion + 0.5", True, False),
        ("roc_auc >= 95%", "roc_auc >= 0.95", False, False),
        ("  r2 >= -1e-3  ", "r2 >= -0.001", False, False),
    ],
)
def test_rules_parse(text: str, shown: str, relative: bool, improvement: bool) -> None:
    rule = gates.parse_rule(text)
    assert str(rule) == shown
    assert rule.relative is relative
    assert rule.asks_improvement is improvement


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        ("accuracy => 0.9", 10, "one of >=, <=, >, <"),
        ("accuracy == 0.9", 10, "one of >=, <=, >, <"),
        ("accuracy >= 0.9x", 13, "a number"),
        ("f1 >= champ", 7, "a number or `champion`"),
        ("f1 >= champion -", 17, "a number"),
        ("f1 >= champion / 2", 16, "+, -, * or the end of the rule"),
        (">= 3", 1, "a metric name"),
        ("f1 >= 0.9 0.8", 11, "the end of the rule"),
        ("f1 >= __import__('os')", 7, "a number or `champion`"),
        ("f1 >= 1e999", 7, "a finite number"),
    ],
)
def test_rule_errors_point_at_the_column(text: str, column: int, expected: str) -> None:
    with pytest.raises(UsageError) as caught:
        gates.parse_rules(f"# header\n\n{text}")
    message = caught.value.message
    assert f"thresholds line 3, column {column}: expected {expected}" in message


def test_comments_blank_lines_and_unknown_metrics() -> None:
    rules = gates.parse_rules("accuracy >= 0.9  # floor\n\n# none\nf1 >= champion\n")
    assert [r.line for r in rules] == [1, 4]
    with pytest.raises(UsageError, match=r"line 2, column 1: unknown metric 'acc'"):
        gates.check_metrics(gates.parse_rules("f1 >= 0.1\nacc >= 0.9"), bootstrap.ALL_METRICS)


def _decide(text: str, cand: float | None, champ: float | None, **kw: object) -> gates.GateResult:
    return gates.decide(
        gates.parse_rule(text),
        candidate=cand,
        champion=champ,
        has_champion=kw.get("has_champion", True),  # type: ignore[arg-type]
        alpha=kw.get("alpha"),  # type: ignore[arg-type]
        samples=kw.get("samples"),  # type: ignore[arg-type]
    )


def test_decisions_fail_closed_on_missing_and_non_finite_values() -> None:
    assert _decide("f1 >= 0.5", None, None).outcome == "fail"
    assert _decide("f1 >= 0.5", math.nan, None).outcome == "fail"
    assert _decide("f1 >= 0.5", math.inf, None).outcome == "fail"
    assert _decide("f1 >= champion - 0.1", 0.9, math.nan).outcome == "fail"
    assert _decide("f1 >= champion - 0.1", 0.9, None).outcome == "fail"
    assert _decide("f1 >= champion", 0.9, None, has_champion=False).outcome == "skipped"
    assert _decide("rmse <= champion * 1.05", 1.04, 1.0).outcome == "pass"
    assert _decide("rmse <= champion * 1.05", 1.06, 1.0).outcome == "fail"
    # An improvement rule with significance on and no resamples cannot pass.
    assert _decide("f1 >= champion", 0.9, 0.8, alpha=0.05).outcome == "fail"


def test_improvement_needs_significance() -> None:
    rng = np.random.default_rng(0)
    champ = rng.normal(0.80, 0.01, 1000)
    clear = (champ + 0.05, champ)
    noisy = (champ + rng.normal(0.001, 0.02, 1000), champ)
    assert _decide("f1 >= champion", 0.85, 0.80, alpha=0.05, samples=clear).outcome == "pass"
    tie = _decide("f1 >= champion", 0.801, 0.80, alpha=0.05, samples=noisy)
    assert tie.outcome == "fail"
    assert tie.p_value is not None
    assert tie.p_value > 0.05
    # Without significance the same tie passes on the point estimate.
    assert _decide("f1 >= champion", 0.801, 0.80).outcome == "pass"


# --- bootstrap -------------------------------------------------------------------------


def _classification(n: int, classes: int, seed: int) -> tuple[np.ndarray, Classified, Classified]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    a = np.where(rng.random(n) < 0.85, y, rng.integers(0, classes, n))
    b = np.where(rng.random(n) < 0.80, y, rng.integers(0, classes, n))
    if classes == 2:
        sa = np.round(rng.random(n) * 0.6 + y * 0.4, 2)  # rounded: ties in the scores
        sb = rng.random(n) * 0.7 + y * 0.3
        return y, Classified(a, sa), Classified(b, sb)
    return y, Classified(a), Classified(b)


@pytest.mark.parametrize("classes", [2, 4])
def test_point_metrics_match_scikit_learn(classes: int) -> None:
    from sklearn import metrics as skm

    y, a, _ = _classification(400, classes, 1)
    ours = bootstrap.classification_metrics(y, a, classes, bootstrap.CLASSIFICATION_METRICS)
    avg = "binary" if classes == 2 else "macro"
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(y, a.labels), abs=1e-12)
    assert ours["precision"] == pytest.approx(
        skm.precision_score(y, a.labels, average=avg), abs=1e-12
    )
    assert ours["recall"] == pytest.approx(skm.recall_score(y, a.labels, average=avg), abs=1e-12)
    assert ours["f1"] == pytest.approx(skm.f1_score(y, a.labels, average=avg), abs=1e-12)
    if classes == 2:
        assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(y, a.scores), abs=1e-12)


def test_regression_metrics_match_scikit_learn() -> None:
    from sklearn import metrics as skm

    rng = np.random.default_rng(2)
    y = rng.normal(100, 5, 300)
    p = y + rng.normal(0, 2, 300)
    ours = bootstrap.regression_metrics(y, p, bootstrap.REGRESSION_METRICS)
    assert ours["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p), rel=1e-10)
    assert ours["mse"] == pytest.approx(skm.mean_squared_error(y, p), rel=1e-10)
    assert ours["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-10)
    assert ours["r2"] == pytest.approx(skm.r2_score(y, p), rel=1e-10)


def _loop_intervals(
    y: np.ndarray, a: Classified, b: Classified, resamples: int
) -> dict[str, np.ndarray]:
    """The straightforward bootstrap: resample rows, recompute scikit-learn metrics."""
    from sklearn import metrics as skm

    rng = np.random.default_rng(123)
    n = y.size
    out: dict[str, list[float]] = {"accuracy": [], "f1": [], "roc_auc": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(resamples):
            idx = rng.integers(0, n, n)
            yy = y[idx]
            for name, fn in (("accuracy", skm.accuracy_score), ("f1", skm.f1_score)):
                out[name].append(fn(yy, a.labels[idx]) - fn(yy, b.labels[idx]))
            assert a.scores is not None
            assert b.scores is not None
            out["roc_auc"].append(
                skm.roc_auc_score(yy, a.scores[idx]) - skm.roc_auc_score(yy, b.scores[idx])
            )
    return {k: np.quantile(v, [0.025, 0.975]) for k, v in out.items()}


def test_vectorised_intervals_agree_with_the_scikit_learn_loop() -> None:
    y, a, b = _classification(600, 2, 3)
    fast = bootstrap.paired_classification(
        y, a, b, 2, bootstrap.CLASSIFICATION_METRICS, resamples=2000, seed=7
    )
    slow = _loop_intervals(y, a, b, 300)
    for name, (low, high) in slow.items():
        ours = np.quantile(fast[name].delta, [0.025, 0.975])
        width = high - low
        # Same interval within Monte-Carlo error: with 300 loop resamples an end
        # of the interval has a standard error of about 4% of its width.
        assert abs(ours[0] - low) < 0.18 * width, name
        assert abs(ours[1] - high) < 0.18 * width, name


def test_chunking_bounds_memory_without_changing_results() -> None:
    y, a, b = _classification(3000, 2, 4)
    names = bootstrap.CLASSIFICATION_METRICS
    whole = bootstrap.paired_classification(y, a, b, 2, names, resamples=64, seed=1)
    # Tiny chunks: one resample at a time. The random stream is consumed in the
    # same order, so the resamples (and the results) are identical.
    chunked = bootstrap.paired_classification(
        y, a, b, 2, names, resamples=64, seed=1, max_elements=1
    )
    for name in names:
        np.testing.assert_array_equal(whole[name].candidate, chunked[name].candidate)
        np.testing.assert_array_equal(whole[name].champion, chunked[name].champion)


def test_identical_models_give_a_zero_delta_and_p_one() -> None:
    y, a, _ = _classification(200, 2, 5)
    samples = bootstrap.paired_classification(
        y, a, a, 2, bootstrap.CLASSIFICATION_METRICS, resamples=300, seed=0
    )
    for name, pair in samples.items():
        stats = bootstrap.summarize(pair, 0.0, 0.05)
        assert stats.ci_low == stats.ci_high == 0.0, name
        assert stats.p_value == 1.0


def test_regression_bootstrap_is_paired() -> None:
    rng = np.random.default_rng(6)
    y = rng.normal(0, 1, 500)
    a = y + rng.normal(0, 0.5, 500)
    b = a + 0.2  # a constant bias: always worse on the same rows
    samples = bootstrap.paired_regression(y, a, b, ["rmse", "mae", "r2"], resamples=500, seed=0)
    assert np.all(samples["rmse"].delta < 0)
    assert np.all(samples["r2"].delta > 0)


def test_roc_auc_is_exact_with_large_tied_groups() -> None:
    """Clipped scores put tens of thousands of rows in one tie: no integer overflow."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(8)
    n = 300_000
    y = rng.integers(0, 2, n)
    scores = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    model = Classified((scores > 0.5).astype(np.int64), scores)
    ours = bootstrap.classification_metrics(y, model, 2, ["roc_auc"])["roc_auc"]
    assert ours == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    other = Classified(model.labels, np.clip(scores + rng.normal(0, 0.05, n), 0, 1))
    resampled = bootstrap.paired_classification(
        y, model, other, 2, ["roc_auc"], resamples=4, seed=0
    )["roc_auc"]
    assert np.all(np.abs(resampled.candidate - ours) < 0.005)


def test_a_bootstrap_of_mostly_undefined_resamples_fails_the_rule() -> None:
    champ = np.full(1000, 0.80)
    clear = champ + 0.05
    mostly_nan = clear.copy()
    mostly_nan[:600] = np.nan  # e.g. roc_auc of resamples that hold one class only
    judged = _decide("f1 >= champion", 0.85, 0.80, alpha=0.05, samples=(mostly_nan, champ))
    assert judged.outcome == "fail"
    assert "600 of 1000 bootstrap resamples of f1 are not finite" in judged.reason
    # A few undefined resamples are left out; the rest still decide.
    some_nan = clear.copy()
    some_nan[:100] = np.nan
    kept = _decide("f1 >= champion", 0.85, 0.80, alpha=0.05, samples=(some_nan, champ))
    assert kept.outcome == "pass"


@pytest.mark.parametrize(
    ("metric", "higher", "shown"),
    [("accuracy", True, "accuracy >= champion"), ("rmse", False, "rmse <= champion")],
)
def test_the_default_champion_rule_asks_for_improvement_in_the_metrics_direction(
    metric: str, higher: bool, shown: str
) -> None:
    rule = gates.default_champion_rule(metric, higher)
    assert str(rule) == shown
    assert rule.label == f"{shown} (default)"
    assert rule.asks_improvement
    worse = 0.5 if higher else 2.0
    judged = gates.decide(
        rule, candidate=worse, champion=1.0, has_champion=True, alpha=None, samples=None
    )
    assert judged.outcome == "fail"
