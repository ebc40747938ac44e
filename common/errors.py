"""Errors that mean "the input cannot be used" or "the machine ran out", in neutral words.

The core raises these; what to do about them (a line on stderr, an exit status) is the
tooling's business. Each framework's own wording of a failed allocation is translated into
:class:`OutOfMemory` by its backend, so nothing here knows how MXNet or PyTorch say it."""
from __future__ import annotations


class UserError(Exception):
    """Bad input or a missing resource, explained in one sentence."""


class ConfigError(UserError):
    """A setting outside its valid range, worded by the setting's field name
    (``schedule.steps``); the command line says its flag (``--steps``) instead."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field, self.problem = field, problem


class LayerError(UserError):
    """An unknown layer name or index."""


class ImageError(UserError):
    """A missing, unreadable or unusable image, or an unusable size."""


class WeightsError(UserError):
    """Weights that cannot be found, downloaded or read, or that do not fit the network."""


class BackendUnavailable(UserError):
    """A backend whose framework is not installed, fails to import, or lacks the asked device."""


class OutOfMemory(MemoryError):
    """A framework could not allocate memory (its backend translated the framework's own error)."""


class Overflow(ArithmeticError):
    """A step's arithmetic left float32's range where the framework refuses it (PyTorch refuses a
    step size beyond it; MXNet lets the image become inf, which the loop sees as a non-finite loss)."""


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An error's most telling line: frameworks raise multi-line messages (MXNet's carry a C++
    stack trace after a "Traceback" line)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    telling = [line for line in lines if not line.startswith(("Traceback", "File ", "[bt]", "Stack trace"))]
    text = (telling or lines or [type(exc).__name__])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_reason(exc: BaseException) -> str:
    """A failed download in a few words (libraries nest the cause several exceptions deep)."""
    text = str(getattr(exc, "reason", None) or exc)
    if "Name or service not known" in text or "Failed to resolve" in text or "Temporary failure in name" in text:
        return "no network: the host name could not be resolved"
    if "timed out" in text.lower():
        return "the connection timed out"
    return one_line(exc if not getattr(exc, "reason", None) else Exception(text), 160)


def shown(path: object) -> str:
    """A path (or any name from outside) as a one-line message shows it: control and other
    unprintable characters (a newline, an escape sequence, an undecodable byte's surrogate)
    escaped as ``repr`` writes them, so a crafted name can neither split the line nor drive the
    terminal; everything printable, spaces included, stays as it is."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(path))
