from prepare import TARGET, load_frame, split


def test_split_is_stratified_disjoint_and_complete() -> None:
    frame = load_frame()
    train, validation = split(frame, 0.25, seed=42)
    assert len(train) + len(validation) == len(frame)
    assert set(train.index).isdisjoint(validation.index)
    # Stratified: both parts keep the class balance within two points.
    overall = frame[TARGET].mean()
    assert abs(train[TARGET].mean() - overall) < 0.02
    assert abs(validation[TARGET].mean() - overall) < 0.02


def test_split_is_reproducible() -> None:
    frame = load_frame()
    first, _ = split(frame, 0.25, seed=42)
    second, _ = split(frame, 0.25, seed=42)
    assert first.equals(second)
    third, _ = split(frame, 0.25, seed=43)
    assert not first.equals(third)


def test_feature_names_have_no_spaces() -> None:
    assert not [c for c in load_frame().columns if " " in c]
