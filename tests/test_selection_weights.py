"""The sentence-selection weights are the fitted ones (bench/fit_selection.py), and the fit was worth it."""

import json

from medora.answer import select
from medora.answer.select import FEATURES, FITTED_WEIGHTS_FILE, HAND_WEIGHTS, WEIGHTS, SelectionWeights


def test_default_weights_are_the_fitted_ones():
    fitted = json.loads(FITTED_WEIGHTS_FILE.read_text())["fitted"]
    assert set(fitted) == set(FEATURES)
    assert {name: getattr(WEIGHTS, name) for name in FEATURES} == fitted
    assert fitted != HAND_WEIGHTS


def test_the_stored_fit_beats_the_hand_weights_on_held_out_questions():
    report = json.loads(FITTED_WEIGHTS_FILE.read_text())
    for subset in ("held_out.medquad", "held_out.medicationqa"):
        hand, fitted = report[subset]["hand"], report[subset]["fitted"]
        assert fitted["n"] == hand["n"] > 0
        assert fitted["mrr"] > hand["mrr"], subset
    assert report["questions"]["held_out"]["medquad"] >= 50  # not a fit judged on a handful


def test_missing_or_broken_weights_file_falls_back_to_the_hand_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(select, "FITTED_WEIGHTS_FILE", tmp_path / "absent.json")
    assert select._fitted_weights() == HAND_WEIGHTS
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    monkeypatch.setattr(select, "FITTED_WEIGHTS_FILE", broken)
    assert select._fitted_weights() == HAND_WEIGHTS
    assert SelectionWeights(**{**HAND_WEIGHTS, "plain_source": 0.1}).score({"meaning": 1.0}) == HAND_WEIGHTS["meaning"]
