"""The numbers a fine-tuning run reports, by their formulas: GLUE's F1 of the positive class
for two classes, and which entity types a tagger mistakes for which."""

import os

import numpy as np
import pytest

from pipelines.finetuning_reports import classification_report, type_confusion


def test_two_classes_report_the_positive_class_f1_as_glue_does():
    truth = ["1", "1", "1", "0", "0", "1"]
    guess = ["1", "0", "1", "1", "0", "1"]
    report = classification_report(truth, guess, ("0", "1"), log=lambda _: None)
    # "1": 3 hits, 4 guessed, 4 true: precision 3/4, recall 3/4; "0": 1 hit, 2 guessed, 2 true
    assert report["positive_f1"] == pytest.approx(0.75)
    assert report["f1"] == {"0": pytest.approx(0.5), "1": pytest.approx(0.75)}
    assert report["macro_f1"] == pytest.approx(0.625)
    assert report["accuracy"] == pytest.approx(4 / 6)
    three = classification_report(["a", "b", "c"], ["a", "b", "b"], ("a", "b", "c"), log=print)
    assert "positive_f1" not in three


def test_type_confusion_counts_each_words_true_and_predicted_type(tmp_path):
    truth = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    guess = [["B-PER", "B-LOC", "O", "I-LOC"], ["O"]]  # the last word: no prediction
    report = type_confusion(truth, guess, str(tmp_path), "validation")
    assert report["types"] == ["LOC", "ORG", "PER", "O"]
    matrix = np.array(report["type_confusion"])
    assert matrix.sum() == 6
    assert matrix[0, 0] == 1  # LOC as LOC (B- or I-, the type is what counts)
    assert matrix[2, 0] == 1 and matrix[2, 2] == 1  # PER: once as LOC, once as PER
    assert matrix[1, 3] == 1 and matrix[3, 3] == 2  # ORG missed; O as O twice
    assert report["type_confusion_png"].endswith("entity_confusion_validation.png")
    assert os.path.getsize(report["type_confusion_png"]) > 5_000
