"""Pictures: attention heads (as the tutorial plots them)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


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
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
