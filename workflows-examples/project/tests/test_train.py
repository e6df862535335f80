from pathlib import Path

import pytest
from prepare import TARGET, load_frame, split
from train import add_label_noise, build_model, load_params, score

PARAMS = Path(__file__).resolve().parent.parent / "params.yaml"


def _data():
    train, validation = split(load_frame(), 0.25, seed=42)
    return (
        train.drop(columns=[TARGET]),
        train[TARGET],
        validation.drop(columns=[TARGET]),
        validation[TARGET],
    )


def test_overrides_from_modelship_params_are_typed() -> None:
    params = load_params(PARAMS, {"MODELSHIP_PARAMS": '{"train.C": "0.5", "model": "dummy"}'})
    assert params["C"] == 0.5
    assert params["model"] == "dummy"


def test_unknown_model_is_refused() -> None:
    with pytest.raises(SystemExit, match="train.model"):
        load_params(PARAMS, {"MODELSHIP_PARAMS": '{"train.model": "svm"}'})


def test_the_dummy_knob_makes_a_clearly_worse_model() -> None:
    x_train, y_train, x_val, y_val = _data()
    params = load_params(PARAMS, {})
    good = build_model(params).fit(x_train, y_train)
    worse = build_model({**params, "model": "dummy"}).fit(x_train, y_train)
    good_scores, worse_scores = score(good, x_val, y_val), score(worse, x_val, y_val)
    assert good_scores["accuracy"] > 0.9
    assert good_scores["accuracy"] - worse_scores["accuracy"] > 0.2
    assert worse_scores["roc_auc"] == pytest.approx(0.5)


def test_label_noise_flips_the_requested_share() -> None:
    _, y_train, _, _ = _data()
    noisy = add_label_noise(y_train, 0.3, seed=1)
    flipped = (noisy != y_train).mean()
    assert 0.2 < flipped < 0.4
    assert add_label_noise(y_train, 0.0, seed=1).equals(y_train)
