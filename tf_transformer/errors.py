"""The exception for problems a user can cause and fix (bad file, unknown name, bad value)."""


class InputError(ValueError):
    """A one-line, user-facing problem with the input; the CLI prints it and exits 2."""
