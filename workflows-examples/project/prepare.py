"""Split scikit-learn's breast-cancer data set into train and validation CSV files.

The data set ships inside scikit-learn, so nothing is downloaded. The split is
stratified and seeded (`params.yaml: prepare`), so the same parameters give
byte-identical files, and the same DVC hashes, on every machine.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

TARGET = "target"


def load_frame() -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).frame
    # Feature names without spaces: friendlier in JSON requests and SQL.
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    return frame


def split(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, validation = train_test_split(
        frame, test_size=fraction, random_state=seed, stratify=frame[TARGET]
    )
    return train.sort_index(), validation.sort_index()


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))["prepare"]
    train, validation = split(
        load_frame(), float(params["validation_fraction"]), int(params["seed"])
    )
    out = Path("data")
    out.mkdir(exist_ok=True)
    train.to_csv(out / "train.csv", index=False)
    validation.to_csv(out / "validation.csv", index=False)
    print(f"prepare: {len(train)} training rows, {len(validation)} validation rows")


if __name__ == "__main__":
    main()
