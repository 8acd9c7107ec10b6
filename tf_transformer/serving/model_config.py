"""`models.config`: the `ModelServerConfig` (text format) that serves every exported model
of a root directory with one `tensorflow_model_server --model_config_file=...`."""

import os
import re

from tf_transformer.errors import InputError

CONFIG_FILE = "models.config"


def exported_models(root: str = "saved_models") -> list:
    """The model directories under `root` that hold at least one complete version
    (`<version>/saved_model.pb`), sorted by name."""
    if not os.path.isdir(root):
        raise InputError(f"{root}: no such directory")
    names = []
    for name in sorted(os.listdir(root)):
        directory = os.path.join(root, name)
        if not os.path.isdir(directory):
            continue
        versions = [v for v in os.listdir(directory) if re.fullmatch(r"\d+", v)]
        if any(os.path.isfile(os.path.join(directory, v, "saved_model.pb")) for v in versions):
            names.append(name)
    return names


def model_config_text(names, base_path: str = "/models") -> str:
    """A `ModelServerConfig` with one `model_config_list` entry a model: each served from
    `base_path/<name>` (where the `docker run` line mounts it), newest version first."""
    lines = ["model_config_list {"]
    for name in names:
        lines += [
            "  config {",
            f'    name: "{name}"',
            f'    base_path: "{base_path.rstrip("/")}/{name}"',
            '    model_platform: "tensorflow"',
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_model_config(root: str = "saved_models", base_path: str = "/models") -> tuple:
    """Regenerates `root/models.config` from the models exported under `root` (written to
    a temporary file, then renamed: a server reading it never sees half a file). Returns
    the path and the model names."""
    names = exported_models(root)
    if not names:
        raise InputError(f"{root}: no exported model (no <name>/<version>/saved_model.pb)")
    path = os.path.join(root, CONFIG_FILE)
    staging = path + ".incomplete"
    with open(staging, "w") as handle:
        handle.write(model_config_text(names, base_path))
    os.replace(staging, path)
    return path, names
