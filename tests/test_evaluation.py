"""Confusion-analysis helpers on small arrays the tests make."""

import numpy as np
import pytest

from fmnist_utils.report import evaluation

NAMES = ["a", "b", "c"]


def test_confused_pairs_counts_only_mistakes_most_frequent_first():
    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([1, 1, 0, 2, 1, 0])
    pairs = evaluation.confused_pairs(y, pred, NAMES)
    assert pairs.to_dict("records") == [{"true": "a", "predicted": "b", "count": 2},
                                        {"true": "b", "predicted": "c", "count": 1},
                                        {"true": "c", "predicted": "a", "count": 1}]


def test_calibration_error_is_zero_when_confidence_matches_accuracy_and_the_gap_otherwise():
    y = np.array([0, 0, 1, 1])
    half = np.array([[0.5, 0.5]] * 4)  # argmax 0: right on half the images, confidence 0.5
    assert evaluation.expected_calibration_error(y, half) == pytest.approx(0.0)
    overconfident = np.array([[0.9, 0.1]] * 4)  # confidence 0.9, accuracy 0.5
    assert evaluation.expected_calibration_error(y, overconfident) == pytest.approx(0.4)
    curve = evaluation.reliability_curve(y, overconfident)
    assert curve.to_dict("records") == [{"confidence": pytest.approx(0.9), "accuracy": 0.5, "images": 4}]


def test_calibration_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="proba must be"):
        evaluation.expected_calibration_error(np.zeros(3), np.zeros((4, 2)))


def test_mcnemar_counts_discordant_images_and_tests_them():
    y = np.zeros(30, dtype=int)
    a = np.zeros(30, dtype=int)  # A always right
    b = np.r_[np.ones(12, dtype=int), np.zeros(18, dtype=int)]  # B wrong on 12
    result = evaluation.mcnemar_test(y, a, b)
    assert (result["only_a_right"], result["only_b_right"]) == (12, 0)
    assert result["p_value"] == pytest.approx(2 * 0.5**12)
    assert evaluation.mcnemar_test(y, a, a)["p_value"] == 1.0
    with pytest.raises(ValueError, match="equal lengths"):
        evaluation.mcnemar_test(y, a, b[:5])


def test_welch_p_of_made_up_runs():
    from scipy import stats

    a = [{"val_accuracy": v} for v in (0.90, 0.91, 0.92)]
    b = [{"val_accuracy": v} for v in (0.80, 0.82, 0.84, 0.86)]
    expected = stats.ttest_ind([0.90, 0.91, 0.92], [0.80, 0.82, 0.84, 0.86], equal_var=False).pvalue
    assert evaluation.welch_p(a, b, "val_accuracy") == pytest.approx(expected)
    assert evaluation.welch_p(a, b, "val_accuracy") < 0.05
    assert evaluation.welch_p(a, [{"val_accuracy": v} for v in (0.89, 0.91, 0.93)], "val_accuracy") > 0.5
