"""Pictures: attention heads (as the tutorial plots them), positional encodings, learning-rate
schedules, training curves and confusion matrices."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(figure, path):
    """Writes `figure` as a PNG at `path`, frees it, returns `path`."""
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_attention_heads(source_tokens, target_tokens, attention, path, title=None):
    """One panel a head: rows are the target tokens, columns the source tokens.

    `attention` is `(heads, len(target_tokens), len(source_tokens))`.
    """
    attention = np.asarray(attention)
    heads = attention.shape[0]
    columns = min(4, heads)
    rows = int(np.ceil(heads / columns))
    size = max(2.5, 0.35 * max(len(source_tokens), len(target_tokens)))
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    for head, axis in enumerate(axes.ravel()):
        if head >= heads:
            axis.axis("off")
            continue
        axis.matshow(attention[head], cmap="viridis", vmin=0.0)
        axis.set_xticks(range(len(source_tokens)))
        axis.set_yticks(range(len(target_tokens)))
        axis.set_xticklabels(source_tokens, rotation=90, fontsize=8)
        axis.set_yticklabels(target_tokens, fontsize=8)
        axis.set_xlabel(f"Head {head + 1} (source tokens)", fontsize=9)
        if head % columns == 0:
            axis.set_ylabel("target tokens", fontsize=9)
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def plot_confusion_matrix(matrix, labels, path, title=None, by_row=False, what="label"):
    """Counts of (true label, predicted label): rows true, columns predicted, each cell
    annotated with its count. `by_row` colours each cell by its share of the row (so that
    a rare class's mistakes show next to a common one's); `what` names the axes."""
    matrix = np.asarray(matrix)
    shade = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if by_row else matrix
    size = max(4.0, 0.5 * len(labels) + 1.5)
    figure, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(shade, cmap="Blues", vmin=0, vmax=1 if by_row else None)
    axis.set_xticks(range(len(labels)))
    axis.set_yticks(range(len(labels)))
    axis.set_xticklabels(labels, rotation=90)
    axis.set_yticklabels(labels)
    axis.set_xlabel(f"predicted {what}")
    axis.set_ylabel(f"true {what}")
    threshold = shade.max() / 2 if shade.size else 0
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            color = "white" if shade[row, column] > threshold else "black"
            axis.text(column, row, str(count), ha="center", va="center", fontsize=7, color=color)
    bar = figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    if by_row:
        bar.set_label("share of the row")
    if title:
        axis.set_title(title, fontsize=10, wrap=True)
    return _save(figure, path)


def plot_learning_curve(curves, path, title=None, subtitle=None):
    """Validation accuracy against the number of labelled examples (log scale), one line a
    start (`curves`: `{name: [(examples, accuracy), ...]}`), each point labelled (above
    the line where it is the best start at that size, below where it is not)."""
    import textwrap

    figure, axis = plt.subplots(figsize=(7, 4.5))
    best = {}
    for points in curves.values():
        for size, accuracy in points:
            best[size] = max(best.get(size, accuracy), accuracy)
    for name, points in curves.items():
        sizes = [size for size, _ in points]
        accuracies = [100 * accuracy for _, accuracy in points]
        axis.plot(sizes, accuracies, marker="o", label=name)
        for (size, accuracy), shown in zip(points, accuracies, strict=True):
            above = accuracy >= best[size]
            axis.annotate(
                f"{shown:.1f}",
                (size, shown),
                textcoords="offset points",
                xytext=(0, 6 if above else -13),
                ha="center",
                fontsize=8,
            )
    axis.set_xscale("log")
    axis.set_xlabel("labelled training examples")
    axis.set_ylabel("validation accuracy (%)")
    axis.grid(True, alpha=0.3)
    axis.legend()
    axis.margins(y=0.12)
    if subtitle:
        figure.suptitle(title or "learning curve")
        axis.set_title(textwrap.fill(subtitle, 100), fontsize=7)
    else:
        axis.set_title(title or "learning curve")
    return _save(figure, path)


def plot_positional_encoding(encoding, path, title=None):
    """The sinusoidal table `(length, depth)` as the tutorial draws it: positions down,
    depth across."""
    encoding = np.asarray(encoding)
    figure, axis = plt.subplots(figsize=(8, 4.5))
    image = axis.pcolormesh(encoding.T, cmap="RdBu", vmin=-1, vmax=1)
    axis.set_xlabel("position")
    axis.set_ylabel("depth (sin on even, cos on odd dimensions)")
    figure.colorbar(image, ax=axis)
    axis.set_title(
        title or f"positional encoding, length {encoding.shape[0]}, depth {encoding.shape[1]}"
    )
    return _save(figure, path)


def plot_learning_rate(steps, rates, path, title=None):
    """A learning-rate schedule: rate against training step."""
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(steps, rates)
    axis.set_xlabel("training step")
    axis.set_ylabel("learning rate")
    axis.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    axis.grid(alpha=0.3)
    if title:
        axis.set_title(title)
    return _save(figure, path)


def plot_training_curves(history, path, title=None):
    """A run's `history.json` (`{metric: [per epoch]}`): one panel a metric, training and
    validation (`val_` prefix) together."""
    names = sorted({key.removeprefix("val_") for key in history if key != "learning_rate"})
    if not names:
        raise ValueError("the history has no metrics")
    figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.5), squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            if key in history:
                values = history[key]
                axis.plot(range(1, len(values) + 1), values, marker="o", label=label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    return _save(figure, path)
