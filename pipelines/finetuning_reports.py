"""How a fine-tuned BERT is reported: accuracy, macro-F1 and confusion matrices of a
classifier, per-tag F1 of a tagger, and the learning curve (validation accuracy against
the number of labelled examples, pretrained and from random weights)."""

import dataclasses
import math
import os

import numpy as np

from pipelines.corpora import example_key, stable_subset
from tf_transformer.serving import bert as bert_serving
from tf_transformer.serving.client import strings
from tf_transformer.serving.entities import is_iob

CURVE_MIN_STEPS = 200  # a curve point trains at least this many steps


def _in_batches(predictor, texts, batch_size=256):
    return [predictor.predict(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]


def evaluate_splits(predictor, corpus, run_dir, log=print):
    """The test split's report (the validation split's without a test split), with the
    validation split's under "validation"; each names its split."""
    validation = evaluate_task(predictor, corpus, "validation", run_dir, log)
    if not corpus.test:
        return validation
    return {**evaluate_task(predictor, corpus, "test", run_dir, log), "validation": validation}


def evaluate_task(predictor, corpus, split, run_dir, log=print):
    examples = corpus.split(split)
    if isinstance(predictor, bert_serving.TextClassifier):
        texts = [text for text, _ in examples]
        predicted = [
            label for out in _in_batches(predictor, texts) for label in strings(out["label"])
        ]
        truth = [label for _, label in examples]
        return classification_report(truth, predicted, corpus.labels, run_dir, log, split)
    texts = [" ".join(tokens) for tokens, _ in examples]
    predicted = []
    for out in _in_batches(predictor, texts):
        predicted.extend([tag for tag in row if tag] for row in strings(out["tags"]))
    truth = [list(tags) for _, tags in examples]
    report = {**tagging_report(truth, predicted, corpus.labels, log, split=split), "split": split}
    report["decoding"] = predictor.decoding
    log(f"{split} tags: {predictor.decoding}")
    if is_iob(corpus.labels):
        report["entities"] = entity_report(truth, predicted, log, split)
        report["entities"].update(type_confusion(truth, predicted, run_dir, split))
    return report


def classification_report(truth, predicted, labels, run_dir=None, log=print, split="test"):
    """Accuracy, macro-F1 (the mean over labels of each label's F1), each label's F1 (and
    for two labels, `positive_f1`: the second's, as GLUE reports MRPC's) and the
    confusion matrix (rows true, columns predicted) of label strings; with `run_dir`, the
    matrix is also drawn there (`confusion_matrix.png`, `confusion_matrix_validation.png`
    for the validation split)."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros([len(labels), len(labels)], dtype=int)
    for true, guess in zip(truth, predicted, strict=True):
        matrix[index[true], index[guess]] += 1
    accuracy = float(np.trace(matrix) / max(matrix.sum(), 1))
    hits, guessed, actual = np.diag(matrix), matrix.sum(axis=0), matrix.sum(axis=1)
    f1 = np.where(guessed + actual > 0, 2 * hits / np.maximum(guessed + actual, 1), 0.0)
    macro = float(f1[actual > 0].mean()) if (actual > 0).any() else 0.0
    report = {"split": split, "examples": len(truth), "accuracy": accuracy, "macro_f1": macro}
    report.update(labels=list(labels), confusion_matrix=matrix.tolist())
    report["f1"] = {label: float(value) for label, value in zip(labels, f1, strict=True)}
    positive = ""
    if len(labels) == 2:  # GLUE's F1 for two classes: of the second (sorted) label, e.g. "1"
        report["positive_f1"] = float(f1[1])
        positive = f", F1 of {labels[1]!r} {100 * f1[1]:.1f}"
    if run_dir:
        from tf_transformer.plotting import plot_confusion_matrix

        name = "confusion_matrix.png" if split == "test" else f"confusion_matrix_{split}.png"
        path = os.path.join(run_dir, name)
        title = f"{split}: accuracy {100 * accuracy:.1f}%, macro-F1 {100 * macro:.1f}"
        plot_confusion_matrix(matrix, labels, path, title=title)
        report["confusion_matrix_png"] = path
    log(
        f"{split} accuracy {100 * accuracy:.1f}%, macro-F1 {100 * macro:.1f}{positive} "
        f"on {len(truth):,} texts"
    )
    return report


def tagging_report(truth, predicted, labels, log=print, outside="O", split="test"):
    """Word-level precision, recall and F1 per tag, and the macro F1 over the tags other
    than `outside` (the usual score for tagging: "no tag" is not averaged in)."""
    counts = {label: [0, 0, 0] for label in labels}  # true positive, predicted, true
    for true_row, guess_row in zip(truth, predicted, strict=True):
        guess_row = list(guess_row) + [""] * (len(true_row) - len(guess_row))
        for true, guess in zip(true_row, guess_row, strict=False):
            counts[true][2] += 1
            if guess in counts:
                counts[guess][1] += 1
            if guess == true:
                counts[true][0] += 1
    per_label = {}
    for label, (hits, guessed, actual) in counts.items():
        precision = hits / guessed if guessed else 0.0
        recall = hits / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": actual}
    scored = [label for label in labels if label != outside and counts[label][2]]
    macro = float(np.mean([per_label[label]["f1"] for label in scored])) if scored else 0.0
    log(f"{split} macro F1 {100 * macro:.1f} over {len(scored)} tags ({len(truth):,} texts)")
    return {"examples": len(truth), "macro_f1": macro, "per_label": per_label}


def learning_curve(config, corpus, runs, fine_tune, run_dir, log=print) -> dict:
    """Validation accuracy of the same fine-tuning (each of `runs`: `(name, directory,
    origin)`) on each of `config.learning_curve`'s numbers of labelled examples (a stable
    subset, smaller inside larger; sizes not below the training split's are left to the
    run itself), into `run_dir/curve/<size>/<name>/`. A point trains `config.epochs`
    epochs of its examples, or of more steps to reach `CURVE_MIN_STEPS` in all (a small
    subset goes round more often). Returns `{name: {size: accuracy}}`."""
    if not config.learning_curve:
        return {}
    if config.task != "classify":
        raise ValueError("a learning curve is drawn for classification")
    points = {name: {} for name, _, _ in runs}
    for size in sorted(n for n in config.learning_curve if n < len(corpus.train)):
        subset = dataclasses.replace(corpus, train=stable_subset(corpus.train, size, example_key))
        steps = max(math.ceil(size / config.batch_size), -(-CURVE_MIN_STEPS // config.epochs))
        point = dataclasses.replace(
            config, steps_per_epoch=steps, train_limit=size, learning_curve=None
        )
        for name, _, origin in runs:
            directory = os.path.join(run_dir, "curve", str(size), name)
            log(
                f"learning curve: {size:,} labelled examples, {config.epochs} epochs of "
                f"{steps} steps, from {name}"
            )
            predictor = fine_tune(origin, directory, subset, point)
            report = evaluate_task(predictor, subset, "validation", None, log)
            points[name][size] = report["accuracy"]
    return points


def curve_report(points, metrics, corpus, run_dir, log=print) -> dict:
    """The curve's points with the run's own (all its labelled examples) added, drawn as
    `learning_curve.png`."""
    from tf_transformer.plotting import plot_learning_curve

    for name, report in metrics.items():
        if name in points:
            validation = report.get("validation", report)
            points[name][len(corpus.train)] = validation["accuracy"]
    curves = {name: sorted(sizes.items()) for name, sizes in points.items()}
    path = plot_learning_curve(
        curves,
        os.path.join(run_dir, "learning_curve.png"),
        title="validation accuracy against labelled examples",
        subtitle=corpus.spec,
    )
    log(f"learning curve: {path}")
    return {"points": {name: dict(sizes) for name, sizes in curves.items()}, "png": path}


def entity_type(tag) -> str:
    """The entity type of an IOB tag (`B-PER`, `I-PER`: `PER`); `O` for `O` or no tag."""
    return tag[2:] if tag[:2] in ("B-", "I-") else "O"


def type_confusion(truth, predicted, run_dir=None, split="test") -> dict:
    """Word by word, the entity type of the true tag against the predicted one's (`O`
    last): which types the tagger mistakes for which, and for no entity. With `run_dir`,
    drawn as `entity_confusion.png` (`entity_confusion_<split>.png` but for test)."""
    pairs = [
        (entity_type(true), entity_type(guess))
        for true_row, guess_row in zip(truth, predicted, strict=True)
        for true, guess in zip(true_row, list(guess_row) + [""] * len(true_row), strict=False)
    ]
    types = sorted({kind for pair in pairs for kind in pair} - {"O"}) + ["O"]
    index = {kind: i for i, kind in enumerate(types)}
    matrix = np.zeros([len(types), len(types)], dtype=int)
    for true, guess in pairs:
        matrix[index[true], index[guess]] += 1
    report = {"types": types, "type_confusion": matrix.tolist()}
    if run_dir:
        from tf_transformer.plotting import plot_confusion_matrix

        name = "entity_confusion.png" if split == "test" else f"entity_confusion_{split}.png"
        title = f"{split}: entity type of each word"
        report["type_confusion_png"] = plot_confusion_matrix(
            matrix, types, os.path.join(run_dir, name), title, by_row=True, what="type"
        )
    return report


def entity_report(truth, predicted, log=print, split="test"):
    """Entity-level precision, recall and F1 per type and overall (micro-averaged), as the
    CoNLL shared task's `conlleval` counts them (an entity is right only with its type and
    both ends right), through `seqeval`. A word without a prediction counts as `O`."""
    from seqeval.metrics import classification_report as seqeval_report

    guesses = [
        [tag or "O" for tag in guess] + ["O"] * (len(true) - len(guess))
        for true, guess in zip(truth, predicted, strict=True)
    ]
    scores = seqeval_report(truth, guesses, output_dict=True, zero_division=0)

    def plain(values):
        return {
            "precision": float(values["precision"]),
            "recall": float(values["recall"]),
            "f1": float(values["f1-score"]),
            "support": int(values["support"]),
        }

    overall = plain(scores["micro avg"])
    per_type = {name: plain(v) for name, v in scores.items() if not name.endswith(" avg")}
    log(
        f"{split} entity F1 {100 * overall['f1']:.1f} (precision {100 * overall['precision']:.1f}, "
        f"recall {100 * overall['recall']:.1f}) over {overall['support']:,} entities: "
        + ", ".join(f"{name} {100 * v['f1']:.1f}" for name, v in sorted(per_type.items()))
    )
    return {**overall, "per_type": per_type}
