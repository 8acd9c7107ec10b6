"""Named architectures: one dict of constructor arguments a preset."""

from tf_transformer.errors import InputError


def resolve(presets: dict, name: str, overrides: dict, family: str) -> dict:
    """The preset's arguments updated with `overrides`, or an `InputError` naming the
    known presets."""
    if name not in presets:
        known = ", ".join(sorted(presets))
        raise InputError(f"unknown {family} preset {name!r}; known presets: {known}")
    return {**presets[name], **overrides}
