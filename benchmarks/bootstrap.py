"""Vectorised paired bootstrap vs a straightforward scikit-learn loop.

    python benchmarks/bootstrap.py                   # 1,000,000 rows, 1,000 resamples
    python benchmarks/bootstrap.py --loop-resamples 1000   # no extrapolation (slow)

Binary classification with the default metrics (accuracy, precision, recall,
f1, roc_auc) for a candidate and a champion on the same rows.

1. Speed, on `--rows` rows: modelship's bootstrap runs all `--resamples`. The
   loop (resample row indices, recompute each scikit-learn metric for both
   models) runs `--loop-resamples` of them and is extrapolated linearly, since
   every resample costs the same; the output says so.
2. Agreement, on `--check-rows` rows, where the loop affordably runs all
   `--resamples`: both 95% intervals of every delta side by side, with their
   difference in units of its Monte-Carlo standard error.
3. Agreement on `--rows` too: the mean and spread of the loop's resampled
   deltas against the vectorised distribution.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

from modelship.evaluation import bootstrap
from modelship.evaluation.bootstrap import Classified

METRICS = bootstrap.CLASSIFICATION_METRICS


def make_data(rows: int, seed: int) -> tuple[np.ndarray, Classified, Classified]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    score_a = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    score_b = np.clip(rng.normal(0.37 + 0.27 * y, 0.2), 0, 1)
    return (
        y,
        Classified((score_a > 0.5).astype(np.int64), score_a),
        Classified((score_b > 0.5).astype(np.int64), score_b),
    )


def loop_bootstrap(
    y: np.ndarray, a: Classified, b: Classified, resamples: int, seed: int
) -> dict[str, np.ndarray]:
    """What one would write first: resample indices, call scikit-learn per metric."""
    from sklearn import metrics as skm

    functions = {
        "accuracy": skm.accuracy_score,
        "precision": skm.precision_score,
        "recall": skm.recall_score,
        "f1": skm.f1_score,
    }
    rng = np.random.default_rng(seed)
    n = y.size
    out: dict[str, list[float]] = {name: [] for name in METRICS}
    assert a.scores is not None
    assert b.scores is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(resamples):
            idx = rng.integers(0, n, n)
            yy = y[idx]
            for name, fn in functions.items():
                out[name].append(fn(yy, a.labels[idx]) - fn(yy, b.labels[idx]))
            out["roc_auc"].append(
                skm.roc_auc_score(yy, a.scores[idx]) - skm.roc_auc_score(yy, b.scores[idx])
            )
    return {name: np.asarray(values) for name, values in out.items()}


def quantile_se(samples: np.ndarray, q: float) -> float:
    """Monte-Carlo standard error of a sample quantile (order-statistic formula)."""
    n = samples.size
    h = max(0.005, 1 / math.sqrt(n))
    lo, hi = np.quantile(samples, [max(q - h, 0.0), min(q + h, 1.0)])
    density_inverse = (hi - lo) / (min(q + h, 1.0) - max(q - h, 0.0))
    return float(math.sqrt(q * (1 - q) / n) * density_inverse)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--loop-resamples", type=int, default=20)
    parser.add_argument("--check-rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"# paired bootstrap, binary classification, metrics: {', '.join(METRICS)}")
    y, a, b = make_data(args.rows, args.seed)

    started = time.perf_counter()
    fast = bootstrap.paired_classification(
        y, a, b, 2, METRICS, resamples=args.resamples, seed=args.seed
    )
    fast_s = time.perf_counter() - started

    loop_n = min(args.loop_resamples, args.resamples)
    started = time.perf_counter()
    slow = loop_bootstrap(y, a, b, loop_n, args.seed + 1)
    loop_measured = time.perf_counter() - started
    loop_s = loop_measured / loop_n * args.resamples

    print(f"\n## speed: {args.rows:,} rows, {args.resamples:,} resamples")
    print(f"{'':<28}{'seconds':>12}{'per resample':>16}")
    print(f"{'vectorised (modelship)':<28}{fast_s:>12.1f}{fast_s / args.resamples * 1e3:>13.1f} ms")
    label = "scikit-learn loop" + ("*" if loop_n < args.resamples else "")
    print(f"{label:<28}{loop_s:>12.1f}{loop_s / args.resamples * 1e3:>13.1f} ms")
    print(f"{'ratio (loop / vectorised)':<28}{loop_s / fast_s:>11.1f}x")
    if loop_n < args.resamples:
        print(
            f"* the loop was measured on {loop_n} resamples ({loop_measured:.1f} s) and "
            f"extrapolated linearly to {args.resamples:,}"
        )

    print(f"\n## agreement on {args.rows:,} rows: loop's {loop_n} resamples vs the vectorised ones")
    print(f"{'metric':<10}{'mean fast':>12}{'mean loop':>12}{'z':>7}{'sd fast':>11}{'sd loop':>11}")
    for name in METRICS:
        d_fast, d_slow = fast[name].delta, slow[name]
        sd = float(d_fast.std(ddof=1))
        z = (float(d_slow.mean()) - float(d_fast.mean())) / (sd / math.sqrt(d_slow.size))
        print(
            f"{name:<10}{d_fast.mean():>12.6f}{d_slow.mean():>12.6f}{z:>7.2f}"
            f"{sd:>11.6f}{d_slow.std(ddof=1):>11.6f}"
        )

    rows = args.check_rows
    y2, a2, b2 = make_data(rows, args.seed + 2)
    started = time.perf_counter()
    fast2 = bootstrap.paired_classification(
        y2, a2, b2, 2, METRICS, resamples=args.resamples, seed=args.seed
    )
    fast2_s = time.perf_counter() - started
    started = time.perf_counter()
    slow2 = loop_bootstrap(y2, a2, b2, args.resamples, args.seed + 3)
    slow2_s = time.perf_counter() - started
    print(
        f"\n## 95% intervals on {rows:,} rows, {args.resamples:,} resamples each "
        f"(vectorised {fast2_s:.2f} s, loop {slow2_s:.1f} s: {slow2_s / fast2_s:.0f}x)"
    )
    print(
        f"{'metric':<10}{'vectorised interval':>26}{'loop interval':>26}{'z low':>8}{'z high':>8}"
    )
    worst = 0.0
    for name in METRICS:
        d_fast, d_slow = fast2[name].delta, slow2[name]
        lo_f, hi_f = np.quantile(d_fast, [0.025, 0.975])
        lo_s, hi_s = np.quantile(d_slow, [0.025, 0.975])
        z_lo = (lo_f - lo_s) / math.hypot(quantile_se(d_fast, 0.025), quantile_se(d_slow, 0.025))
        z_hi = (hi_f - hi_s) / math.hypot(quantile_se(d_fast, 0.975), quantile_se(d_slow, 0.975))
        worst = max(worst, abs(z_lo), abs(z_hi))
        print(
            f"{name:<10}{f'[{lo_f:+.5f}, {hi_f:+.5f}]':>26}{f'[{lo_s:+.5f}, {hi_s:+.5f}]':>26}"
            f"{z_lo:>8.2f}{z_hi:>8.2f}"
        )
    verdict = "within" if worst < 3 else "OUTSIDE"
    print(f"largest |z| = {worst:.2f}: the intervals agree {verdict} Monte-Carlo error (|z| < 3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
