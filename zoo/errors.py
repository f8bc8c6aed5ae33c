"""User-facing errors: each says what is wrong and how to fix it.

Entry points catch `ZooError` and print its message without a traceback, because these
are mistakes in the user's input, not bugs in lstm-zoo.
"""


class ZooError(Exception):
    """Base class for errors caused by user input (config, data, hyperparameters)."""


class ConfigError(ZooError, ValueError):
    """An invalid config value or an incompatible combination of options (a ValueError too,
    so code that validates plain values, e.g. `pool(..., "median")`, raises the usual type)."""


class DataError(ZooError):
    """A missing, malformed or inconsistent data file."""


class TrainingError(ZooError):
    """Training could not go on (non-finite loss, ...)."""


class InputError(ZooError):
    """Bad input to a trained model (an empty prompt, an out-of-range generation option)."""
