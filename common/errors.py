"""Errors that mean "the user asked for something that cannot be done": the command line
prints such an error as one line on stderr and exits with status 2, never a traceback."""


class UserError(Exception):
    """Bad input or a missing resource, explained in one sentence."""


class LayerError(UserError):
    """An unknown VGG-19 layer name or index."""


class ImageError(UserError):
    """A missing, unreadable or unusable image file, or an unusable size."""


class WeightsError(UserError):
    """Weights that cannot be found, downloaded, read or that do not fit VGG-19."""


class BackendUnavailable(UserError):
    """A backend whose framework is not installed, fails to import, or lacks the asked device."""


class ConfigError(UserError):
    """A setting outside its valid range (steps, learning rate, weights, ...)."""
