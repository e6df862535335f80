"""Write a drifted sample of the data: what a monitor should flag.

    python drift.py                       # data/validation.csv -> data/current.csv
    python drift.py --shift 0.0           # the same rows, unchanged (no drift)

Stands in for "last week's production traffic": the validation rows with the
size features (radius, perimeter, area) scaled up by `--shift` (default 25 %),
as if a new scanner measured larger. Standard library only, so a monitoring job
needs no project environment.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

SIZE_FEATURES = ("radius", "perimeter", "area")


def drift(source: Path, target: Path, shift: float, seed: int) -> int:
    rng = random.Random(seed)
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    scaled = [f for f in fields if any(word in f for word in SIZE_FEATURES)]
    for row in rows:
        for name in scaled:
            factor = 1.0 + shift * (1.0 + rng.uniform(-0.1, 0.1))
            row[name] = f"{float(row[name]) * factor:.6g}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return len(scaled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("data/validation.csv"))
    parser.add_argument("--out", type=Path, default=Path("data/current.csv"))
    parser.add_argument("--shift", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    changed = drift(args.source, args.out, args.shift, args.seed)
    print(f"drift: {changed} size features scaled by ~{args.shift:+.0%} -> {args.out}")


if __name__ == "__main__":
    main()
