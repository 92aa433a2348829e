"""Errors the zoo raises on purpose, and the CLI exit status each one maps to."""


class ZooError(Exception):
    """A failure while running a recipe (CLI exit status 1)."""

    exit_code = 1


class UsageError(ZooError):
    """Bad input from the user: unknown recipe or key, bad value, bad flag (CLI exit status 2).

    Raised before anything is written, so a usage error never leaves files behind.
    """

    exit_code = 2


class DataError(ZooError):
    """A data file is missing, tampered with, or not what it claims to be."""


class BadDataError(UsageError):
    """The user's data cannot be used as given: a missing column, an undecodable byte, a corrupt image, a label
    the training split never saw (CLI exit status 2). The message names the file and, where it applies, the line
    and the column; it is one line."""


class ExportError(ZooError):
    """An export failed, or failed the validation gate; no version was published."""
