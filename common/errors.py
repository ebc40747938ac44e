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


# How each framework words a failed allocation: PyTorch on the CPU ("DefaultCPUAllocator: can't
# allocate memory") and CUDA ("CUDA out of memory"), MXNet on the CPU ("Failed to allocate CPU
# Memory") and GPU ("cudaMalloc retry failed: out of memory").
_OUT_OF_MEMORY = ("out of memory", "can't allocate memory", "cannot allocate memory", "failed to allocate")


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or any(text in str(exc).lower() for text in _OUT_OF_MEMORY)


def is_overflow(exc: BaseException) -> bool:
    """PyTorch refuses a step size beyond float32's range ("value cannot be converted to type
    float without overflow"); MXNet lets it become inf and the image NaN."""
    return "without overflow" in str(exc)


def one_line(exc: BaseException, limit: int = 200) -> str:
    """A framework's multi-line error (MXNet prints a C++ stack) as its most telling line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # MXNet's message comes after its "Traceback" and "File ..." lines.
    telling = [line for line in lines if not line.startswith(("Traceback", "File ", "[bt]", "Stack trace"))]
    text = (telling or lines or [type(exc).__name__])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."
