"""Errors the user can cause. Each carries a one-line message fit to show as it is."""


class RnnvizError(Exception):
    """Base class: bad input that the CLI reports in one line (exit code 2) and the GUI in a dialog."""


class CorpusError(RnnvizError):
    """A text file or built-in corpus that cannot be used."""


class CheckpointError(RnnvizError):
    """A model file that cannot be read or written."""


class ConfigError(RnnvizError):
    """A hyperparameter or option out of range."""


class VocabError(RnnvizError):
    """Input that is not in a model's vocabulary."""


class ModelError(RnnvizError):
    """A model whose numbers cannot be used (e.g. non-finite outputs after divergence)."""
